"""Isolation of the student kernel: the strongest the machine offers, and nothing weak unless asked for.

Levels, strongest first (``detect()`` picks the first that works; ``--isolation`` forces one):

``bwrap``
    bubblewrap: new mount, PID, network, IPC and UTS namespaces (and a user namespace when the grader
    is not root); the kernel sees a filesystem that holds only the system libraries, the Python
    environment, the ``dlnlp`` package and its own temporary copy of the submission (read-write).
    No network, no other processes, no gradebook.
``landlock``
    Linux Landlock (kernel >= 5.13): the process restricts itself to read the same paths and write its
    copy only, and (ABI >= 4) to make no TCP connections, (ABI >= 6) to signal no process outside
    itself. Where unprivileged user namespaces are allowed it also enters new user and network
    namespaces (no network at all) and drops every capability.
``process``
    Process limits only. Never chosen on its own: ``detect()`` refuses to fall back to it and it must
    be asked for (``--isolation process`` or ``GRADER_ISOLATION=process``), because native code in a
    submission can then read and write whatever the kernel's user can (:data:`PROCESS_UNPROTECTED`).

At every level, outside the kernel (:mod:`.cgroup` and the grader's watchdog):

- a control group per kernel (pids, memory, CPU) that holds everything the kernel starts, also
  processes that ``setsid`` away from it; the grader lists it from outside, kills any process in it
  besides the kernel (a violation it sees whatever the student's code did to the audit hook), and
  kills the whole group when the kernel stops;
- a disk quota: the kernel's folder is a size-limited tmpfs (as root), or a watchdog on its size;
- an unprivileged user: run as root, the grader starts the kernel as a uid of its own
  (:func:`kernel_identity`), so files of the grader (gradebook, solutions, other students' folders)
  are refused by permission too.

And inside the kernel: resource limits (memory as ``RLIMIT_DATA``, CPU time, file size, open files,
processes), a fresh temporary working directory, a scrubbed environment, a parent-death signal, and a
Python audit hook (PEP 578) that refuses opening files outside the allowed roots, starting processes,
forking, sockets, ``ctypes`` calls, raising resource limits and signalling other processes. The hook
lives in the student's process, so its reports are an extra signal only: no verdict depends on it.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..model import LANDLOCK_LIMITS, LEVELS, PROCESS_UNPROTECTED, Isolation, IsolationUnavailable, Limits

_DETECTED: dict[str, Isolation] = {}


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = _libc()
        libc.syscall.restype = ctypes.c_long
        r = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
        return int(r) if r > 0 else 0
    except Exception:
        return 0


def _probe(code: str, timeout: float = 20) -> bool:
    try:
        r = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, timeout=timeout)
        return r.returncode == 0
    except Exception:
        return False


def _bwrap_works(bwrap: str) -> bool:
    tmp = tempfile.mkdtemp(prefix="agbw-")
    try:
        argv = build_command(["/bin/true" if os.path.exists("/bin/true") else shutil.which("true") or "true"],
                             Path(tmp), Isolation("bwrap", bwrap=bwrap), env={"PATH": "/usr/bin:/bin"},
                             ident=kernel_identity())
        r = subprocess.run(argv, capture_output=True, timeout=20)
        return r.returncode == 0
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def detect(prefer: str = "auto") -> Isolation:
    """The strongest isolation that works here; ``prefer`` forces a level, falling back below it but
    never to ``process`` unless ``process`` itself is asked for (here or with ``GRADER_ISOLATION``).

    Raises :class:`IsolationUnavailable` when nothing but ``process`` would do."""
    if prefer in ("auto", None, ""):
        prefer = os.environ.get("GRADER_ISOLATION") or "auto"
    if prefer not in ("auto",) + LEVELS:
        raise ValueError(f"unknown isolation level {prefer!r} (one of auto, {', '.join(LEVELS)})")
    if prefer in _DETECTED:
        return _DETECTED[prefer]
    # Landlock is used only when asked for: it does not hide the machine's processes (LANDLOCK_LIMITS)
    order = {"auto": ("bwrap", "process"), "bwrap": ("bwrap", "process"),
             "landlock": ("landlock", "process"), "process": ("process",)}[prefer]
    abi = landlock_abi()
    userns = sys.platform.startswith("linux") and _probe(
        "import ctypes,os; l=ctypes.CDLL(None,use_errno=True); "
        "import sys; sys.exit(0 if l.unshare(0x10000000|0x40000000)==0 else 1)")
    warnings: list[str] = []
    iso = None
    for level in order:
        if level == "bwrap":
            bwrap = shutil.which("bwrap")
            if bwrap and sys.platform.startswith("linux") and _bwrap_works(bwrap):
                iso = Isolation("bwrap", bwrap=bwrap, landlock_abi=abi, userns=True)
                break
            warnings.append("bubblewrap (bwrap) is not installed or cannot create namespaces here")
            if abi >= 1:
                warnings.append("Landlock is available but used only when asked for (--isolation landlock): "
                                + LANDLOCK_LIMITS)
        elif level == "landlock":
            if abi >= 1:
                iso = Isolation("landlock", landlock_abi=abi, userns=userns)
                break
            warnings.append("the kernel offers no Landlock")
        elif prefer != "process":
            raise IsolationUnavailable(
                "no isolation is available for the student kernels (" + "; ".join(warnings) + "). Install "
                "bubblewrap (apt-get install bubblewrap), or pass --isolation landlock on Linux >= 5.13, or "
                "to grade anyway --isolation process (or set GRADER_ISOLATION=process), knowing that "
                + PROCESS_UNPROTECTED + ".")
        else:
            iso = Isolation("process", userns=userns)
            warnings.append("WARNING: " + PROCESS_UNPROTECTED[0].upper() + PROCESS_UNPROTECTED[1:] + ". "
                            "Install bubblewrap (apt-get install bubblewrap) for real isolation.")
    iso.warnings = warnings if iso.level != order[0] or iso.level == "process" else []
    _DETECTED[prefer] = iso
    return iso


# ---------------------------------------------------------------------------------- who runs the kernel
_KERNEL_UID_BASE = 1_900_000_000


def _mapped(uid: int, path: str) -> bool:
    try:
        with open(path) as f:
            for line in f:
                inner, _outer, count = (int(x) for x in line.split())
                if inner <= uid < inner + count:
                    return True
    except (OSError, ValueError):
        return uid == 65534
    return False


def kernel_identity() -> tuple[int, int] | None:
    """The (uid, gid) that this grading process runs its student kernels as: a uid of its own, unused
    by anyone else (``AUTOGRADER_KERNEL_UID`` sets the first of the range), so that kernels of
    different workers cannot reach each other's folders either. None when the grader is not root
    (its kernels then run as the grader's own unprivileged user)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return None
    base = int(os.environ.get("AUTOGRADER_KERNEL_UID", _KERNEL_UID_BASE))
    uid = base + os.getpid() % 4_000_000
    if not (_mapped(uid, "/proc/self/uid_map") and _mapped(uid, "/proc/self/gid_map")):
        uid = 65534
    return uid, uid


def identity_mapped(uid: int) -> bool:
    """Whether ``uid`` exists as a user and a group in this process's user namespace."""
    return _mapped(uid, "/proc/self/uid_map") and _mapped(uid, "/proc/self/gid_map")


def reachable_by_others(paths: list[str]) -> str | None:
    """The first of ``paths`` (or a folder above one) that a user other than its owner cannot enter."""
    for p in paths:
        cur = Path(p).resolve()
        for d in [cur] + list(cur.parents):
            try:
                st = d.stat()
            except OSError:
                continue
            if d.is_dir() and not st.st_mode & 0o001:
                return str(d)
    return None




def tester_wrapper(need: list[str]) -> list[str] | None:
    """The start of a bubblewrap command for the tester when the grader is root and the folders it ``need``s
    lie under a folder closed to other users: the whole filesystem read-only, each closed folder above
    them replaced by an empty one that anyone may enter, with only ``need`` bound inside it; no network,
    and of root's capabilities only those to change user, which the tester gives up first thing. None
    without a working bubblewrap, or when a needed folder is itself closed."""
    bwrap = shutil.which("bwrap")
    if not bwrap or not sys.platform.startswith("linux"):
        return None
    closed: dict[str, list[str]] = {}
    for p in need:
        top = reachable_by_others([p])
        if top is None:
            continue
        if Path(top) == Path(p).resolve():
            return None
        closed.setdefault(top, []).append(str(Path(p).resolve()))
    cmd = [bwrap, "--unshare-ipc", "--unshare-net", "--unshare-uts", "--die-with-parent",
           "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
           "--ro-bind", "/", "/", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    for top, paths in sorted(closed.items()):
        cmd += ["--perms", "0755", "--tmpfs", top]
        made: set[Path] = set()
        paths = [p for p in set(paths) if not any(Path(p).is_relative_to(q) and p != q for q in paths)]
        for p in sorted(paths, key=len):
            for d in reversed(Path(p).parents):          # bubblewrap would make these 0700
                if d not in made and len(d.parts) > len(Path(top).parts):
                    made.add(d)
                    cmd += ["--perms", "0755", "--dir", str(d)]
            cmd += ["--ro-bind", p, p]
    if _TESTER_WRAP_OK.get(tuple(cmd)) is None:
        try:
            probe = ("import os; os.setgroups([]); os.setresgid(65534, 65534, 65534); "
                     "os.setresuid(65534, 65534, 65534); import json, encodings.idna")
            r = subprocess.run(cmd + ["--", sys.executable, "-I", "-c", probe], capture_output=True, timeout=30)
            _TESTER_WRAP_OK[tuple(cmd)] = r.returncode == 0
        except Exception:
            _TESTER_WRAP_OK[tuple(cmd)] = False
    return cmd if _TESTER_WRAP_OK[tuple(cmd)] else None


_TESTER_WRAP_OK: dict[tuple, bool] = {}


def hand_over(path: Path, ident: tuple[int, int] | None) -> None:
    """Give the kernel's user the folder ``path`` and what is in it (the grader keeps its own files)."""
    if ident is None:
        return
    uid, gid = ident
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            try:
                os.lchown(name, uid, gid)
            except OSError:
                pass


# ---------------------------------------------------------------------------------- disk quota
def mount_quota(path: Path, mb: int, ident: tuple[int, int] | None, mode: int = 0o711) -> str | None:
    """Mount a tmpfs of ``mb`` MiB on ``path`` (an empty folder): all the kernel writes there is bounded
    by it, and so is its share of the host's disk (none). Returns None, or why it could not."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "not root: a watchdog on the folder's size bounds the disk instead"
    if os.environ.get("AUTOGRADER_NO_QUOTA_MOUNT"):
        return "disabled by AUTOGRADER_NO_QUOTA_MOUNT"
    opts = f"size={int(mb)}m,nr_inodes=100000,mode={mode:o}"
    libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    MS_NOSUID, MS_NODEV = 2, 4
    if libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts.encode()) != 0:
        return f"mount of a tmpfs failed ({os.strerror(ctypes.get_errno())})"
    return None


def unmount_quota(path: Path) -> None:
    if os.path.ismount(path):
        libc = _libc()
        libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        libc.umount2(str(path).encode(), 2)          # MNT_DETACH


def folder_bytes(path: Path, stop_at: int | None = None) -> int:
    """Bytes of the files below ``path`` (stops counting past ``stop_at``)."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        else:
                            total += e.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        pass
        except OSError:
            pass
        if stop_at is not None and total > stop_at:
            break
    return total


# ---------------------------------------------------------------------------------- paths
def _package_dir(name: str) -> str | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            return str(Path(list(spec.submodule_search_locations)[0]).resolve())
    except Exception:
        return None
    return None


_ETC = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/fonts",
        "/etc/ssl", "/etc/mime.types", "/etc/nsswitch.conf", "/etc/hosts", "/etc/alternatives",
        "/etc/matplotlibrc", "/etc/os-release"]


def allowed_roots(workdir: Path, extra_read: list[str] | None = None,
                  withheld_root: str | None = None) -> tuple[list[str], list[str]]:
    """(readable, writable) paths of the student kernel. With ``withheld_root`` (a copy of ``dlnlp``
    without the answers not graded yet, :mod:`.withheld`) the kernel reads that copy, not the package."""
    read = {str(Path(sys.prefix).resolve()), str(Path(sys.base_prefix).resolve()),
            str(Path(sys.exec_prefix).resolve())}
    read.update(str(Path(p).resolve()) for p in sys.path if p and os.path.isdir(p) and "site-packages" in p)
    for pkg in ("autograder",) if withheld_root else ("dlnlp", "autograder"):
        d = _package_dir(pkg)
        if d:
            read.add(d)
    for p in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/opt/conda", "/usr/local"):
        if os.path.exists(p):
            read.add(str(Path(p).resolve()))
    read.update(p for p in _ETC if os.path.exists(p))
    read.update(extra_read or [])
    if withheld_root:
        read.add(str(Path(withheld_root).resolve()))
    write = {str(Path(workdir).resolve())}
    return sorted(read), sorted(write)


# ---------------------------------------------------------------------------------- launching
def student_env(workdir: Path, limits: Limits, extra: dict | None = None) -> dict[str, str]:
    """A scrubbed environment: nothing from the grader's own environment but what a kernel needs."""
    wd = str(workdir)
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": f"{wd}/.home", "TMPDIR": f"{wd}/.tmp", "MPLCONFIGDIR": f"{wd}/.mpl",
        "IPYTHONDIR": f"{wd}/.ipython", "XDG_CACHE_HOME": f"{wd}/.cache", "XDG_CONFIG_HOME": f"{wd}/.config",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "OMP_NUM_THREADS": str(limits.threads), "MKL_NUM_THREADS": str(limits.threads),
        "OPENBLAS_NUM_THREADS": str(limits.threads), "CUDA_VISIBLE_DEVICES": "", "DLNLP_DEVICE": "cpu",
        "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0",
    }
    env.update(extra or {})
    for d in (".home", ".tmp", ".mpl", ".ipython", ".cache", ".config"):
        os.makedirs(os.path.join(wd, d), exist_ok=True)
    return env


