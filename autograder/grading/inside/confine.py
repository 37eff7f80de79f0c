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
import sys

VIOLATIONS: list[str] = []        # what the audit hook refused, for the grader's report
_BENIGN = ("/etc/", "/usr/", "/sys/", "/proc/self", "/proc/thread-self", "/dev/", "/lib", "/bin", "/sbin")


def take_violations() -> list[str]:
    out = list(VIOLATIONS)
    VIOLATIONS.clear()
    return out



def _libc():
    return ctypes.CDLL(None, use_errno=True)




def drop_privileges(cfg: dict) -> bool:
    """Become the kernel's own unprivileged user (``cfg["uid"]``); called first thing in the kernel."""
    uid, gid = cfg.get("uid"), cfg.get("gid")
    if uid is None or not hasattr(os, "setresuid") or os.geteuid() != 0:
        return False
    os.setgroups([])
    os.setresgid(int(gid), int(gid), int(gid))
    os.setresuid(int(uid), int(uid), int(uid))
    if os.geteuid() == 0 or os.getegid() == 0:
        raise OSError("could not give up root")
    return True


_FS = {"EXECUTE": 1 << 0, "WRITE_FILE": 1 << 1, "READ_FILE": 1 << 2, "READ_DIR": 1 << 3,
       "REMOVE_DIR": 1 << 4, "REMOVE_FILE": 1 << 5, "MAKE_CHAR": 1 << 6, "MAKE_DIR": 1 << 7,
       "MAKE_REG": 1 << 8, "MAKE_SOCK": 1 << 9, "MAKE_FIFO": 1 << 10, "MAKE_BLOCK": 1 << 11,
       "MAKE_SYM": 1 << 12, "REFER": 1 << 13, "TRUNCATE": 1 << 14, "IOCTL_DEV": 1 << 15}
