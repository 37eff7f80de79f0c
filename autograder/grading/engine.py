"""Grading one submission: an independent job from a submission folder to a result record.

:func:`grade_submission` takes an :class:`AssignmentSpec` (plain data: the gradebook's record of the
assignment's cells, the instructor's notebook, the files handed to students) and one student's
submission folder, and returns a JSON-serialisable record: the autograded notebook(s), the score of
every graded cell, flags for review and timings. It does not touch the gradebook, so it can run in a
process pool here or on another machine; the caller records results (:mod:`.gradebook`).

For each notebook:

1. the file is found (also under a wrong name, recognised by its nbgrader cell ids) and read
   (an empty, truncated or old-format file gets a clear flag);
2. it is sanitised with nbgrader's own preprocessors against the gradebook's record: outputs cleared,
   duplicate ids removed, locked and test cells restored to their recorded source (hidden tests come
   back), points and cell types reset, deleted test cells re-inserted;
3. a *student kernel* (:mod:`.kernel`, in the sandbox of :mod:`.sandbox`) runs every cell except the
   test cells, in order, each within the cell time limit, the whole within the notebook limit, under a
   memory cap; a kernel that dies is restarted and the cells that ran before are replayed;
4. each test cell runs in a *tester* forked from a zygote that ran the instructor's notebook: the test
   sees the student's names as proxies (:mod:`.remote`) and decides pass or fail in its own process;
5. scores follow nbgrader's rules (``utils.determine_grade``: an error scores 0, a number is partial
   credit) after the course's ``IgnorePattern`` and ``LimitOutput``.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import cgroup, sandbox, tripwire
from .sandbox import Isolation, Limits
from .wire import Channel, ChannelClosed, ProtocolError

__all__ = ["ENGINE_VERSION", "NotebookSpec", "AssignmentSpec", "grade_submission", "Flag",
           "shutdown_workers_cache"]

# The version of what grading a submission yields. It enters every result's input hash
# (grade.input_hash) and every calibration's digest, so a resumed run regrades what an older engine
# graded instead of mixing its verdicts with new ones: raise it whenever a change can alter a score,
# a flag or the graded notebook of some submission. 2: neutralised graded notebooks, linked files
# refused, control groups, the reference trip-wire and similarity to the reference, parsing limits
# (notebook_too_large, too_many_cells, notebook_too_complex).
ENGINE_VERSION = "2"
REVIEW = "review"
INFO = "info"


# ============================================================================ specs (plain data)
@dataclass
class NotebookSpec:
    """One notebook of an assignment as the gradebook records it."""

    name: str
    source_path: str                      # the instructor's notebook (solutions and hidden tests)
    cells: dict[str, dict]                # grade_id -> cell_type, locked, source, checksum, grade,
    order: list[str]                      #   solution, task, points; order = source order
    kernelspec: dict | None = None
    unsealed: list[str] = field(default_factory=list)   # test cells graded in the kernel
    benign_violations: list[str] = field(default_factory=list)  # what the instructor's notebook does too

    @property
    def grade_ids(self) -> list[str]:
        return [g for g in self.order if self.cells[g].get("grade")]

    @property
    def max_score(self) -> float:
        return sum(float(self.cells[g].get("points") or 0) for g in self.grade_ids)


@dataclass
class AssignmentSpec:
    """What the grader needs to know about an assignment (JSON-serialisable, no database)."""

    name: str
    notebooks: list[NotebookSpec]
    source_dir: str                       # instructor's folder: the tester runs there
    release_dir: str | None = None        # files handed to students (copied next to the submission)
    ignore_pattern: str | None = r"[\s\S]"
    max_lines: int = 1000
    max_traceback: int = 100
    mode: str = "grade"                   # "grade" or "check" (a student's self-check)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AssignmentSpec":
        d = dict(d)
        d["notebooks"] = [NotebookSpec(**n) for n in d["notebooks"]]
        return cls(**d)

    def digest(self) -> str:
        h = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode())
        for nb in self.notebooks:
            try:
                h.update(Path(nb.source_path).read_bytes())
            except OSError:
                pass
        h.update(ENGINE_VERSION.encode())
        return h.hexdigest()[:20]


def Flag(code: str, message: str, level: str = REVIEW, cell: str | None = None) -> dict:
    out = {"code": code, "message": message, "level": level}
    if cell:
        out["cell"] = cell
    return out


# ============================================================================ reading and sanitising
class _Snapshot:
    """The part of nbgrader's Gradebook API that its sanitising preprocessors use, backed by a spec."""

    class _Obj:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    def __init__(self, spec: NotebookSpec):
        self.spec = spec
        cells = spec.cells
        self._source = {g: self._Obj(name=g, cell_type=c["cell_type"], locked=bool(c.get("locked")),
                                     source=c["source"], checksum=c.get("checksum"))
                        for g, c in cells.items()}
        self._graded = {g: self._Obj(name=g, max_score=float(c.get("points") or 0), cell_type=c["cell_type"])
                        for g, c in cells.items() if c.get("grade")}
        self._nb = self._Obj(
            source_cells=[self._source[g] for g in spec.order],
            grade_cells=[self._graded[g] for g in spec.order if g in self._graded],
            solution_cells=[self._source[g] for g in spec.order if cells[g].get("solution")],
            task_cells=[self._graded.get(g) or self._Obj(name=g, max_score=float(cells[g].get("points") or 0))
                        for g in spec.order if cells[g].get("task")],
            kernelspec=json.dumps(spec.kernelspec) if spec.kernelspec else None)

    def find_source_cell(self, name, notebook, assignment):
        from nbgrader.api import MissingEntry
        if name not in self._source:
            raise MissingEntry()
        return self._source[name]

    def find_graded_cell(self, name, notebook, assignment):
        from nbgrader.api import MissingEntry
        if name not in self._graded:
            raise MissingEntry()
        return self._graded[name]

    def find_notebook(self, notebook, assignment):
        return self._nb

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        try:
            self.messages.append(record.getMessage())
        except Exception:
            pass


def read_submission(path: Path, max_bytes: int = Limits.notebook_mb << 20,
                    max_cells: int = Limits.max_cells) -> tuple[object | None, list[dict]]:
    """Read a notebook file; return (notebook or None, flags).

    A file over ``max_bytes`` is not read at all, one whose JSON nests or branches beyond a notebook's
    (:mod:`.jsonlimits`) is not parsed, and one with more than ``max_cells`` cells is not
    validated or converted (nbformat's validation of a 300k-cell notebook takes minutes and GBs in the
    grading worker, outside any sandbox): both are flagged and score 0, and the batch goes on."""
    flags: list[dict] = []
    if path.is_symlink():
        return None, [Flag("linked_file", f"{path.name} is a symbolic link; links are never followed, so it "
                                          "was not graded")]
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, [Flag("notebook_too_large", f"{path.name} is {size / 2 ** 20:.1f} MiB, more than the "
                                                     f"{max_bytes / 2 ** 20:.0f} MiB a notebook may have; it was "
                                                     "not graded")]
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        return None, [Flag("unreadable_file", f"{path.name} could not be read: {e}")]
    if len(raw) > max_bytes:
        return None, [Flag("notebook_too_large", f"{path.name} is more than the {max_bytes / 2 ** 20:.0f} MiB "
                                                 "a notebook may have; it was not graded")]
    if not raw.strip():
        return None, [Flag("empty_file", f"{path.name} is empty (0 bytes of notebook)")]
    from .jsonlimits import refusal

    why = refusal(raw)
    if why:
        return None, [Flag("notebook_too_complex", f"{path.name}: {why}; it was not parsed or graded")]
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as e:
        return None, [Flag("invalid_json", f"{path.name} is not valid notebook JSON ({str(e)[:200]}); the file is "
                                            "probably truncated or was edited outside Jupyter")]
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        return None, [Flag("not_a_notebook", f"{path.name} is JSON but not a notebook")]
    cells = data.get("cells")
    if not isinstance(cells, list):
        sheets = data.get("worksheets")
        cells = [c for w in sheets if isinstance(w, dict) for c in (w.get("cells") or [])] \
            if isinstance(sheets, list) else []
    if len(cells) > max_cells:
        return None, [Flag("too_many_cells", f"{path.name} has {len(cells)} cells, more than the {max_cells} a "
                                             "notebook may have; it was not graded")]
    major = data.get("nbformat", 4)
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as e:
        return None, [Flag("invalid_notebook", f"{path.name} could not be read as a notebook: {e}")]
    if isinstance(major, int) and major < 4:
        flags.append(Flag("old_nbformat", f"{path.name} was saved in nbformat {major}; it was converted "
                                          "to nbformat 4 for grading", level=INFO))
    for cell in nb.cells:
        cell.setdefault("metadata", {})
        if cell.cell_type == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    return nb, flags