def build_command(argv: list[str], workdir: Path, iso: Isolation, env: dict[str, str],
                  extra_read: list[str] | None = None, ident: tuple[int, int] | None = None,
                  withheld_root: str | None = None) -> list[str]:
    """The command line that starts ``argv`` at isolation ``iso`` (bubblewrap wraps it).

    With ``ident`` (the grader is root) bubblewrap makes no user namespace (it would map the kernel
    to root outside) and keeps only the capabilities to change user: the kernel gives up root for
    ``ident`` first thing (:func:`drop_privileges`)."""
    if iso.level != "bwrap":
        return list(argv)
    read, _ = allowed_roots(workdir, extra_read, withheld_root)
    if ident is not None:
        ns = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
              "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        ns = ["--unshare-all", "--cap-drop", "ALL"]
    cmd = [iso.bwrap or "bwrap"] + ns + ["--die-with-parent", "--new-session",
                                         "--proc", "/proc", "--dev", "/dev", "--size", str(64 << 20),
                                         "--perms", "1777", "--tmpfs", "/tmp"]
    wd = str(Path(workdir).resolve())
    done: set[str] = set()
    binds = []
    for p in sorted(read, key=len):
        if p in done or any(p.startswith(d + "/") for d in done):
            continue
        done.add(p)
        binds += ["--ro-bind-try", p, p]
    # the folders above what is bound are made here, enterable by the kernel's user (bubblewrap
    # would copy the host's modes, and a 0700 /root above the Python install would lock it out)
    parents: set[str] = set()
    for p in sorted(done | {wd}):
        for d in Path(p).parents:
            if str(d) not in ("/", "/tmp") and str(d) not in done:
                parents.add(str(d))
    for d in sorted(parents, key=lambda x: (x.count("/"), x)):
        if not os.path.islink(d) and not any(d == s or d.startswith(s + "/") for s in done):
            cmd += ["--perms", "0755", "--dir", d]
    cmd += binds
    for link in ("/lib", "/lib64", "/bin", "/sbin"):
        if os.path.islink(link):
            cmd += ["--symlink", os.readlink(link), link]
    cmd += ["--bind", wd, wd, "--chdir", wd, "--clearenv"]
    for k, v in env.items():
        cmd += ["--setenv", k, v]
    return cmd + ["--"] + list(argv)
