"""A control group per student kernel: process, memory and CPU limits, and a kill of the whole group.

A student kernel and everything it starts (also processes that ``setsid`` or double-fork themselves
away from it) stay in the kernel's group, so the grader sees and bounds them from outside the kernel:

- ``pids.max``: at most so many tasks at once;
- memory: a hard limit (``memory.limit_in_bytes`` / ``memory.max``) and the group's anonymous memory,
  the figure the grader's memory watchdog compares with the kernel's cap;
- CPU: a CFS quota of ``cpus`` CPUs for the whole group (``cpu.cfs_quota_us`` / ``cpu.max``);
- :meth:`Group.procs` lists every process in the group (the grader treats any process besides the
  kernel itself as a violation, seen from outside the student's process);
- :meth:`Group.kill` freezes the group (v1 freezer) or writes ``cgroup.kill`` (v2) and kills every
  process in it; nothing the kernel started survives it.

Both cgroup v1 (one hierarchy per controller, as many container hosts mount them) and cgroup v2
(one unified hierarchy with ``pids``, ``memory`` and ``cpu`` delegated) are supported; the groups are
created below the grader's own cgroup, so the limits of the grader's own group still hold. Where
neither is writable (not root, no delegation) :func:`backend` says why and the grader falls back to
per-process limits and a process-tree watchdog, with a warning.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

__all__ = ["backend", "Group", "kill_groups_of", "reap_orphans"]

PREFIX = "ag-k"
_V1 = ("pids", "memory", "cpu", "cpuacct", "freezer")
_STATE: dict[str, object] = {}


def _mounts() -> list[tuple[str, str, set[str]]]:
    out = []
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
                    out.append((parts[1], parts[2], set(parts[3].split(","))))
    except OSError:
        pass
    return out


def _own(controller: str | None) -> str:
    """This process's cgroup path in the hierarchy of ``controller`` (None: the v2 one)."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                hid, ctrls, path = line.rstrip("\n").split(":", 2)
                names = set(ctrls.split(",")) if ctrls else set()
                if (controller is None and hid == "0") or (controller is not None and controller in names):
                    return path
    except (OSError, ValueError):
        pass
    return "/"


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: Path) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _probe_dir(base: Path) -> bool:
    d = base / f"ag-probe-{os.getpid()}"
    try:
        d.mkdir()
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        d.rmdir()
    except OSError:
        pass
    return True


def _detect() -> tuple[str | None, dict[str, Path], str]:
    if os.environ.get("AUTOGRADER_NO_CGROUP"):
        return None, {}, "disabled by AUTOGRADER_NO_CGROUP"
    if not os.path.isdir("/sys/fs/cgroup"):
        return None, {}, "no /sys/fs/cgroup"
    mounts = _mounts()
    reasons = []
    # cgroup v2 with the controllers this needs
    for mnt, kind, _ in mounts:
        if kind != "cgroup2":
            continue
        own = Path(mnt) / _own(None).lstrip("/")
        ctrls = set(_read(Path(mnt) / "cgroup.controllers").split())
        if not {"pids", "memory", "cpu"} <= ctrls:
            reasons.append(f"cgroup v2 at {mnt} lacks the pids/memory/cpu controllers")
            continue
        base = _v2_base(own)
        if base is not None:
            return "v2", {"unified": base}, f"cgroup v2 at {base}"
        reasons.append(f"cgroup v2 at {own} is not writable or its controllers are not delegated")
    # cgroup v1, one hierarchy per controller
    bases: dict[str, Path] = {}
    for ctrl in _V1:
        for mnt, kind, opts in mounts:
            if kind == "cgroup" and ctrl in opts:
                bases[ctrl] = Path(mnt) / _own(ctrl).lstrip("/")
                break
    missing = [c for c in ("pids", "memory", "cpu") if c not in bases]
    if missing:
        reasons.append(f"no cgroup v1 hierarchy for {', '.join(missing)}")
    elif not all(_probe_dir(b) for b in bases.values()):
        reasons.append("the cgroup v1 hierarchies are not writable (the grader is not root)")
    else:
        return "v1", bases, "cgroup v1 (" + ", ".join(sorted(bases)) + ")"
    return None, {}, "; ".join(reasons) or "no cgroup hierarchy is mounted"