def _grade_ids_of(nb) -> set[str]:
    out = set()
    for cell in getattr(nb, "cells", []):
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            out.add(meta["grade_id"])
    return out


def find_notebook_file(folder: Path, spec: NotebookSpec, taken: set[str]) -> tuple[Path | None, list[dict]]:
    """The submitted file of notebook ``spec``: by name, else the ``.ipynb`` whose cell ids match best."""
    exact = folder / f"{spec.name}.ipynb"
    if exact.exists():
        return exact, []
    best, best_score = None, 0
    ids = set(spec.cells)
    for cand in sorted(folder.glob("*.ipynb")) + sorted(folder.glob("*/*.ipynb")):
        if cand.name in taken or ".ipynb_checkpoints" in cand.parts:
            continue
        if cand.is_symlink() or cand.parent.is_symlink():      # never follow a link out of the submission
            continue
        nb, _ = read_submission(cand)
        score = len(_grade_ids_of(nb) & ids) if nb is not None else 0
        if score > best_score:
            best, best_score = cand, score
    if best is not None and best_score >= max(1, len(ids) // 3):
        return best, [Flag("renamed_notebook", f"no {spec.name}.ipynb was submitted; {best.name} holds its "
                                               f"cells ({best_score} of {len(ids)} nbgrader ids) and was "
                                               "graded in its place", level=INFO)]
    return None, [Flag("missing_notebook", f"{spec.name}.ipynb was not submitted")]


def _repair_metadata(nb, spec: NotebookSpec, flags: list[dict]) -> None:
    """Make the nbgrader metadata valid before nbgrader's own checks run (a student could corrupt it)."""
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    validator = MetadataValidator()
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {})
        if "nbgrader" not in meta:
            continue
        nbg = meta.get("nbgrader")
        gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
        if isinstance(gid, str) and gid not in spec.cells and isinstance(nbg, dict) and (
                nbg.get("grade") or nbg.get("solution") or nbg.get("locked") or nbg.get("task")):
            del meta["nbgrader"]            # a cell the gradebook does not know (e.g. a forged grade cell)
            flags.append(Flag("unknown_cell_id", f"cell {gid!r} is not in the gradebook; its nbgrader "
                                                 "metadata was removed and it was not graded", cell=gid))
            continue
        try:
            if not isinstance(nbg, dict):
                raise ValidationError("not a dict")
            validator.upgrade_cell_metadata(cell)
            validator.validate_cell(cell)
        except Exception:
            if isinstance(gid, str) and gid in spec.cells:
                src = spec.cells[gid]
                meta["nbgrader"] = {"grade": bool(src.get("grade")), "solution": bool(src.get("solution")),
                                    "locked": bool(src.get("locked")), "grade_id": gid,
                                    "schema_version": 3, "task": bool(src.get("task"))}
                if src.get("grade") or src.get("task"):
                    meta["nbgrader"]["points"] = float(src.get("points") or 0)
                if src.get("cell_type") != cell.cell_type:
                    cell.cell_type = src.get("cell_type")
                flags.append(Flag("metadata_edited", f"the nbgrader metadata of cell {gid} was invalid and "
                                                     "was restored from the gradebook", cell=gid))
            else:
                del meta["nbgrader"]
                flags.append(Flag("metadata_edited", f"cell {i} had invalid nbgrader metadata; it was removed"))


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in str(text).strip().splitlines())


def released_source(source: str) -> str:
    """What ``generate_assignment`` hands out for a cell: its hidden-test region removed."""
    lines, out, inside = str(source).split("\n"), [], False
    for line in lines:
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "END HIDDEN TESTS" in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def sanitize(nb, spec: NotebookSpec, assignment: str) -> tuple[object, list[dict]]:
    """nbgrader's autograde sanitising (ClearOutput, DeduplicateIds, OverwriteKernelspec,
    OverwriteCells with missing cells added back, CheckCellMetadata) against the spec."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells

    flags: list[dict] = []
    _repair_metadata(nb, spec, flags)
    known_grade = set(spec.grade_ids)
    before = _grade_ids_of(nb)
    submitted = {}
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if isinstance(gid, str) and gid not in submitted:
            submitted[gid] = cell.source if isinstance(cell.source, str) else ""
    capture = _LogCapture()
    resources = {"nbgrader": {"notebook": spec.name, "assignment": assignment, "db_url": "snapshot://"}}

    class _Overwrite(OverwriteCells):
        def preprocess(self, nb_, res):
            self.notebook_id = spec.name
            self.assignment_id = assignment
            self.gradebook = _Snapshot(spec)
            nb_, res = super(OverwriteCells, self).preprocess(nb_, res)
            return self._add_missing(nb_), res

        def _add_missing(self, nb_):
            present = {}
            for idx, cell in enumerate(nb_.cells):
                gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
                if gid:
                    present[gid] = idx
            for gid in spec.order:
                c = spec.cells[gid]
                if gid in present or not (c.get("grade") or c.get("task")):
                    continue
                src = self.gradebook.find_source_cell(gid, spec.name, assignment)
                new = self.missing_cell_transform(src, float(c.get("points") or 0),
                                                  is_solution=bool(c.get("solution")), is_task=bool(c.get("task")))
                # after the nearest earlier cell of the source that is present
                pos = 0
                for prev in spec.order[: spec.order.index(gid)]:
                    if prev in present:
                        pos = present[prev] + 1
                nb_.cells.insert(pos, new)
                present = {k: (v + 1 if v >= pos else v) for k, v in present.items()}
                present[gid] = pos
            return nb_

    for pp in (ClearOutput(), DeduplicateIds(), _Overwrite(), CheckCellMetadata()):
        pp.log.addHandler(capture)
        pp.log.propagate = False
        try:
            nb, resources = pp.preprocess(nb, resources)
        finally:
            pp.log.removeHandler(capture)
    if spec.kernelspec:
        nb.metadata["kernelspec"] = spec.kernelspec
    for msg in capture.messages:
        if "has changed" in msg and "'checksum'" not in msg:
            what = "points" if "'points'" in msg else "cell type" if "'cell_type'" in msg else \
                "locked status" if "'locked'" in msg else "metadata"
            gid = msg.split("for cell ")[-1].split(" ")[0] if "for cell " in msg else None
            flags.append(Flag(f"edited_{what.replace(' ', '_')}", f"cell {gid}: its {what} was edited; it was "
                                                                  "restored from the gradebook", cell=gid))
        elif "does not exist in the database" in msg:
            flags.append(Flag("unknown_cell_id", msg + " (its nbgrader metadata was removed)"))
        elif "exists multiple times" in msg:
            flags.append(Flag("duplicate_cell_id", msg + " (only the last copy is graded)"))
    for gid, text in submitted.items():
        c = spec.cells.get(gid)
        if c is None or not c.get("locked"):
            continue
        if _norm(text) not in (_norm(c["source"]), _norm(released_source(c["source"]))):
            flags.append(Flag("edited_locked_cell", f"the locked cell {gid} was edited; the gradebook's "
                                                    "version was graded instead", cell=gid))
    missing = [g for g in spec.order if g in known_grade and g not in before]
    for gid in missing:
        flags.append(Flag("restored_missing_cell", f"graded cell {gid} was missing from the submission "
                                                   "and was added back", cell=gid))
    return nb, flags


# ============================================================================ processes
def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo and len(seen) < 4096:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total / 1024


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _stop_zygote(proc: subprocess.Popen, sock: socket.socket, log) -> None:
    """Ask a zygote to exit ("X" on its socket), kill its process tree if it does not within 3 s, and
    close its socket and log file."""
    try:
        sock.send(b"X")
    except OSError:
        pass
    try:
        proc.wait(timeout=3)
    except Exception:
        pass
    if proc.poll() is None:
        _kill_tree(proc.pid)
        try:
            proc.wait(timeout=5)
        except Exception:
            pass
    try:
        sock.close()
        log.close()
    except Exception:
        pass


def _kill_tree(pid: int) -> None:
    for p in reversed(_tree(pid)):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


class KernelStartError(RuntimeError):
    pass


_MPL_CACHE: list[str | None] = []


def _mpl_font_cache() -> str | None:
    """A matplotlib font cache built once per machine and user, copied into each kernel's config dir
    (so that no kernel spends seconds rebuilding it)."""
    if _MPL_CACHE:
        return _MPL_CACHE[0]
    d = Path(tempfile.gettempdir()) / f"autograder-mpl-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"
    if not any(d.glob("fontlist*.json")):
        d.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], timeout=300,
                           env={"MPLCONFIGDIR": str(d), "PATH": os.environ.get("PATH", "")}, capture_output=True)
        except Exception:
            pass
    _MPL_CACHE.append(str(d) if any(d.glob("fontlist*.json")) else None)
    return _MPL_CACHE[0]


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:120]
    except OSError:
        return ""


def _host_pid(root: int, inner: int) -> int | None:
    """The pid, as this process sees it, of the process below ``root`` that is ``inner`` in its own
    PID namespace (a kernel inside bubblewrap)."""
    for p in _tree(root):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        parts = line.split()
                        if len(parts) > 2 and int(parts[-1]) == inner:
                            return p
        except (OSError, ValueError):
            continue
    return None


def _kernel_ident(iso: Isolation) -> tuple[int, int] | None:
    """The unprivileged user the kernels run as (None: the grader is not root, or, below bubblewrap,
    the Python installation is not readable by other users)."""
    ident = sandbox.kernel_identity()
    if ident is None or iso.level == "bwrap":
        return ident
    import autograder

    need = [os.path.dirname(os.path.realpath(sys.executable)), sys.prefix, sys.base_prefix,
            os.path.dirname(os.path.dirname(os.path.abspath(autograder.__file__)))]
    return ident if sandbox.reachable_by_others(need) is None else None


def _open_parents(workdir: Path) -> None:
    """Let the kernel's user pass through the grader's temporary folders above its own folder."""
    top = Path(tempfile.gettempdir()).resolve()
    for d in Path(workdir).resolve().parents:
        if d == top or top not in d.parents:
            break
        try:
            st = d.stat()
            if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
                os.chmod(d, (st.st_mode & 0o7777) | 0o011)
        except OSError:
            pass


def _ident_note(iso: Isolation) -> str | None:
    """Why the kernels run as the grader's own user, when they do as root."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or _kernel_ident(iso) is not None:
        return None
    import autograder

    need = [os.path.dirname(os.path.realpath(sys.executable)), sys.prefix, sys.base_prefix,
            os.path.dirname(os.path.dirname(os.path.abspath(autograder.__file__)))]
    return (f"the student kernels run as root without capabilities: {sandbox.reachable_by_others(need)} "
            "(above the Python installation) is closed to other users, so an unprivileged kernel could "
            "not run Python; bubblewrap does not have this limit")