_FILE_RIGHTS = _FS["EXECUTE"] | _FS["WRITE_FILE"] | _FS["READ_FILE"] | _FS["TRUNCATE"] | _FS["IOCTL_DEV"]


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock(abi: int, read: list[str], write: list[str]) -> None:
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    handled = sum(v for k, v in _FS.items() if k not in ("REFER", "TRUNCATE", "IOCTL_DEV"))
    if abi >= 2:
        handled |= _FS["REFER"]
    if abi >= 3:
        handled |= _FS["TRUNCATE"]
    if abi >= 5:
        handled |= _FS["IOCTL_DEV"]
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = (1 << 0) | (1 << 1)      # bind and connect TCP: none allowed
        size = 16
    if abi >= 6:
        attr.scoped = (1 << 0) | (1 << 1)                  # abstract unix sockets, signals
        size = 24
    rfd = libc.syscall(ctypes.c_long(444), ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if rfd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        ro = _FS["READ_FILE"] | _FS["READ_DIR"]
        rw = (ro | _FS["WRITE_FILE"] | _FS["REMOVE_DIR"] | _FS["REMOVE_FILE"] | _FS["MAKE_DIR"]
              | _FS["MAKE_REG"] | _FS["MAKE_SYM"] | _FS["MAKE_FIFO"])
        if abi >= 2:
            rw |= _FS["REFER"]
        if abi >= 3:
            rw |= _FS["TRUNCATE"]
        rules = [(p, ro) for p in read] + [(p, rw) for p in write]
        rules += [(p, _FS["READ_FILE"] | _FS["WRITE_FILE"]) for p in
                  ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random")]
        rules += [("/proc", ro), ("/sys", ro)]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    rights &= _FILE_RIGHTS
                rights &= handled
                rule = _PathBeneath(rights, fd)
                if libc.syscall(ctypes.c_long(445), ctypes.c_int(rfd), ctypes.c_int(1), ctypes.byref(rule),
                                ctypes.c_uint32(0)) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:                    # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if libc.syscall(ctypes.c_long(446), ctypes.c_int(rfd), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(rfd)


def _enter_namespaces() -> None:
    """New user and network namespaces (no network at all); the kernel is uid 1000 inside."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(0x10000000 | 0x40000000) != 0:           # CLONE_NEWUSER | CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "unshare failed")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"1000 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"1000 {gid} 1")


def _drop_capabilities() -> None:
    libc = _libc()

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    nr = {"x86_64": 126, "aarch64": 91}.get(os.uname().machine)
    if nr is None:
        return
    hdr = Header(0x20080522, 0)
    data = (Data * 2)()
    libc.syscall(ctypes.c_long(nr), ctypes.byref(hdr), ctypes.byref(data))


def _count_user_processes() -> int:
    uid = os.getuid()
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat(f"/proc/{d}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def enter_sandbox(cfg: dict) -> list[str]:
    """Called first thing in the student kernel: apply the isolation described by ``cfg``.

    Returns the list of protections in force. Raises if the requested level cannot be applied (the
    grader then reports the submission as not graded rather than grading it unprotected)."""
    import resource
    import signal

    applied = []
    linux = sys.platform.startswith("linux")
    level = cfg.get("level", "process")
    limits = cfg.get("limits", {})
    if drop_privileges(cfg) or (cfg.get("uid") is not None and os.geteuid() == int(cfg["uid"])):
        applied.append(f"unprivileged user {os.geteuid()}")
    if linux:
        _libc().prctl(1, signal.SIGKILL, 0, 0, 0)              # PR_SET_PDEATHSIG
        applied.append("dies with the grader")
    if linux and level == "landlock" and cfg.get("userns"):
        try:
            _enter_namespaces()
            applied.append("user+network namespaces (no network)")
        except OSError:
            pass
    if linux:
        _drop_capabilities()
        applied.append("no capabilities")
    mem = int(limits.get("memory_mb", 4096)) << 20
    nproc = _count_user_processes() + int(limits.get("extra_processes", 64)) if linux else None
    settings = [(resource.RLIMIT_DATA, mem), (resource.RLIMIT_CORE, 0),
                (resource.RLIMIT_FSIZE, int(limits.get("file_size_mb", 256)) << 20),
                (resource.RLIMIT_NOFILE, int(limits.get("open_files", 1024))),
                (resource.RLIMIT_CPU, int(cfg.get("cpu_seconds", 3600)))]
    if nproc is not None and hasattr(resource, "RLIMIT_NPROC"):
        settings.append((resource.RLIMIT_NPROC, nproc))
    for res, value in settings:
        try:
            soft, hard = resource.getrlimit(res)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)             # a too-large write fails instead of killing
    applied.append(f"limits: {limits.get('memory_mb')} MiB data, {limits.get('file_size_mb')} MiB files")
    if linux and level in ("landlock", "bwrap") and int(cfg.get("landlock_abi", 0)) >= 1:
        _landlock(int(cfg["landlock_abi"]), cfg.get("read", []), cfg.get("write", []))
        applied.append(f"landlock ABI {cfg['landlock_abi']}")
    return applied


def install_audit_hook(read: list[str], write: list[str]) -> None:
    """Refuse, from now on, what a submission has no business doing (see the module docstring)."""
    realpath, fsdecode, sep = os.path.realpath, os.fsdecode, os.sep
    pid = os.getpid()
    read_roots = tuple(sorted({os.path.normpath(p) for p in read} | {f"/proc/{pid}", "/proc/self",
                                                                     "/proc/cpuinfo", "/proc/meminfo",
                                                                     "/proc/stat", "/proc/sys/kernel/random",
                                                                     "/sys", "/dev/null",
                                                                     "/dev/urandom", "/dev/random",
                                                                     "/dev/zero"}))
    write_roots = tuple(sorted({os.path.normpath(p) for p in write} | {"/dev/null"}))
    denied = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
              "os.forkpty", "os.startfile", "resource.setrlimit", "resource.prlimit", "pty.spawn",
              "sqlite3.enable_load_extension", "sqlite3.load_extension", "webbrowser.open",
              "urllib.Request", "http.client.connect", "ftplib.connect", "smtplib.connect",
              "poplib.connect", "imaplib.open", "nntplib.connect", "telnetlib.Telnet.open",
              "cpython.PyInterpreterState_New", "os.setns"}
    path_write = {"os.mkdir", "os.rmdir", "os.remove", "os.chmod", "os.chown", "os.chflags", "os.lchflags",
                  "os.utime", "os.truncate", "os.setxattr", "os.removexattr", "shutil.rmtree",
                  "shutil.chown", "shutil.copymode", "shutil.copystat", "tempfile.mkstemp",
                  "tempfile.mkdtemp"}
    path_read = {"os.listdir", "os.scandir", "os.chdir", "os.listxattr", "os.getxattr", "glob.glob"}
    two_paths = {"os.rename", "os.link", "os.symlink", "shutil.move"}
    copies = {"shutil.copyfile", "shutil.copytree"}
    busy = [False]
    import pathlib

    path_types = (pathlib.PosixPath, pathlib.PurePosixPath, pathlib.WindowsPath, pathlib.PureWindowsPath)

    def plain(path):
        """``path`` as str or bytes without running the submission's code (an ``__fspath__`` of its
        own would run inside this hook, where nothing is checked); None for any other object."""
        if isinstance(path, (str, bytes)):
            return path
        if type(path) in path_types:
            return str(path)
        return None

    def inside(path, roots) -> bool:
        if isinstance(path, int) or path is None:
            return True
        path = plain(path)
        if path is None:
            return False
        try:
            p = fsdecode(path)
        except Exception:
            return False
        if not p:
            return True
        full = realpath(p)
        return any(full == r or full.startswith(r + sep) for r in roots)

    def refuse(what, path=None):
        if path is not None and plain(path) is None:
            path = f"<{type(path).__name__} object>"
        text = f"{what}{'' if path is None else f' {path!r}'}"
        benign = False
        if path is not None:
            try:
                p = realpath(fsdecode(plain(path)))
                benign = p.startswith(_BENIGN) or not os.path.lexists(p)
            except Exception:
                benign = False
        if not benign and len(VIOLATIONS) < 50 and text not in VIOLATIONS:
            VIOLATIONS.append(text)
        raise PermissionError(f"[grader sandbox] {what}{'' if path is None else f': {path!r}'} is not allowed")

    def hook(event, args):
        if busy[0]:
            return
        busy[0] = True
        try:
            if event == "open":
                path, mode, flags = (list(args) + [None, None, None])[:3]
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                    isinstance(flags, int)
                    and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))
                if not inside(path, write_roots if writing else read_roots + write_roots):
                    refuse("writing" if writing else "reading", path)
            elif event in denied or event.startswith(("socket.", "ctypes.", "_winapi.", "winreg.", "msvcrt.")):
                if event == "ctypes.dlopen":
                    # loading a library is harmless while calling into it stays refused; loading one the
                    # submission wrote is not
                    name = args[0] if args else None
                    if name is None or ("/" not in os.fsdecode(name) if isinstance(name, (str, bytes)) else True) \
                            or not inside(name, write_roots):
                        return
                if event in ("ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata", "ctypes.get_errno",
                             "ctypes.set_errno", "ctypes.addressof", "ctypes.cdata/buffer",
                             "ctypes.create_string_buffer", "ctypes.create_unicode_buffer"):
                    return
                if event == "socket.gethostname":
                    return
                refuse(event)
            elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
                target = args[0] if args else None
                if event == "os.kill" and target in (pid, 0) and target == pid:
                    return
                if event == "signal.pthread_kill":
                    return
                refuse(f"signalling process {target}")
            elif event == "sqlite3.connect":
                db = args[0] if args else None
                if db not in (":memory:", "", b":memory:") and not inside(db, write_roots):
                    refuse("opening the database", db)
            elif event in path_write:
                if args and not inside(args[0], write_roots):
                    refuse(event, args[0])
            elif event in path_read:
                if args and not inside(args[0], read_roots + write_roots):
                    refuse(event, args[0])
            elif event in two_paths:
                for p in args[:2]:
                    if isinstance(p, (str, bytes, os.PathLike)) and not inside(p, write_roots):
                        refuse(event, p)
            elif event in copies:
                if len(args) >= 2 and not (inside(args[0], read_roots + write_roots) and inside(args[1], write_roots)):
                    refuse(event, args[1])
        finally:
            busy[0] = False

    sys.addaudithook(hook)