def _v2_base(own: Path) -> Path | None:
    """A v2 cgroup below which groups with pids, memory and cpu can be made (None: none here).

    A v2 cgroup that holds processes cannot give its children controllers, so the grader moves itself
    into a leaf ``ag-grader-PID`` first when it has to."""
    want = "+pids +memory +cpu"
    if not os.access(own, os.W_OK):
        return None
    if {"pids", "memory", "cpu"} <= set(_read(own / "cgroup.subtree_control").split()):
        return own
    try:
        _write(own / "cgroup.subtree_control", want)
        return own
    except OSError:
        pass
    leaf = own / f"ag-grader-{os.getpid()}"
    try:
        leaf.mkdir(exist_ok=True)
        for pid in _read(own / "cgroup.procs").split():
            try:
                _write(leaf / "cgroup.procs", pid)
            except OSError:
                pass
        _write(own / "cgroup.subtree_control", want)
        return own
    except OSError:
        return None


def backend() -> tuple[str | None, str]:
    """("v1" | "v2" | None, a description or why there is none)."""
    if "kind" not in _STATE or _STATE.get("pid") != os.getpid():
        kind, bases, why = _detect()
        _STATE.update(kind=kind, bases=bases, why=why, pid=os.getpid(), n=0)
    return _STATE["kind"], _STATE["why"]        # type: ignore[return-value]