class StudentKernel:
    """The sandboxed process that runs a submission's cells (see :mod:`.kernel`).

    Started on its own (``direct``), or forked from a :class:`KernelZygote` (``zygote``): the fork
    skips the imports and the start-up, and the child applies the same sandbox before any cell."""

    def __init__(self, workdir: Path, iso: Isolation, limits: Limits, logdir: Path,
                 preload: list[str] | None = None, zygote: "KernelZygote | None" = None,
                 tripwire: dict | None = None):
        self.workdir = workdir
        self.limits = limits
        self.iso = iso
        self.proc = None
        self.zygote = zygote
        self.group: cgroup.Group | None = None
        self.kernel_pid: int | None = None
        self.quota_mounted = zygote is not None and zygote.quota_error is None
        self._watched = 0.0
        self._reported: set[str] = set()
        ctl_parent, ctl_child = socket.socketpair()
        self.rpc_for_tester, rpc_child = socket.socketpair()
        env = sandbox.student_env(workdir, limits)
        cache = _mpl_font_cache()
        if cache:
            for f in Path(cache).glob("fontlist*.json"):
                shutil.copy(f, Path(env["MPLCONFIGDIR"]) / f.name)
        self.ident = zygote.ident if zygote is not None else _kernel_ident(iso)
        sandbox.hand_over(workdir, self.ident)
        if self.ident is not None and iso.level != "bwrap":
            _open_parents(workdir)
        read, write = sandbox.allowed_roots(workdir)
        init = {"workdir": str(workdir), "level": iso.level, "landlock_abi": iso.landlock_abi,
                "userns": iso.userns and iso.level == "landlock", "read": read, "write": write,
                "limits": limits.as_dict(), "preload": list(preload or []), "audit": True, "env": env,
                "cpu_seconds": int(limits.notebook_timeout * max(1, limits.threads) * 2 + 120)}
        if tripwire:
            init["tripwire"] = tripwire          # reference answers withheld per exercise (.tripwire)
        if self.ident is not None:
            init["uid"], init["gid"] = self.ident
        self.applied: list[str] = []
        self.outside: list[str] = []              # protections held by the grader, outside the kernel
        self.memory_exceeded = False
        try:
            self.group = cgroup.Group(memory_bytes=self.memory_limit_bytes(), tasks=limits.extra_processes + 64,
                                      cpus=max(1, limits.threads))
            self.outside.append(f"control group ({self.group.kind}): {limits.extra_processes + 64} tasks, "
                                f"{self.memory_limit_bytes() >> 20} MiB, {max(1, limits.threads)} CPU")
        except OSError as e:
            self.group_error = str(e)
        self._ctl_sock = ctl_parent
        self.ctl = Channel(ctl_parent.fileno())
        self.log_path = (zygote.log_path if zygote else logdir / f"kernel-{int(time.time() * 1000)}.log")
        self._log = None
        try:
            if zygote is not None:
                self.pid = zygote.fork(ctl_child, rpc_child, init)
                if self.group is not None:      # before it runs any cell: the child waits for one
                    self.group.add(self.pid)
                ctl_child.close()
                rpc_child.close()
            else:
                argv = [sys.executable, "-I", "-m", "autograder.grading.kernel", "student",
                        str(ctl_child.fileno()), str(rpc_child.fileno())]
                cmd = sandbox.build_command(argv, workdir, iso, env, ident=self.ident)
                self._log = open(self.log_path, "wb")
                self.proc = subprocess.Popen(cmd, pass_fds=(ctl_child.fileno(), rpc_child.fileno()),
                                             env=env if iso.level != "bwrap" else {"PATH": "/usr/bin:/bin"},
                                             cwd=str(workdir), stdin=subprocess.DEVNULL, stdout=self._log,
                                             stderr=subprocess.STDOUT, start_new_session=True,
                                             preexec_fn=self.group.add_self if self.group is not None else None)
                self.pid = self.proc.pid
                ctl_child.close()
                rpc_child.close()
                self.ctl.send(init)
            msg, _ = self.ctl.recv(timeout=180)
            if not msg.get("ready"):
                raise KernelStartError("the student kernel did not start")
            self.applied = list(msg.get("applied", []))
            self.kernel_pid = self.pid
            if self.proc is not None and iso.level == "bwrap":
                self.kernel_pid = _host_pid(self.proc.pid, int(msg.get("pid", -1))) or self.pid
            self.applied += self.outside
        except (ChannelClosed, TimeoutError, ProtocolError, OSError, KeyError, subprocess.SubprocessError) as e:
            self.kill()
            raise KernelStartError(f"the student kernel did not start ({type(e).__name__}: {e}); "
                                   f"log: {self.log_tail()}") from None
        self._next = 0

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return _pid_alive(getattr(self, "pid", -1))

    def exit_code(self):
        return self.proc.poll() if self.proc is not None else None

    def pids(self) -> list[int]:
        """Every process of the kernel: its control group (also what left its process tree), else its
        process tree."""
        if self.group is not None:
            return self.group.procs()
        pid = getattr(self, "pid", None)
        return _tree(pid) if pid else []

    def memory_cap_mb(self) -> float:
        return self.limits.memory_mb * 1.25 + 512

    def memory_limit_bytes(self) -> int:
        """The control group's hard limit: the watchdog's cap plus the tmpfs folder (its pages are
        charged to the group) and some room for the watchdog to act first."""
        return int(self.memory_cap_mb() + self.limits.disk_mb + 256) << 20

    def memory_mb(self) -> float:
        if self.group is not None:
            return self.group.memory_bytes() / 2 ** 20
        return _rss_mb(self.pids())

    def check_memory(self) -> bool:
        """False (and the kernel killed) when it, with every process it started, holds far more
        than its cap."""
        if self.memory_mb() > self.memory_cap_mb():
            self.memory_exceeded = True
            self.kill()
            return False
        return True

    def _own_pids(self) -> set[int]:
        """The kernel process and the bubblewrap processes above it (its legitimate processes)."""
        own, p = set(), self.kernel_pid
        members = set(self.group.procs()) if self.group is not None else set()
        while p and p > 1 and (not own or p in members):
            own.add(p)
            p = _ppid(p)
        return own

    def watch(self, force: bool = False) -> list[tuple[str, str]]:
        """What the kernel did that its own process cannot hide, seen from here: processes besides
        the kernel in its group (killed at once), forks refused at the task limit, processes the memory
        limit killed, a full disk quota. Returns (code, message) pairs not reported before; code
        ``violation`` goes with the sandbox violations, the others are flags of their own."""
        now = time.monotonic()
        if not force and now - self._watched < 0.2:
            return []
        self._watched = now
        found: list[tuple[str, str]] = []
        if self.group is not None and self.kernel_pid:
            own = self._own_pids()
            stray = [p for p in self.group.procs() if p not in own]
            if stray:
                names = [f"{_cmdline(p) or _comm(p) or '?'}" for p in stray[:5]]
                self.group.kill(keep=own)
                found.append(("violation", f"started {len(stray)} process(es) outside the kernel, seen by "
                                           f"the grader and killed: {', '.join(names)}"))
            ev = self.group.events()
            if ev.get("pids_max"):
                found.append(("process_limit", f"the kernel tried to run more than "
                                               f"{self.limits.extra_processes + 64} tasks; forks were refused"))
            if ev.get("oom_kill"):
                found.append(("memory_limit", "the kernel's control group reached its memory limit and "
                                              "the system killed a process in it"))
        if self.workdir is not None:
            quota = self.limits.disk_mb << 20
            if self.quota_mounted:
                try:
                    st = os.statvfs(self.workdir)
                    if st.f_bavail * st.f_frsize < (1 << 20):
                        found.append(("disk_quota", f"the kernel filled its folder's quota of "
                                                    f"{self.limits.disk_mb} MiB; further writes failed"))
                except OSError:
                    pass
            elif force or now - getattr(self, "_du_at", 0.0) > 1.0:
                self._du_at = now
                if sandbox.folder_bytes(self.workdir, stop_at=quota) > quota:
                    found.append(("disk_quota", f"the kernel wrote more than its quota of "
                                                f"{self.limits.disk_mb} MiB; it was stopped"))
                    self.kill()
        out = []
        for code, text in found:
            key = code if code != "violation" else text
            if key not in self._reported:
                self._reported.add(key)
                out.append((code, text))
        return out

    def interrupt(self) -> None:
        for p in self.pids():
            if self.proc is not None and p == self.proc.pid and self.iso.level == "bwrap":
                continue
            if _comm(p) == "bwrap":
                continue
            try:
                os.kill(p, signal.SIGINT)
            except OSError:
                pass

    def kill(self) -> None:
        pid = getattr(self, "pid", None)
        if self.group is not None:
            self.group.kill()                  # the kernel and whatever it started, also detached
        if pid and self.alive():
            _kill_tree(pid)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except Exception:
                pass
        else:
            for _ in range(100):
                if not pid or not _pid_alive(pid):
                    break
                time.sleep(0.02)
        for s in (getattr(self, "_ctl_sock", None), self.rpc_for_tester):
            try:
                s.close()
            except Exception:
                pass
        try:
            if self._log:
                self._log.close()
        except Exception:
            pass

    def send_run(self, source: str) -> int:
        self._next += 1
        self.ctl.send({"q": "run", "id": self._next, "src": source})
        return self._next

    def close(self) -> None:
        try:
            self.ctl.send({"q": "exit"})
            if self.proc is not None:
                self.proc.wait(timeout=3)
        except Exception:
            pass
        self.kill()
        if self.group is not None:
            self.group.remove()


