"""The student kernel as the grader starts, watches and stops it, and its per-worker zygote."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..channel.framing import Channel, ChannelClosed, ProtocolError
from ..model import Isolation, Limits
from . import cgroup
from . import isolation as sandbox
from .procs import (
    KernelStartError,
    cmdline,
    comm,
    host_pid,
    kernel_ident,
    kill_tree,
    mpl_font_cache,
    open_parents,
    pid_alive,
    ppid,
    process_tree,
    rss_mb,
    stop_zygote,
)


class StudentKernel:
    """The sandboxed process that runs a submission's cells (see :mod:`.kernel`).

    Started on its own (``direct``), or forked from a :class:`KernelZygote` (``zygote``): the fork
    skips the imports and the start-up, and the child applies the same sandbox before any cell."""

    def __init__(self, workdir: Path, iso: Isolation, limits: Limits, logdir: Path,
                 preload: list[str] | None = None, zygote: "KernelZygote | None" = None,
                 withheld_root: str | None = None):
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
        cache = mpl_font_cache()
        if cache:
            for f in Path(cache).glob("fontlist*.json"):
                shutil.copy(f, Path(env["MPLCONFIGDIR"]) / f.name)
        self.ident = zygote.ident if zygote is not None else kernel_ident(iso)
        sandbox.hand_over(workdir, self.ident)
        if self.ident is not None and iso.level != "bwrap":
            open_parents(workdir)
        read, write = sandbox.allowed_roots(workdir, withheld_root=withheld_root)
        init = {"workdir": str(workdir), "level": iso.level, "landlock_abi": iso.landlock_abi,
                "userns": iso.userns and iso.level == "landlock", "read": read, "write": write,
                "limits": limits.as_dict(), "preload": list(preload or []), "audit": True, "env": env,
                "cpu_seconds": int(limits.notebook_timeout * max(1, limits.threads) * 2 + 120)}
        if withheld_root:
            init["path"] = [withheld_root]       # dlnlp with the answers not graded yet left out (.withheld)
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
                argv = [sys.executable, "-I", "-m", "autograder.grading.inside.kernel", "student",
                        str(ctl_child.fileno()), str(rpc_child.fileno())]
                cmd = sandbox.build_command(argv, workdir, iso, env, ident=self.ident, withheld_root=withheld_root)
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
                self.kernel_pid = host_pid(self.proc.pid, int(msg.get("pid", -1))) or self.pid
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
        return pid_alive(getattr(self, "pid", -1))

    def exit_code(self):
        return self.proc.poll() if self.proc is not None else None

    def pids(self) -> list[int]:
        """Every process of the kernel: its control group (also what left its process tree), else its
        process tree."""
        if self.group is not None:
            return self.group.procs()
        pid = getattr(self, "pid", None)
        return process_tree(pid) if pid else []

    def memory_cap_mb(self) -> float:
        return self.limits.memory_mb * 1.25 + 512

    def memory_limit_bytes(self) -> int:
        """The control group's hard limit: the watchdog's cap plus the tmpfs folder (its pages are
        charged to the group) and some room for the watchdog to act first."""
        return int(self.memory_cap_mb() + self.limits.disk_mb + 256) << 20

    def memory_mb(self) -> float:
        if self.group is not None:
            return self.group.memory_bytes() / 2 ** 20
        return rss_mb(self.pids())

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
            p = ppid(p)
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
                names = [f"{cmdline(p) or comm(p) or '?'}" for p in stray[:5]]
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
            if comm(p) == "bwrap":
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
            kill_tree(pid)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except Exception:
                pass
        else:
            for _ in range(100):
                if not pid or not pid_alive(pid):
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

    def __init__(self, iso: Isolation, limits: Limits, preload: list[str], withheld_root: str | None = None):
        self.key = (iso.level, tuple(preload), limits.threads, limits.disk_mb, withheld_root)
        self.iso = iso
        self.ident = kernel_ident(iso)
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
        cache = mpl_font_cache()
        if cache:
            for f in Path(cache).glob("fontlist*.json"):
                shutil.copy(f, Path(env["MPLCONFIGDIR"]) / f.name)
        sandbox.hand_over(base, self.ident)
        parent, child = socket.socketpair()
        argv = [sys.executable, "-I", "-m", "autograder.grading.inside.kernel", "student-zygote", str(child.fileno())]
        cmd = sandbox.build_command(argv, self.scratch, iso, env, ident=self.ident, withheld_root=withheld_root)
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
                          "path": [withheld_root] if withheld_root else [],
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
            for p in process_tree(self.proc.pid):
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
        stop_zygote(self.proc, self.sock, self._log)
        sandbox.unmount_quota(self.scratch)
        shutil.rmtree(self.scratch, ignore_errors=True)
        try:
            self.log_path.unlink()
        except OSError:
            pass


KERNEL_ZYGOTES: dict[tuple, KernelZygote] = {}


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




def kernel_zygote_for(iso: Isolation, limits: Limits, preload: list[str],
                      withheld_root: str | None = None) -> KernelZygote | None:
    """This worker's kernel zygote for these imports (None where forking is not an option)."""
    if not sys.platform.startswith("linux") or os.environ.get("AUTOGRADER_NO_ZYGOTE"):
        return None
    key = (iso.level, tuple(preload), limits.threads, limits.disk_mb, withheld_root)
    z = KERNEL_ZYGOTES.get(key)
    if z is not None and z.alive():
        return z
    for k in list(KERNEL_ZYGOTES):
        KERNEL_ZYGOTES.pop(k).close()
    z = KernelZygote(iso, limits, preload, withheld_root)
    KERNEL_ZYGOTES[key] = z
    return z


