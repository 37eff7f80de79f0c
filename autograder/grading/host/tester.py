"""The tester: the instructor's notebook run once (a zygote), one forked tester per submission."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from ..channel.framing import Channel
from ..model import AssignmentSpec, Limits, NotebookSpec
from ..notebook.answers import answers_for
from . import cgroup
from . import isolation as sandbox
from .kernels import KERNEL_ZYGOTES
from .procs import KernelStartError, copy_tree_files, mpl_font_cache, stop_zygote
from .withheld import release_copies_of


def tester_identity() -> tuple[tuple[int, int] | None, list[str] | None]:
    """The (uid, gid) the tester runs as when the grader is root (one of its own, beside the kernels'
    range), and, when the Python installation lies under a folder closed to other users (a ``0700``
    ``/root``), the bubblewrap command that opens the way to it for that user only; (None, None) when the
    grader is not root, or no way can be opened."""
    ident = sandbox.kernel_identity()
    if ident is None or ident[0] == 65534:
        return None, None
    uid = ident[0] + 4_000_000
    if not sandbox.identity_mapped(uid):
        return None, None
    import autograder

    need = [os.path.dirname(os.path.realpath(sys.executable)), sys.prefix, sys.base_prefix,
            os.path.dirname(os.path.dirname(os.path.abspath(autograder.__file__)))]
    if sandbox.reachable_by_others(need) is None:
        return (uid, uid), None
    wrap = sandbox.tester_wrapper(need)
    return ((uid, uid), wrap) if wrap is not None else (None, None)


def _confine_tester(memory_bytes: int, ident: tuple[int, int] | None, group, wrapped: bool):
    """What the tester's process does before it starts: join its control group, cap its data segment,
    give up root (under bubblewrap, the tester gives it up itself once the way to Python is open)."""
    def run() -> None:
        import resource

        if group is not None:
            group.add_self()
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
        except (ValueError, OSError):
            pass
        if ident is not None and os.geteuid() == 0 and not wrapped:
            os.setgroups([])
            os.setresgid(ident[1], ident[1], ident[1])
            os.setresuid(ident[0], ident[0], ident[0])
    return run


class Zygote:
    """The instructor's notebook run once; testers fork from it (one per submission)."""

    def __init__(self, spec: NotebookSpec, assignment: AssignmentSpec, limits: Limits, cells: list[dict]):
        self.key = (assignment.name, spec.name, assignment.digest(), limits.threads, assignment.mode)
        self.tmp = Path(tempfile.mkdtemp(prefix="ag-tester-"))
        work = self.tmp / "work"
        src_dir = Path(assignment.source_dir)
        copy_tree_files(src_dir, work)
        parent, child = socket.socketpair()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.tmp), "MPLBACKEND": "agg",
               "NBGRADER_EXECUTION": "autograde", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "DLNLP_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": "",
               "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0", "MPLCONFIGDIR": str(self.tmp / "mpl"),
               "IPYTHONDIR": str(self.tmp / "ipython"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        cache = mpl_font_cache()
        if cache:
            os.makedirs(env["MPLCONFIGDIR"], exist_ok=True)
            for f in Path(cache).glob("fontlist*.json"):
                shutil.copy(f, Path(env["MPLCONFIGDIR"]) / f.name)
        self._log = open(self.tmp / "tester.log", "wb")
        # The tester handles what the submission returns: it runs under a memory limit of its own (a
        # control group where one can be made, and its data segment), and as a user of its own when the
        # grader is root
        self.memory_bytes = int(limits.memory_mb * 1.25 + 1024) << 20
        self.group: cgroup.Group | None = None
        try:
            self.group = cgroup.Group(memory_bytes=self.memory_bytes + (256 << 20), tasks=256,
                                      cpus=max(1, limits.threads))
        except OSError:
            self.group = None
        self.ident, wrap = tester_identity()
        sandbox.hand_over(self.tmp, self.ident)
        argv = [sys.executable, "-I", "-m", "autograder.grading.host.tester_main", "tester", str(child.fileno())]
        if wrap is not None and self.ident is not None:
            argv = wrap + ["--bind", str(self.tmp), str(self.tmp), "--chdir", "/", "--"] + argv + [
                str(self.ident[0]), str(self.ident[1])]
        self.proc = subprocess.Popen(argv, pass_fds=(child.fileno(),), env=env, cwd=str(work),
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     preexec_fn=_confine_tester(self.memory_bytes, self.ident, self.group,
                                                                wrap is not None))
        child.close()
        self.sock = parent
        self.ch = Channel(parent.fileno())
        warm = []
        try:
            src = nbformat.read(spec.source_path, as_version=4)
            tests = [c.source for c in src.cells if c.cell_type == "code"
                     and (c.metadata.get("nbgrader") or {}).get("grade")]
            warm = imports_of(tests)
            if any(m.split(".")[0] == "numpy" for m in warm):
                warm.append("numpy.testing")
            if any(m.split(".")[0] == "torch" for m in warm):
                warm.append("torch.testing")
        except Exception:
            pass
        withheld = sorted({q for quals in answers_for(spec.source_path).values() for q in quals})
        self.ch.send({"workdir": str(work), "cells": cells, "threads": limits.threads, "warm": warm,
                      "withheld": withheld,
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
        stop_zygote(self.proc, self.sock, self._log)
        if self.group is not None:
            self.group.kill()
            self.group.remove()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Tester:
    def __init__(self, pid: int, sock: socket.socket):
        self.pid = pid
        self.sock = sock
        self.ch = Channel(sock.fileno())
        self._next = 0

    def send_test(self, source: str, names: list[str], withheld: list[str] | None = None) -> int:
        """Run a test cell; ``withheld``: the reference answers the student kernel has only as stand-ins."""
        self._next += 1
        self.ch.send({"q": "test", "id": self._next, "src": source, "names": names, "withheld": withheld or []})
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


def zygote_for(spec: NotebookSpec, assignment: AssignmentSpec, limits: Limits, cells: list[dict]) -> Zygote:
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
    for k in list(KERNEL_ZYGOTES):
        KERNEL_ZYGOTES.pop(k).close()




def imports_of(sources: list[str]) -> list[str]:
    """Installed modules the notebook imports: the student kernel imports them before the sandbox's
    audit hook is installed (some, like torch, load their libraries with ctypes while importing)."""
    import ast
    import importlib.util

    mods: list[str] = []
    for src in sources:
        try:
            tree = ast.parse("\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))))
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




def _at_exit() -> None:
    try:
        shutdown_workers_cache()
        release_copies_of(os.getpid())       # this process's package copies (.withheld)
    except Exception:
        pass




atexit.register(_at_exit)