class KernelZygote:
    """A student-kernel template per worker: Python, IPython and the notebook's imports loaded once
    (inside bubblewrap when that is the isolation); one child is forked per submission and applies
    its own sandbox. No submission code ever runs in the zygote itself."""

    def __init__(self, iso: Isolation, limits: Limits, preload: list[str]):
        self.key = (iso.level, tuple(preload), limits.threads, limits.disk_mb)
        self.iso = iso
        self.ident = _kernel_ident(iso)
        self.scratch = Path(tempfile.mkdtemp(prefix=f"ag-kz-{os.getpid()}-"))   # pid: see release_scratch_of
        # one kernel at a time runs from a zygote, and each folder is deleted before the next kernel
        # starts: a tmpfs of the quota's size on the zygote's scratch bounds each kernel's writes
        # (mounted before bubblewrap starts: later mounts would not reach into its namespace)
        self.quota_error = sandbox.mount_quota(self.scratch, limits.disk_mb + 16, self.ident)
        os.chmod(self.scratch, 0o711)
        base = self.scratch / "base"
        base.mkdir()
        env = sandbox.student_env(base, limits)
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")  # see kernel.py
        cache = _mpl_font_cache()
        if cache:
            for f in Path(cache).glob("fontlist*.json"):
                shutil.copy(f, Path(env["MPLCONFIGDIR"]) / f.name)
        sandbox.hand_over(base, self.ident)
        parent, child = socket.socketpair()
        argv = [sys.executable, "-I", "-m", "autograder.grading.kernel", "student-zygote", str(child.fileno())]
        cmd = sandbox.build_command(argv, self.scratch, iso, env, ident=self.ident)
        self.log_path = self.scratch.parent / f"{self.scratch.name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, pass_fds=(child.fileno(),),
                                     env=env if iso.level != "bwrap" else {"PATH": "/usr/bin:/bin"},
                                     cwd=str(base), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        child.close()
        self.sock = parent
        self.ch = Channel(parent.fileno())
        self._n = 0
        try:
            self.ch.send({"preload": list(preload), "threads": limits.threads,
                          "uid": self.ident[0] if self.ident else None, "gid": self.ident[1] if self.ident else None})
            msg, _ = self.ch.recv(timeout=300)
            if not msg.get("ready"):
                raise KernelStartError("no ready")
        except Exception as e:
            self.close()
            raise KernelStartError(f"the student-kernel zygote did not start ({e}); {self._tail()}") from None

    def _tail(self) -> str:
        try:
            return self.log_path.read_bytes()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def new_workdir(self) -> Path:
        self._n += 1
        wd = self.scratch / f"sub{self._n}" / "work"
        wd.mkdir(parents=True)
        os.chmod(wd.parent, 0o711)
        return wd

    def fork(self, ctl_child: socket.socket, rpc_child: socket.socket, init: dict) -> int:
        socket.send_fds(self.sock, [b"F"], [ctl_child.fileno(), rpc_child.fileno()])
        self.ch.send(init)
        msg, _ = self.ch.recv(timeout=60)
        inner = int(msg["pid"])
        if self.iso.level != "bwrap":
            return inner
        for _ in range(50):                      # the child's pid as this process sees it
            for p in _tree(self.proc.pid):
                try:
                    with open(f"/proc/{p}/status") as f:
                        for line in f:
                            if line.startswith("NSpid:") and int(line.split()[-1]) == inner \
                                    and len(line.split()) > 2:
                                return p
                except (OSError, ValueError):
                    continue
            time.sleep(0.02)
        raise KernelStartError("the forked kernel could not be found")

    def close(self) -> None:
        _stop_zygote(self.proc, self.sock, self._log)
        sandbox.unmount_quota(self.scratch)
        shutil.rmtree(self.scratch, ignore_errors=True)
        try:
            self.log_path.unlink()
        except OSError:
            pass


