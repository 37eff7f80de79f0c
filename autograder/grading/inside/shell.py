"""An IPython shell without a Jupyter kernel: runs notebook cells and records their outputs.

Both the student kernel and the tester run cells with it. It keeps IPython's semantics (magics,
``get_ipython()``, input transformers, the display machinery, ``%matplotlib inline``) and turns what
a cell prints, displays, returns and raises into nbformat outputs, capped in size so that a cell that
prints without end cannot fill the grader's memory or the autograded notebook.
"""
from __future__ import annotations

import io
import sys

__all__ = ["OutputLimits", "CellCapture", "make_shell", "run_cell"]


class OutputLimits:
    def __init__(self, cell_bytes: int = 200_000, image_bytes: int = 1_500_000):
        self.cell_bytes = cell_bytes
        self.image_bytes = image_bytes


class CellCapture:
    """The outputs of one cell, as nbformat output dicts."""

    def __init__(self, limits: OutputLimits):
        self.limits = limits
        self.outputs: list[dict] = []
        self.size = 0
        self.dropped = 0
        self.error: dict | None = None

    def _room(self, n: int) -> int:
        return max(0, self.limits.cell_bytes - self.size) if n else 0

    def stream(self, name: str, text: str) -> None:
        if not isinstance(text, str):
            text = str(text)
        room = self._room(len(text))
        if len(text) > room:
            self.dropped += len(text) - room
            text = text[:room]
        if not text:
            return
        self.size += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last.get("output_type") == "stream" and last.get("name") == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def _bundle(self, data) -> dict:
        out = {}
        if not isinstance(data, dict):
            return out
        for mime, value in data.items():
            if not isinstance(mime, str):
                continue
            if isinstance(value, bytes):
                continue
            if not isinstance(value, (str, dict, list)):
                value = str(value)
            n = len(value) if isinstance(value, str) else len(str(value))
            limit = self.limits.image_bytes if mime.startswith("image/") else self._room(n)
            if n > limit or self.size + n > self.limits.cell_bytes + self.limits.image_bytes:
                self.dropped += n
                continue
            self.size += n
            out[mime] = value
        return out

    def display(self, data, metadata=None) -> None:
        bundle = self._bundle(data)
        if bundle:
            self.outputs.append({"output_type": "display_data", "data": bundle,
                                 "metadata": metadata if isinstance(metadata, dict) else {}})

    def result(self, data, metadata, count) -> None:
        bundle = self._bundle(data)
        if bundle:
            self.outputs.append({"output_type": "execute_result", "data": bundle,
                                 "metadata": metadata if isinstance(metadata, dict) else {},
                                 "execution_count": count})

    def fail(self, ename: str, evalue: str, traceback: list[str]) -> None:
        tb = [str(line)[:5000] for line in (traceback or [])][-60:]
        self.error = {"output_type": "error", "ename": str(ename)[:200], "evalue": str(evalue)[:5000],
                      "traceback": tb}
        self.outputs.append(self.error)

    def clear(self) -> None:
        self.outputs = [o for o in self.outputs if o.get("output_type") == "error"]

    def finish(self) -> list[dict]:
        if self.dropped:
            self.outputs.append({"output_type": "stream", "name": "stdout",
                                 "text": f"\n[grader: {self.dropped} more characters of output were dropped]\n"})
        return self.outputs


_CURRENT: list[CellCapture] = []


def _current() -> CellCapture | None:
    return _CURRENT[-1] if _CURRENT else None


class _Stream(io.TextIOBase):
    def __init__(self, name: str):
        self.name = name

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        cap = _current()
        if cap is not None:
            cap.stream(self.name, text if isinstance(text, str) else str(text))
        return len(text) if isinstance(text, str) else 0

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self):
        return "utf-8"


_GRADER_FILES = "/autograder/grading/"


def clean_traceback(stb: list[str], evalue=None) -> list[str]:
    """A traceback without the grader's own frames, followed by where the student kernel raised the
    error (when it came from there): what a learner needs to see."""
    out = [block for block in stb if _GRADER_FILES not in str(block)]
    remote = getattr(evalue, "remote_traceback", None) if evalue is not None else None
    if isinstance(remote, str) and remote.strip():
        keep, skip = [], False
        for line in remote.splitlines():
            if line.startswith("  File "):
                skip = _GRADER_FILES in line
            elif not line.startswith("    "):
                skip = False
            if not skip:
                keep.append(line)
        if keep:
            out.append("\nRaised by the submission's code:\n" + "\n".join(keep))
    return out


def make_shell(colors: str = "nocolor"):
    """The process's IPython shell (created once)."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    class GraderDisplayHook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            cap = _current()
            if cap is not None:
                cap.result(format_dict, md_dict, self.shell.execution_count)

        def finish_displayhook(self):
            pass

    class GraderDisplayPublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            cap = _current()
            if cap is not None:
                cap.display(data, metadata)

        def clear_output(self, wait=False):
            cap = _current()
            if cap is not None:
                cap.clear()

    class GraderShell(InteractiveShell):
        displayhook_class = Type(GraderDisplayHook)
        display_pub_class = Type(GraderDisplayPublisher)

        def _showtraceback(self, etype, evalue, stb):
            cap = _current()
            if cap is not None:
                name = getattr(etype, "__name__", str(etype))
                try:
                    value = str(evalue)
                except Exception:
                    value = "<unprintable>"
                cap.fail(name, value, clean_traceback(list(stb) if isinstance(stb, (list, tuple)) else [str(stb)],
                                                      evalue))

        def enable_gui(self, gui=None):
            pass

        def init_virtualenv(self):
            pass

    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.HistoryManager.hist_file = ":memory:"
    cfg.InteractiveShell.colors = colors
    cfg.InteractiveShell.xmode = "Context"
    cfg.InteractiveShell.autocall = 0
    cfg.InteractiveShell.automagic = True
    shell = GraderShell.instance(config=cfg)
    shell.user_ns["__name__"] = "__main__"
    return shell


def run_cell(shell, source: str, limits: OutputLimits, guard=None) -> CellCapture:
    """Run ``source`` in ``shell`` and return its capture (outputs, error)."""
    cap = CellCapture(limits)
    _CURRENT.append(cap)
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Stream("stdout"), _Stream("stderr")
    try:
        if guard is not None:
            with guard:
                shell.run_cell(source, store_history=True, silent=False)
        else:
            shell.run_cell(source, store_history=True, silent=False)
    except BaseException as e:  # noqa: BLE001 - e.g. KeyboardInterrupt raised outside run_cell's own handler
        cap.fail(type(e).__name__, str(e), [f"{type(e).__name__}: {e}"])
    finally:
        sys.stdout, sys.stderr = old
        _CURRENT.pop()
    return cap

