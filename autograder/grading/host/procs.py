"""Processes seen from outside: trees, memory, identities, folders handed to the kernel."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from ..model import Isolation
from . import isolation as sandbox


def children_of(pid: int) -> list[int]:
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


def process_tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo and len(seen) < 4096:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(children_of(p))
    return seen


def rss_mb(pids: list[int]) -> float:
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


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def stop_zygote(proc: subprocess.Popen, sock: socket.socket, log) -> None:
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
        kill_tree(proc.pid)
        try:
            proc.wait(timeout=5)
        except Exception:
            pass
    try:
        sock.close()
        log.close()
    except Exception:
        pass


def kill_tree(pid: int) -> None:
    for p in reversed(process_tree(pid)):
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


def mpl_font_cache() -> str | None:
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


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:120]
    except OSError:
        return ""


def host_pid(root: int, inner: int) -> int | None:
    """The pid, as this process sees it, of the process below ``root`` that is ``inner`` in its own
    PID namespace (a kernel inside bubblewrap)."""
    for p in process_tree(root):
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


def kernel_ident(iso: Isolation) -> tuple[int, int] | None:
    """The unprivileged user the kernels run as (None: the grader is not root, or, below bubblewrap,
    the Python installation is not readable by other users)."""
    ident = sandbox.kernel_identity()
    if ident is None or iso.level == "bwrap":
        return ident
    import autograder

    need = [os.path.dirname(os.path.realpath(sys.executable)), sys.prefix, sys.base_prefix,
            os.path.dirname(os.path.dirname(os.path.abspath(autograder.__file__)))]
    return ident if sandbox.reachable_by_others(need) is None else None


def open_parents(workdir: Path) -> None:
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


def ident_note(iso: Isolation) -> str | None:
    """Why the kernels run as the grader's own user, when they do as root."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or kernel_ident(iso) is not None:
        return None
    import autograder

    need = [os.path.dirname(os.path.realpath(sys.executable)), sys.prefix, sys.base_prefix,
            os.path.dirname(os.path.dirname(os.path.abspath(autograder.__file__)))]
    return (f"the student kernels run as root without capabilities: {sandbox.reachable_by_others(need)} "
            "(above the Python installation) is closed to other users, so an unprivileged kernel could "
            "not run Python; bubblewrap does not have this limit")




def copy_tree_files(src: Path, dst: Path, skip_notebooks: bool = True, max_bytes: int = 200 << 20) -> None:
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