_KERNEL_ZYGOTES: dict[tuple, KernelZygote] = {}


def release_scratch_of(pid: int) -> None:
    """Unmount and delete the kernel-zygote folders (and their quota tmpfs) of grading process ``pid``,
    once it is gone (a worker killed at its job's time limit cannot do it itself)."""
    for d in Path(tempfile.gettempdir()).glob(f"ag-kz-{int(pid)}-*"):
        sandbox.unmount_quota(d)
        shutil.rmtree(d, ignore_errors=True)
        try:
            (d.parent / f"{d.name}.log").unlink()
        except OSError:
            pass


def _at_exit() -> None:
    try:
        shutdown_workers_cache()
    except Exception:
        pass


import atexit  # noqa: E402

atexit.register(_at_exit)


def _kernel_zygote_for(iso: Isolation, limits: Limits, preload: list[str]) -> KernelZygote | None:
    """This worker's kernel zygote for these imports (None where forking is not an option)."""
    if not sys.platform.startswith("linux") or os.environ.get("AUTOGRADER_NO_ZYGOTE"):
        return None
    key = (iso.level, tuple(preload), limits.threads, limits.disk_mb)
    z = _KERNEL_ZYGOTES.get(key)
    if z is not None and z.alive():
        return z
    for k in list(_KERNEL_ZYGOTES):
        _KERNEL_ZYGOTES.pop(k).close()
    z = KernelZygote(iso, limits, preload)
    _KERNEL_ZYGOTES[key] = z
    return z


class Zygote:
    """The instructor's notebook run once; testers fork from it (one per submission)."""

    def __init__(self, spec: NotebookSpec, assignment: AssignmentSpec, limits: Limits, cells: list[dict]):
        self.key = (assignment.name, spec.name, assignment.digest(), limits.threads, assignment.mode)
        self.tmp = Path(tempfile.mkdtemp(prefix="ag-tester-"))
        work = self.tmp / "work"
        src_dir = Path(assignment.source_dir)
        _copy_tree_files(src_dir, work)
        parent, child = socket.socketpair()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.tmp), "MPLBACKEND": "agg",
               "NBGRADER_EXECUTION": "autograde", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "DLNLP_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": "",
               "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0", "MPLCONFIGDIR": str(self.tmp / "mpl"),
               "IPYTHONDIR": str(self.tmp / "ipython"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        cache = _mpl_font_cache()
        if cache:
            os.makedirs(env["MPLCONFIGDIR"], exist_ok=True)
            for f in Path(cache).glob("fontlist*.json"):
                shutil.copy(f, Path(env["MPLCONFIGDIR"]) / f.name)
        self._log = open(self.tmp / "tester.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-I", "-m", "autograder.grading.kernel", "tester",
                                      str(child.fileno())], pass_fds=(child.fileno(),), env=env, cwd=str(work),
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        child.close()
        self.sock = parent
        self.ch = Channel(parent.fileno())
        warm = []
        try:
            src = nbformat.read(spec.source_path, as_version=4)
            tests = [c.source for c in src.cells if c.cell_type == "code"
                     and (c.metadata.get("nbgrader") or {}).get("grade")]
            warm = _imports_of(tests)
            if any(m.split(".")[0] == "numpy" for m in warm):
                warm.append("numpy.testing")
            if any(m.split(".")[0] == "torch" for m in warm):
                warm.append("torch.testing")
        except Exception:
            pass
        self.ch.send({"workdir": str(work), "cells": cells, "threads": limits.threads, "warm": warm,
                      "output_bytes_per_cell": limits.output_bytes_per_cell})
        try:
            msg, _ = self.ch.recv(timeout=max(120.0, limits.notebook_timeout))
        except Exception as e:
            self.close()
            raise KernelStartError(f"the tester could not run the instructor's notebook ({e}); "
                                   f"log: {self._tail()}") from None
        self.names: list[str] = list(msg.get("names", []))
        self.setup_errors: list[dict] = list(msg.get("errors", []))
        self.setup_seconds = float(msg.get("seconds", 0))

    def _tail(self) -> str:
        try:
            return (self.tmp / "tester.log").read_bytes()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(self, rpc_sock: socket.socket) -> "Tester":
        parent, child = socket.socketpair()
        socket.send_fds(self.sock, [b"F"], [child.fileno(), rpc_sock.fileno()])
        child.close()
        msg, _ = self.ch.recv(timeout=60)
        return Tester(int(msg["pid"]), parent)

    def close(self) -> None:
        _stop_zygote(self.proc, self.sock, self._log)
        shutil.rmtree(self.tmp, ignore_errors=True)


class Tester:
    def __init__(self, pid: int, sock: socket.socket):
        self.pid = pid
        self.sock = sock
        self.ch = Channel(sock.fileno())
        self._next = 0

    def send_test(self, source: str, names: list[str]) -> int:
        self._next += 1
        self.ch.send({"q": "test", "id": self._next, "src": source, "names": names})
        return self._next

    def interrupt(self) -> None:
        try:
            os.kill(self.pid, signal.SIGINT)
        except OSError:
            pass

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.ch.send({"q": "exit"})
        except Exception:
            pass
        self.kill()


_ZYGOTES: dict[tuple, Zygote] = {}


def _zygote_for(spec: NotebookSpec, assignment: AssignmentSpec, limits: Limits, cells: list[dict]) -> Zygote:
    key = (assignment.name, spec.name, assignment.digest(), limits.threads, assignment.mode)
    z = _ZYGOTES.get(key)
    if z is not None and z.alive():
        return z
    for k in list(_ZYGOTES):                 # one zygote at a time per worker: bounded memory
        _ZYGOTES.pop(k).close()
    z = Zygote(spec, assignment, limits, cells)
    _ZYGOTES[key] = z
    return z


def shutdown_workers_cache() -> None:
    """Stop this process's zygotes (called when a worker ends, and at exit)."""
    for k in list(_ZYGOTES):
        _ZYGOTES.pop(k).close()
    for k in list(_KERNEL_ZYGOTES):
        _KERNEL_ZYGOTES.pop(k).close()


def _copy_tree_files(src: Path, dst: Path, skip_notebooks: bool = True, max_bytes: int = 200 << 20) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    if not src or not src.is_dir():
        return
    total = 0
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if any(part.startswith(".") or part in ("__pycache__", "feedback") for part in rel.parts):
            continue
        if p.is_symlink():
            continue
        if p.is_dir():
            (dst / rel).mkdir(parents=True, exist_ok=True)
            continue
        if skip_notebooks and p.suffix == ".ipynb":
            continue
        size = p.stat().st_size
        if total + size > max_bytes:
            continue
        total += size
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dst / rel)