class Group:
    """One student kernel's control group (see the module docstring)."""

    def __init__(self, memory_bytes: int, tasks: int, cpus: float):
        kind, why = backend()
        if kind is None:
            raise OSError(why)
        self.kind = kind
        _STATE["n"] = int(_STATE["n"]) + 1
        self.name = f"{PREFIX}{os.getpid()}-{_STATE['n']}"
        bases: dict[str, Path] = _STATE["bases"]       # type: ignore[assignment]
        self.dirs = {c: b / self.name for c, b in bases.items()}
        self._baseline_oom = 0
        try:
            for d in self.dirs.values():
                d.mkdir(exist_ok=True)
            period = 100_000
            quota = max(10_000, int(cpus * period))
            if kind == "v1":
                _write(self.dirs["pids"] / "pids.max", str(tasks))
                mem = self.dirs["memory"]
                _write(mem / "memory.limit_in_bytes", str(memory_bytes))
                try:
                    _write(mem / "memory.memsw.limit_in_bytes", str(memory_bytes))
                except OSError:
                    pass                                       # no swap accounting here
                _write(self.dirs["cpu"] / "cpu.cfs_period_us", str(period))
                _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(quota))
            else:
                d = self.dirs["unified"]
                _write(d / "pids.max", str(tasks))
                _write(d / "memory.max", str(memory_bytes))
                try:
                    _write(d / "memory.swap.max", "0")
                except OSError:
                    pass
                _write(d / "cpu.max", f"{quota} {period}")
        except OSError:
            self.remove()
            raise
        self._baseline_oom = self.events().get("oom_kill", 0)

    # ------------------------------------------------------------------ membership
    def _procs_file(self) -> Path:
        return (self.dirs["unified"] if self.kind == "v2" else self.dirs["pids"]) / "cgroup.procs"

    def add(self, pid: int) -> None:
        """Move process ``pid`` (and the threads it has) into the group, in every hierarchy."""
        for d in self.dirs.values():
            _write(d / "cgroup.procs", str(pid))

    def add_self(self) -> None:
        """Move the calling process in (``preexec_fn`` of a process about to exec the kernel)."""
        self.add(os.getpid())

    def procs(self) -> list[int]:
        return [int(p) for p in _read(self._procs_file()).split() if p.isdigit()]

    # ------------------------------------------------------------------ accounting
    def memory_bytes(self) -> int:
        """Anonymous memory of every process in the group (what the kernel's memory cap bounds)."""
        d = self.dirs["unified" if self.kind == "v2" else "memory"]
        stats = {}
        for line in _read(d / "memory.stat").splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                stats[k] = int(v)
        if self.kind == "v2":
            return stats.get("anon", 0)
        return stats.get("total_rss", stats.get("rss", 0)) + stats.get("total_swap", 0)

    def cpu_seconds(self) -> float:
        if self.kind == "v2":
            for line in _read(self.dirs["unified"] / "cpu.stat").splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) / 1e6
            return 0.0
        d = self.dirs.get("cpuacct")
        text = _read(d / "cpuacct.usage").strip() if d else ""
        return int(text) / 1e9 if text.isdigit() else 0.0

    def events(self) -> dict[str, int]:
        """Counters the kernel keeps for the group: ``pids_max`` (forks refused at ``pids.max``),
        ``oom_kill`` (processes the memory limit killed)."""
        out = {}
        pids_dir = self.dirs["unified" if self.kind == "v2" else "pids"]
        for line in _read(pids_dir / "pids.events").splitlines():
            k, _, v = line.partition(" ")
            if k == "max" and v.strip().isdigit():
                out["pids_max"] = int(v)
        mem = self.dirs["unified" if self.kind == "v2" else "memory"]
        text = _read(mem / ("memory.events" if self.kind == "v2" else "memory.oom_control"))
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill" and v.strip().isdigit():
                out["oom_kill"] = int(v) - (self._baseline_oom if hasattr(self, "_baseline_oom") else 0)
        return out

    # ------------------------------------------------------------------ the end
    def kill(self, keep: set[int] | None = None, timeout: float = 5.0) -> list[int]:
        """Kill every process in the group (but those in ``keep``); returns the pids killed."""
        killed: list[int] = []
        if keep:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                stray = [p for p in self.procs() if p not in keep]
                if not stray:
                    break
                for p in stray:
                    try:
                        os.kill(p, signal.SIGKILL)
                        if p not in killed:
                            killed.append(p)
                    except OSError:
                        pass
                time.sleep(0.01)
            return killed
        killed = self.procs()
        if self.kind == "v2":
            try:
                _write(self.dirs["unified"] / "cgroup.kill", "1")
            except OSError:
                pass
        frozen = False
        fz = self.dirs.get("freezer")
        if self.kind == "v1" and fz is not None:
            try:
                _write(fz / "freezer.state", "FROZEN")
                frozen = True
                for _ in range(200):
                    if _read(fz / "freezer.state").strip() == "FROZEN":
                        break
                    time.sleep(0.005)
            except OSError:
                frozen = False
        deadline = time.monotonic() + timeout
        while True:
            pids = self.procs()
            if not pids:
                break
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            if frozen:
                try:
                    _write(fz / "freezer.state", "THAWED")      # killed tasks exit once thawed
                except OSError:
                    pass
                frozen = False
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        return killed

    def remove(self) -> None:
        for d in self.dirs.values():
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)

    def close(self) -> None:
        self.kill()
        self.remove()


def _groups_named(prefix: str) -> list[Group]:
    kind, _ = backend()
    if kind is None:
        return []
    bases: dict[str, Path] = _STATE["bases"]           # type: ignore[assignment]
    main = bases["unified" if kind == "v2" else "pids"]
    found = []
    for root, dirs, _files in os.walk(main):
        for name in dirs:
            if name.startswith(prefix):
                rel = (Path(root) / name).relative_to(main)
                g = Group.__new__(Group)
                g.kind, g.name, g._baseline_oom = kind, name, 0
                g.dirs = {c: b / rel for c, b in bases.items()}
                found.append(g)
    return found


def kill_groups_of(pid: int) -> int:
    """Kill and remove the kernel groups that process ``pid`` (a grading worker) made; returns how
    many there were. Used when a worker is killed or dies with kernels still running."""
    groups = _groups_named(f"{PREFIX}{pid}-")
    for g in groups:
        g.close()
    return len(groups)


def reap_orphans() -> int:
    """Kill and remove kernel groups whose grading process is gone (a grader killed with ``-9``)."""
    n = 0
    for g in _groups_named(PREFIX):
        try:
            owner = int(g.name[len(PREFIX):].split("-")[0])
        except ValueError:
            continue
        if not os.path.exists(f"/proc/{owner}"):
            g.close()
            n += 1
    return n