# ============================================================================ grading one notebook
def _imports_of(sources: list[str]) -> list[str]:
    """Installed modules the notebook imports: the student kernel imports them before the sandbox's
    audit hook is installed (some, like torch, load their libraries with ctypes while importing)."""
    import ast
    import importlib.util

    mods: list[str] = []
    for src in sources:
        try:
            tree = ast.parse("\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for n in names:
                if n not in mods:
                    mods.append(n)
    out = []
    for m in mods:
        try:
            if importlib.util.find_spec(m.split(".")[0]) is not None and m not in out:
                out.append(m)
        except (ImportError, ValueError):
            continue
    return out[:40]


def _test_cells(nb, spec: NotebookSpec) -> dict[int, str]:
    """Index -> grade_id of the autograded test cells (graded code cells that are not answers)."""
    out = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader") or {}
        gid = meta.get("grade_id")
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution") and gid in spec.cells:
            out[i] = gid
    return out


def _error_output(ename: str, evalue: str) -> dict:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _to_outputs(raw: list) -> list:
    outs = []
    for o in raw or []:
        try:
            outs.append(nbformat.from_dict(o))
        except Exception:
            pass
    return outs


class _NotebookRun:
    def __init__(self, nb, spec: NotebookSpec, assignment: AssignmentSpec, limits: Limits, iso: Isolation,
                 tmp: Path, submission_dir: Path | None):
        self.nb, self.spec, self.assignment, self.limits, self.iso = nb, spec, assignment, limits, iso
        self.tmp = tmp
        self.flags: list[dict] = []
        self.timings: dict[str, float] = {}
        self.workdir: Path | None = None
        self.submission_dir = submission_dir
        self.kernel: StudentKernel | None = None
        self.tester: Tester | None = None
        self.zygote: Zygote | None = None
        self.replay: list[str] = []
        self.preload: list[str] = []
        self.use_zygote = True
        self.violations: list[str] = []
        self._old_workdir: Path | None = None
        self._n_workdirs = 0
        self.restarts = 0
        self.cell_log: list[dict] = []
        self.answers = {k: v for k, v in tripwire.answers_for(spec.name, spec.source_path).items() if v}
        self.wire: tripwire.Wire | None = None
        self.quota_warned = self.group_warned = False
        self.outside_flags: dict[str, str] = {}      # code -> message, seen by the grader's watchdog

    # -------------------------------------------------------------- processes
    def _prepare_workdir(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        if self.submission_dir is not None:     # the student's own extra files (not notebooks)
            _copy_tree_files(self.submission_dir, workdir, max_bytes=50 << 20)
        if self.assignment.release_dir:          # the files handed out win, as nbgrader does
            _copy_tree_files(Path(self.assignment.release_dir), workdir)

    @staticmethod
    def _drop_workdir(workdir: Path) -> None:
        sandbox.unmount_quota(workdir.parent)
        shutil.rmtree(workdir.parent, ignore_errors=True)

    def _start_kernel(self) -> None:
        """A fresh student kernel in a fresh copy of the submission's folder."""
        t = time.perf_counter()
        if self.kernel is not None:
            self.kernel.kill()
        if self._old_workdir is not None:
            self._drop_workdir(self._old_workdir)
        zygote = None
        if self.use_zygote:
            try:
                zygote = _kernel_zygote_for(self.iso, self.limits, self.preload)
            except KernelStartError as e:
                self.flags.append(Flag("zygote_failed", f"kernels are started one by one: {e}"[:500], level=INFO))
                self.use_zygote = False
        ident = zygote.ident if zygote is not None else _kernel_ident(self.iso)
        if zygote is not None:
            self.workdir = zygote.new_workdir()
            quota_error = zygote.quota_error
        else:
            self._n_workdirs += 1
            self.workdir = self.tmp / f"run{self._n_workdirs}" / "work"
            self.workdir.parent.mkdir(parents=True)
            quota_error = sandbox.mount_quota(self.workdir.parent, self.limits.disk_mb + 16, ident)
            if ident is not None:
                os.chmod(self.tmp, 0o711)
                os.chmod(self.workdir.parent, 0o711)
        if quota_error and not self.quota_warned:
            self.quota_warned = True
            self.flags.append(Flag("weak_isolation", f"disk quota: {quota_error}", level=INFO))
        self._prepare_workdir(self.workdir)
        sandbox.hand_over(self.workdir, ident)
        self._old_workdir = self.workdir
        try:
            self.wire = tripwire.Wire(self.answers) if self.answers else None
            self.kernel = StudentKernel(self.workdir, self.iso, self.limits, self.tmp, self.preload, zygote,
                                        tripwire=self.wire.init() if self.wire else None)
            self.kernel.quota_mounted = quota_error is None
            if self.kernel.group is None and not self.group_warned:
                self.group_warned = True
                self.flags.append(Flag("weak_isolation", "no control group for the kernel "
                                                         f"({getattr(self.kernel, 'group_error', '?')}): processes "
                                                         "it detaches are not bounded or seen", level=INFO))
        except KernelStartError:
            if zygote is None:
                raise
            _KERNEL_ZYGOTES.clear()
            zygote.close()
            self.use_zygote = False
            self.kernel = None
            self._start_kernel()
        self.timings["kernel_start"] = self.timings.get("kernel_start", 0) + time.perf_counter() - t

    def _start_tester(self) -> None:
        if self.tester is not None:
            self.tester.kill()
        t = time.perf_counter()
        self.tester = self.zygote.fork(self.kernel.rpc_for_tester)
        self.timings["tester_fork"] = self.timings.get("tester_fork", 0) + time.perf_counter() - t

    def _restart(self, reason: str, deadline: float) -> bool:
        """Replace a dead or stuck student kernel and replay the cells that ran before."""
        if self.kernel is not None:
            self.kernel.kill()
        if self.restarts >= 3 or time.monotonic() > deadline - 5:
            self.kernel = None
            return False
        self.restarts += 1
        try:
            self._start_kernel()
        except KernelStartError as e:
            self.flags.append(Flag("kernel_start_failed", str(e)[:500]))
            self.kernel = None
            return False
        self._start_tester()
        for src in self.replay:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            status, _ = self._run_in_kernel(src, min(self.limits.cell_timeout, left), replay=True)
            if status in ("died", "memory", "killed"):
                self.kernel = None
                return False
        self.flags.append(Flag("kernel_restarted", f"the student kernel was restarted ({reason}); "
                                                   f"{len(self.replay)} earlier cells were run again",
                               level=INFO))
        return True

    def _wait(self, ch: Channel, timeout: float, kernel_alive=True):
        """Wait for a message on ``ch``; returns (message or None, why)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timeout"
            if ch.poll(min(0.2, left)):
                try:
                    msg, _ = ch.recv(timeout=30)
                    return msg, "ok"
                except (ChannelClosed, ProtocolError, TimeoutError, OSError) as e:
                    return None, f"channel: {type(e).__name__}"
            if kernel_alive and self.kernel is not None:
                self._watch()
                if self.kernel is None:
                    continue
                if not self.kernel.alive():
                    # the kernel is gone; a tester still gets its EOF and answers
                    if ch is self.kernel.ctl:
                        return None, "died"
                elif not self.kernel.check_memory():
                    return None, "memory"

    def _run_in_kernel(self, source: str, timeout: float, replay: bool = False):
        k = self.kernel
        try:
            k.send_run(source)
        except (ChannelClosed, OSError):
            return "died", []
        msg, why = self._wait(k.ctl, timeout)
        self._watch(force=True)
        if msg is not None:
            self._note_violations(msg)
            return ("error" if msg.get("error") else "ok"), msg.get("outputs", [])
        if why == "timeout":
            k.interrupt()
            msg, why2 = self._wait(k.ctl, 5)
            timeout_err = _error_output("CellTimeoutError", f"the cell did not finish within {timeout:.0f} s "
                                                            "and was interrupted")
            if msg is not None:
                self._note_violations(msg)
                outs = [o for o in msg.get("outputs", []) if o.get("output_type") != "error"]
                return "timeout", outs + [timeout_err]
            return "killed", [timeout_err]
        if why == "memory":
            return "memory", [_error_output("MemoryError", f"the kernel used more than its memory cap "
                                                           f"({self.limits.memory_mb} MiB) and was stopped")]
        return "died", [_error_output("DeadKernelError", "the student kernel stopped while running this cell")]

    def _watch(self, force: bool = False) -> None:
        """The kernel's behaviour seen from outside it (:meth:`StudentKernel.watch`)."""
        if self.kernel is None:
            return
        for code, text in self.kernel.watch(force):
            if code == "violation":
                if text not in self.violations and len(self.violations) < 50:
                    self.violations.append(text)
            else:
                self.outside_flags.setdefault(code, text)

    def _note_violations(self, msg: dict) -> None:
        for v in msg.get("violations") or []:
            if isinstance(v, str) and v not in self.violations and len(self.violations) < 50:
                self.violations.append(v[:300])

    def _final_stats(self) -> None:
        """What the sandbox refused while the tests ran (reported with the next answer or here)."""
        k = self.kernel
        if k is None or not k.alive():
            return
        try:
            k.ctl.send({"q": "stats", "id": -1})
            msg, _ = self._wait(k.ctl, 10)
            if msg is not None:
                self._note_violations(msg)
        except Exception:
            pass

    def _run_test(self, source: str, timeout: float):
        t = self.tester
        try:
            t.send_test(source, self.zygote.names)
        except (ChannelClosed, OSError):
            return "died", [_error_output("GraderError", "the tester stopped")], {}
        msg, why = self._wait(t.ch, timeout)
        if msg is None and why in ("timeout", "memory"):
            if why == "timeout":
                self.kernel.interrupt()
            else:
                self.kernel.kill()
            msg, why = self._wait(t.ch, 6, kernel_alive=False)
            if msg is None:
                t.interrupt()
                msg, why = self._wait(t.ch, 3, kernel_alive=False)
            if msg is None:
                t.kill()
                self.kernel.kill()
                return "killed", [_error_output("CellTimeoutError", f"the test did not finish within {timeout:.0f} s")], {}
            outs = [o for o in msg.get("outputs", []) if o.get("output_type") != "error"]
            err = _error_output("CellTimeoutError", f"the test did not finish within {timeout:.0f} s; the "
                                                    "submission's code was interrupted") if why != "memory" else \
                _error_output("MemoryError", "the submission's code exceeded the memory cap during this test")
            return "timeout", outs + [err], msg
        if msg is None:
            return "died", [_error_output("GraderError", "the tester stopped unexpectedly")], {}
        return ("error" if msg.get("error") else "ok"), msg.get("outputs", []), msg

    # -------------------------------------------------------------- the run
    def run(self) -> None:
        spec = self.spec
        tests = _test_cells(self.nb, spec)
        unsealed = set(spec.unsealed)
        setup_cells = self._setup_cells()
        self.preload = _imports_of([c["src"] for c in setup_cells])
        t0 = time.perf_counter()
        self.zygote = _zygote_for(spec, self.assignment, self.limits, setup_cells)
        self.timings["tester_setup"] = time.perf_counter() - t0
        for err in self.zygote.setup_errors:
            self.flags.append(Flag("instructor_notebook_error", f"the instructor's notebook raised in cell "
                                                                f"{err['cell']}: {err['error']}", level=INFO))
        start = time.monotonic()
        deadline = start + self.limits.notebook_timeout
        try:
            self._start_kernel()
        except KernelStartError as e:
            self.flags.append(Flag("kernel_start_failed", str(e)[:1000]))
            self._fail_rest(0, "the student kernel could not be started")
            return
        self.timings["isolation"] = 0.0
        self._start_tester()
        gave_up = None
        for idx, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            if gave_up:
                cell.outputs = [_error_output("NotRun", gave_up)] if idx in tests else []
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                gave_up = f"not run: the notebook's time limit of {self.limits.notebook_timeout:.0f} s ran out"
                self.flags.append(Flag("notebook_timeout", f"the notebook did not finish within "
                                                           f"{self.limits.notebook_timeout:.0f} s; the cells "
                                                           "after it were not run"))
                cell.outputs = [_error_output("NotRun", gave_up)] if idx in tests else []
                continue
            if self.kernel is None and not self._restart("it had stopped", deadline):
                gave_up = "not run: the student kernel could not be restarted"
                self.flags.append(Flag("kernel_lost", gave_up))
                cell.outputs = [_error_output("NotRun", gave_up)] if idx in tests else []
                continue
            timeout = min(self.limits.cell_timeout, left)
            c0 = time.perf_counter()
            gid = tests.get(idx)
            if gid is not None and gid not in unsealed:
                exercise = tripwire.exercise_of(gid, [g for g in spec.order if spec.cells[g].get("solution")],
                                                spec.order)
                armed = self._tripwire(exercise, "arm") if self.answers.get(exercise) else False
                status, outputs, info = self._run_test(cell.source, timeout)
                if armed:
                    self._tripwire(exercise, "disarm", gid)
                kind = "test"
                if info.get("broken"):
                    self.flags.append(Flag("protocol_violation", f"while testing {gid} the submission's kernel "
                                                                 f"sent malformed data ({info['broken']})", cell=gid))
            else:
                status, outputs = self._run_in_kernel(cell.source, timeout)
                kind = "test-in-kernel" if gid is not None else "cell"
                if status in ("ok", "error") and gid is None:
                    self.replay.append(cell.source)
            cell.outputs = _to_outputs(outputs)
            if kind != "test":
                cell.execution_count = None
            self.cell_log.append({"index": idx, "grade_id": gid, "kind": kind, "status": status,
                                  "seconds": round(time.perf_counter() - c0, 3)})
            where = f" (graded cell {gid})" if gid else f" (cell {idx})"
            if status in ("timeout", "killed"):
                self.flags.append(Flag("cell_timeout", f"a cell exceeded the time limit of {timeout:.0f} s"
                                                       f"{where}", cell=gid))
            if status == "memory" or (self.kernel is not None and self.kernel.memory_exceeded):
                self.flags.append(Flag("memory_limit", f"the kernel exceeded its memory cap{where}", cell=gid))
            if status in ("died", "killed", "memory") or (self.kernel is not None and not self.kernel.alive()):
                if status == "died" or (self.kernel is not None and not self.kernel.alive() and status != "killed"):
                    self.flags.append(Flag("kernel_died", f"the student kernel died{where}"
                                                          f"{self._exit_reason()}", cell=gid))
                if self.kernel is not None:
                    self.kernel.kill()
                self.kernel = None
                if not self._restart("it died" if status == "died" else "it was stopped", deadline):
                    gave_up = "not run: the student kernel died and could not be restarted"
            elif self.tester is not None and kind == "test" and status == "killed":
                self._start_tester()
        self.timings["cells"] = time.monotonic() - start
        self._final_stats()
        self._watch(force=True)
        for code, text in self.outside_flags.items():
            if code == "memory_limit" and any(f["code"] == "memory_limit" for f in self.flags):
                continue
            self.flags.append(Flag(code, text))
        benign = set(self.spec.benign_violations)
        own = [v for v in self.violations if v not in benign]
        if own:
            self.flags.append(Flag("sandbox_violation", "the submission tried what the sandbox forbids "
                                                        "(all refused): " + "; ".join(own[:12])))

    def _tripwire(self, exercise: str, cmd: str, test: str | None = None) -> bool:
        """Arm or disarm the kernel's trip-wire for ``exercise``; on disarm, flag what it caught."""
        k, wire = self.kernel, self.wire
        if k is None or wire is None or not k.alive():
            return False
        msg = wire.message(cmd, exercise)
        msg["id"] = -2
        try:
            k.ctl.send(msg)
            reply, _ = self._wait(k.ctl, 10)
        except (ChannelClosed, OSError):
            reply = None
        if cmd == "arm":
            return reply is not None
        trips = wire.verify((reply or {}).get("tripwire")) if reply is not None else None
        if trips is None:
            if self.kernel is not None and self.kernel.alive():
                self.flags.append(Flag("tripwire_report_missing", f"while {test} ran, the student kernel's "
                                                                  "report of reference use was missing or forged",
                                       cell=exercise))
        elif trips:
            self.flags.append(Flag("reference_answer_called", f"while {test} ran, the submission called "
                                                              f"{', '.join(trips)}, the reference answer of "
                                                              f"{exercise}; the call was refused", cell=exercise))
        return True

    def _exit_reason(self) -> str:
        if self.kernel is None:
            return ""
        code = self.kernel.exit_code()
        if code is None:
            return ""
        if code < 0:
            try:
                return f" (signal {signal.Signals(-code).name})"
            except ValueError:
                return f" (signal {-code})"
        return f" (exit status {code})"

    def _setup_cells(self) -> list[dict]:
        """The instructor's code cells that the tester runs first: everything but the test cells."""
        src = nbformat.read(self.spec.source_path, as_version=4)
        cells = []
        for i, cell in enumerate(src.cells):
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader") or {}
            if meta.get("grade") and not meta.get("solution"):
                continue
            cells.append({"index": i, "src": cell.source, "solution": bool(meta.get("solution"))})
        return cells

    def _fail_rest(self, start: int, why: str) -> None:
        tests = _test_cells(self.nb, self.spec)
        for idx in tests:
            self.nb.cells[idx].outputs = [_error_output("NotRun", why)]

    def close(self) -> None:
        if self.tester is not None:
            self.tester.close()
        if self.kernel is not None:
            self.kernel.close()
        if self._old_workdir is not None:
            self._drop_workdir(self._old_workdir)


def _score(nb, spec: NotebookSpec, assignment: AssignmentSpec) -> dict[str, list]:
    """nbgrader's scoring of the executed notebook (after IgnorePattern and LimitOutput)."""
    from nbgrader import utils
    from nbgrader.preprocessors import IgnorePattern, LimitOutput

    if assignment.ignore_pattern:
        IgnorePattern(pattern=assignment.ignore_pattern).preprocess(nb, {})
    LimitOutput(max_lines=assignment.max_lines, max_traceback=assignment.max_traceback).preprocess(nb, {})
    scores: dict[str, list] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        gid = meta.get("grade_id")
        if gid in spec.cells and meta.get("grade"):
            try:
                score, max_score = utils.determine_grade(cell)
            except Exception:
                score, max_score = 0.0, float(meta.get("points") or 0)
            scores[gid] = [score, max_score]
    for gid in spec.grade_ids:            # cells that are not in the notebook at all score 0
        scores.setdefault(gid, [0.0, float(spec.cells[gid].get("points") or 0)])
    return scores


def reference_flags(nb, spec: NotebookSpec) -> list[dict]:
    """Review flags for answers that use their own exercise's reference (:func:`.tripwire.static_flags`)
    or copy its source (:func:`.similarity.reference_matches`)."""
    from . import similarity

    answers = {k: v for k, v in tripwire.answers_for(spec.name, spec.source_path).items() if v}
    if not answers:
        return []
    flags = []
    try:
        for ex, message in tripwire.static_flags(nb, answers):
            flags.append(Flag("reference_answer_in_code", message, cell=ex))
        handed = {g: similarity.handed_out(c.get("source", "")) for g, c in spec.cells.items() if c.get("solution")}
        for ex, score, message in similarity.reference_matches(nb, answers, handed,
                                                               [Path(spec.source_path).parent]):
            flags.append(Flag("similar_to_reference", message, cell=ex))
    except Exception as e:          # a check that fails must not cost the student the grade
        flags.append(Flag("reference_check_failed", f"{type(e).__name__}: {e}"[:300], level=INFO))
    return flags


def _zero_scores(spec: NotebookSpec) -> dict[str, list]:
    return {g: [0.0, float(spec.cells[g].get("points") or 0)] for g in spec.grade_ids}


# ============================================================================ the job
def grade_submission(assignment: AssignmentSpec | dict, student: str, submission_dir: str | Path,
                     limits: Limits | dict | None = None, isolation: str = "auto",
                     timestamp: str | None = None) -> dict:
    """Grade one student's submission of one assignment; return the result record (see module doc)."""
    if isinstance(assignment, dict):
        assignment = AssignmentSpec.from_dict(assignment)
    if isinstance(limits, dict):
        limits = Limits(**limits)
    limits = limits or Limits()
    folder = Path(submission_dir)
    iso = sandbox.detect(isolation)
    started = time.time()
    t0 = time.perf_counter()
    record = {"student": student, "assignment": assignment.name, "engine": ENGINE_VERSION,
              "timestamp": timestamp, "isolation": iso.level, "isolation_detail": iso.describe(),
              "notebooks": {}, "flags": [], "started": started}
    if iso.warnings and iso.level == "process":
        record["flags"].append(Flag("weak_isolation", iso.warnings[-1], level=INFO))
    taken: set[str] = set()
    for spec in assignment.notebooks:
        entry = {"name": spec.name, "flags": [], "scores": {}, "file": None, "cells": [], "timings": {}}
        record["notebooks"][spec.name] = entry
        path, flags = find_notebook_file(folder, spec, taken) if folder.is_dir() else \
            (None, [Flag("missing_notebook", f"no submission folder {folder}")])
        entry["flags"] += flags
        if path is None:
            entry["scores"] = _zero_scores(spec)
            continue
        taken.add(path.name)
        entry["file"] = str(path.relative_to(folder)) if path.is_relative_to(folder) else path.name
        try:
            collected = json.loads((folder / "collect.json").read_text()).get(spec.name, {})
        except (OSError, ValueError, AttributeError):
            collected = {}
        if collected.get("renamed"):
            entry["flags"].append(Flag("renamed_notebook", f"submitted as {collected.get('original_name')!r}; "
                                                           f"recognised as {spec.name}.ipynb by "
                                                           f"{collected.get('identified_by', 'its cells')}",
                                       level=INFO))
        nb, flags = read_submission(path, limits.notebook_mb << 20, limits.max_cells)
        entry["flags"] += flags
        if nb is None:
            entry["scores"] = _zero_scores(spec)
            continue
        try:
            nb, flags = sanitize(nb, spec, assignment.name)
            entry["flags"] += flags
            entry["flags"] += reference_flags(nb, spec)
        except Exception as e:
            entry["flags"].append(Flag("unsanitizable", f"the notebook could not be prepared for grading: "
                                                        f"{type(e).__name__}: {e}"))
            entry["scores"] = _zero_scores(spec)
            continue
        tmp = Path(tempfile.mkdtemp(prefix="ag-sub-"))
        run = _NotebookRun(nb, spec, assignment, limits, iso, tmp, folder)
        try:
            run.run()
        except Exception as e:       # a grader failure must not stop the batch: flag and move on
            import traceback
            run.flags.append(Flag("grader_error", f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"))
            run._fail_rest(0, "not graded: the grader failed on this notebook")
        finally:
            run.close()
            shutil.rmtree(tmp, ignore_errors=True)
        entry["flags"] += run.flags
        entry["cells"] = run.cell_log
        entry["timings"] = {k: round(v, 3) for k, v in run.timings.items()}
        if run.kernel is not None:
            entry["applied"] = run.kernel.applied
        entry["scores"] = _score(nb, spec, assignment)
        entry["unsealed"] = list(spec.unsealed)
        entry["violations"] = list(run.violations)
        entry["autograded"] = nbformat.writes(nb)
    record["score"] = sum(s for nb in record["notebooks"].values() for s, _ in nb["scores"].values()
                          if s is not None)
    record["max_score"] = sum(m for nb in record["notebooks"].values() for _, m in nb["scores"].values())
    record["seconds"] = round(time.perf_counter() - t0, 3)
    record["needs_review"] = any(f["level"] == REVIEW for nb in record["notebooks"].values() for f in nb["flags"]) \
        or any(f["level"] == REVIEW for f in record["flags"])
    return record
