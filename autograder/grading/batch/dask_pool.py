"""Grading on Dask distributed: each submission is one task, the records come back as they finish.

``python -m autograder grade --scheduler tcp://HOST:8786`` (or ``DLNLP_DASK_SCHEDULER``) hands the
jobs that the local pool would grade to the workers of a running Dask scheduler instead. A task carries
everything a worker needs: the assignment's spec with its hidden tests, the submission's files as bytes,
the limits and the isolation level asked for. Paths travel relative to the course root, and each worker
grades in its own checkout of the same course (``DLNLP_COURSE_ROOT``, else the checkout it runs from).
The record comes back to the machine that runs ``grade``, which writes it to the gradebook and
``autograded/`` as it arrives, so a stopped run resumes as a local one does.

On the worker a task runs in the local pool's own hardened worker process (:class:`~.pool.WorkerPool`
of one, kept warm between tasks): the same sandbox, control groups, limits and unprivileged user as a
local run, and the same per-job time limit.

Before the first task every worker is asked what it can do (:func:`worker_report`). A worker whose
isolation is weaker than asked, whose engine version differs, or whose copy of an assignment differs
from the instructor's is refused with its name and the reason, and gets no task. Each record says which
worker graded it and at which isolation level; a record graded below the level asked is not accepted.

Faults: a worker killed mid-task loses nothing, Dask runs the task again elsewhere. A submission whose
task kills its worker again and again ends, after the scheduler's ``allowed-failures``, as a failed
record with that reason; the batch goes on. A scheduler that goes away stops ``grade`` with
:class:`SchedulerLost`; the records already written stay, and running ``grade`` again resumes.
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from ..host.isolation import detect
from ..model import ENGINE_VERSION, LEVELS, IsolationUnavailable, Job, Result
from .pool import WorkerPool

__all__ = ["DaskPool", "LocalCluster", "DaskUnavailable", "SchedulerLost", "WorkerReport", "worker_report",
           "grade_task",
           "course_digest", "scheduler_address", "SCHEDULER_ENV", "COURSE_ENV"]

SCHEDULER_ENV = "DLNLP_DASK_SCHEDULER"
COURSE_ENV = "DLNLP_COURSE_ROOT"
_PATH_KEYS = ("source_dir", "release_dir")


class DaskUnavailable(RuntimeError):
    """No scheduler answered, or no worker of it may grade (each refusal is in the message)."""


class SchedulerLost(RuntimeError):
    """The scheduler went away during the batch; the records that came back are saved."""


def scheduler_address(option: str | None) -> str | None:
    """The scheduler named by ``--scheduler``, else by ``DLNLP_DASK_SCHEDULER``; None for the local pool."""
    return option or os.environ.get(SCHEDULER_ENV) or None


# ------------------------------------------------------------------------------------ the course's copy
def _course_root() -> Path:
    env = os.environ.get(COURSE_ENV)
    return Path(env).resolve() if env else Path(__file__).resolve().parents[3]


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
                  and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(folder).parts))


def course_digest(spec: dict) -> str:
    """A digest of what grading an assignment reads from the course (the instructor's folder, the
    files handed out) and of the engine version, independent of where the course lies."""
    h = hashlib.sha256(ENGINE_VERSION.encode())
    for key in _PATH_KEYS:
        folder = spec.get(key)
        h.update(f"\0{key}\0".encode())
        if not folder or not Path(folder).is_dir():
            continue
        for p in _files(Path(folder)):
            h.update(str(p.relative_to(folder)).encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:20]


def _relative(path: str | None, root: Path) -> str | None:
    if not path:
        return path
    p = Path(path).resolve()
    if not p.is_relative_to(root):
        raise ValueError(f"{p} is not inside the course folder {root}: a Dask worker could not find it")
    return str(PurePosixPath(*p.relative_to(root).parts)) or "."


def _absolute(path: str | None, root: Path) -> str | None:
    if not path:
        return path
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"refusing the path {path!r}: not inside the course")
    return str(root.joinpath(*rel.parts))


def portable_spec(spec: dict, root: Path) -> dict:
    """``spec`` with its paths relative to the course root ``root``."""
    out = dict(spec)
    for key in _PATH_KEYS:
        out[key] = _relative(spec.get(key), root)
    out["notebooks"] = [dict(nb, source_path=_relative(nb["source_path"], root)) for nb in spec["notebooks"]]
    return out


def local_spec(spec: dict, root: Path) -> dict:
    """A portable spec with its paths inside this machine's course root ``root``."""
    out = dict(spec)
    for key in _PATH_KEYS:
        out[key] = _absolute(spec.get(key), root)
    out["notebooks"] = [dict(nb, source_path=_absolute(nb["source_path"], root)) for nb in spec["notebooks"]]
    return out


# ------------------------------------------------------------------------------------- what travels
def _pack(folder: Path, max_bytes: int) -> dict:
    """The submission folder as ``{relative path: bytes}``; a file over ``max_bytes`` travels as its size
    only (the worker recreates it sparse, so the engine refuses it exactly as it would here)."""
    files, sizes = {}, {}
    if folder.is_dir():
        for p in _files(folder):
            rel = str(PurePosixPath(*p.relative_to(folder).parts))
            size = p.stat().st_size
            if size > max_bytes:
                sizes[rel] = size
            else:
                files[rel] = p.read_bytes()
    return {"files": files, "sizes": sizes}


def _unpack(packed: dict, folder: Path) -> None:
    def target(rel: str) -> Path:
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise ValueError(f"refusing the submission path {rel!r}")
        path = folder.joinpath(*pure.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    for rel, data in packed["files"].items():
        target(rel).write_bytes(data)
    for rel, size in packed["sizes"].items():
        with open(target(rel), "wb") as f:
            f.truncate(int(size))


def _payload(job: Job, root: Path, digests: dict[str, str]) -> dict:
    cap = (int((job.limits or {}).get("notebook_mb", 20)) + 1) << 20
    spec = portable_spec(job.spec, root)
    return {"job": dict(job.to_dict(), spec=spec, folder=""), "course_digest": digests[spec["name"]],
            "submission": _pack(Path(job.folder), cap)}


# ------------------------------------------------------------------------------------- worker side
@dataclass
class WorkerReport:
    """What a worker answers before it gets a task."""

    address: str
    name: str
    host: str
    isolation: str | None           # the strongest level at or below the one asked that works there
    detail: str
    engine: str
    course_root: str
    mismatched: list[str] = field(default_factory=list)   # assignments whose copy differs
    error: str | None = None

    def refusal(self, asked: str) -> str | None:
        """Why this worker may not grade at ``asked`` (None when it may)."""
        if self.error:
            return self.error
        if self.engine != ENGINE_VERSION:
            return f"its grading engine is version {self.engine}, this one is {ENGINE_VERSION}"
        if self.isolation is None or LEVELS.index(self.isolation) > LEVELS.index(asked):
            return f"its isolation is {self.isolation or 'none'}, weaker than the {asked} asked for"
        if self.mismatched:
            return (f"its course at {self.course_root} differs for {', '.join(self.mismatched)} "
                    "(another version of the course or of its hidden tests)")
        return None


def worker_report(asked: str, specs: dict[str, dict], dask_worker=None) -> dict:
    """Run on each worker by :meth:`distributed.Client.run`: its isolation, engine and course."""
    import socket

    root = _course_root()
    rep = WorkerReport(address=getattr(dask_worker, "address", ""), name=str(getattr(dask_worker, "name", "")),
                       host=socket.gethostname(), isolation=None, detail="", engine=ENGINE_VERSION,
                       course_root=str(root))
    try:
        iso = detect(asked)
        rep.isolation, rep.detail = iso.level, iso.describe()
    except IsolationUnavailable as e:
        rep.detail = str(e)
    try:
        for name, (spec, digest) in specs.items():
            if course_digest(local_spec(spec, root)) != digest:
                rep.mismatched.append(name)
    except Exception as e:  # a worker that cannot even read its course is refused with the cause
        rep.error = f"it cannot read its course at {root}: {type(e).__name__}: {e}"
    return asdict(rep)


_POOLS: list[WorkerPool] = []
_POOLS_LOCK = threading.Lock()


def _close_pools() -> None:
    with _POOLS_LOCK:
        while _POOLS:
            _POOLS.pop().close()


atexit.register(_close_pools)


def grade_task(payload: dict, job_timeout: float) -> dict:
    """Grade one submission on this worker (a Dask task); return its record (:meth:`Result.to_dict`)."""
    root = _course_root()
    job = Job.from_dict(payload["job"])
    job.spec = local_spec(job.spec, root)
    if course_digest(job.spec) != payload["course_digest"]:
        raise RuntimeError(f"the course at {root} differs from the instructor's for {job.assignment}")
    asked = job.isolation
    iso = detect(asked)
    if LEVELS.index(iso.level) > LEVELS.index(asked):
        raise RuntimeError(f"isolation {iso.level} here is weaker than the {asked} asked for")
    tmp = Path(tempfile.mkdtemp(prefix="ag-dask-"))
    try:
        folder = tmp / "submission"
        folder.mkdir()
        _unpack(payload["submission"], folder)
        job.folder = str(folder)
        out: list[Result] = []
        with _POOLS_LOCK:
            pool = _POOLS.pop() if _POOLS else WorkerPool(1)
        try:
            pool.run([job], lambda _job, result: out.append(result), lambda _job: job_timeout)
        finally:
            with _POOLS_LOCK:
                _POOLS.append(pool)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    record = out[0].to_dict()
    try:
        from distributed import get_worker

        w = get_worker()
        record["worker"] = f"{w.name} ({w.address})" if w.name != w.address else w.address
    except (ImportError, ValueError):
        pass
    return record


# ------------------------------------------------------------------------------------- client side
class DaskPool:
    """The local pool's interface (:meth:`run`, :meth:`close`) on a Dask scheduler's workers."""

    def __init__(self, address: str, isolation: str, course_root: Path, log: Callable[[str], None] = print,
                 security=None, connect_timeout: float = 20.0):
        try:
            from distributed import Client
        except ImportError as e:  # pragma: no cover - installed by requirements.txt
            raise DaskUnavailable("grading on Dask needs the 'distributed' package (pip install distributed)") from e
        for name in ("distributed", "tornado", "asyncio"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.address, self.isolation, self.root, self.log = address, isolation, Path(course_root).resolve(), log
        try:
            self.client = Client(address, security=security, timeout=connect_timeout, set_as_default=False)
        except Exception as e:
            raise DaskUnavailable(f"no Dask scheduler answered at {address}: {type(e).__name__}: {e}") from e
        self.accepted: dict[str, WorkerReport] = {}
        self._checked: dict[str, str] = {}

    def _admit(self, specs: dict[str, dict]) -> None:
        """Ask every worker what it can do; keep those that may grade ``specs`` at the level asked."""
        digests = {name: course_digest(spec) for name, spec in specs.items()}
        if self.accepted and all(self._checked.get(n) == d for n, d in digests.items()):
            return
        portable = {name: (portable_spec(spec, self.root), digests[name]) for name, spec in specs.items()}
        try:
            reports = self.client.run(worker_report, self.isolation, portable)
        except Exception as e:
            raise DaskUnavailable(f"the workers of {self.address} could not be asked what they can do: "
                                  f"{type(e).__name__}: {e}") from e
        self.accepted = {}
        for address, rep in sorted(reports.items()):
            rep = WorkerReport(**rep)
            why = rep.refusal(self.isolation)
            named = rep.name and rep.name != address
            label = f"{rep.name} ({address}) on {rep.host}" if named else f"{address} on {rep.host}"
            if why:
                self.log(f"refusing Dask worker {label}: {why}")
            else:
                self.accepted[address] = rep
                self.log(f"Dask worker {label}: isolation {rep.isolation} ({rep.detail})")
        if not self.accepted:
            raise DaskUnavailable(f"no worker of the Dask scheduler at {self.address} may grade "
                                  f"({len(reports)} refused; see above)")
        self._checked = digests

    def run(self, jobs: list[Job], on_result: Callable[[Job, Result], None],
            job_timeout: Callable[[Job], float]) -> None:
        """Grade ``jobs`` on the workers; call ``on_result(job, record)`` here as each comes back."""
        from distributed import KilledWorker, as_completed

        if not jobs:
            return
        specs = {j.assignment: j.spec for j in jobs}
        self._admit(specs)
        digests = dict(self._checked)
        workers = sorted(self.accepted)
        futures = {}
        for job in sorted(jobs, key=lambda j: (j.assignment, j.student)):
            key = f"grade-{job.assignment}-{job.student}-{uuid.uuid4().hex[:8]}"
            fut = self.client.submit(grade_task, _payload(job, self.root, digests), job_timeout(job), key=key,
                                     pure=False, workers=workers, allow_other_workers=False)
            futures[fut] = job
        done = 0
        for fut in as_completed(list(futures), loop=self.client.loop):
            job = futures[fut]
            if fut.status == "finished":
                record = Result.from_dict(fut.result())
                level = record.isolation
                if level not in LEVELS or LEVELS.index(level) > LEVELS.index(job.isolation):
                    record = Result.failed(job, "weak_isolation", f"graded by {record.worker} at isolation "
                                                                  f"{level}, weaker than the {job.isolation} asked for")
            elif fut.status == "error":
                exc = fut.exception()
                if isinstance(exc, KilledWorker):
                    record = Result.failed(job, "grader_crash", "grading this submission killed the Dask workers "
                                                                "that took it, each time; it is not graded")
                else:
                    record = Result.failed(job, "grader_error", f"the Dask worker failed: {type(exc).__name__}: {exc}")
            else:
                for other in futures:
                    other.cancel()
                raise SchedulerLost(f"the Dask scheduler at {self.address} went away after {done} of {len(jobs)} "
                                    "submissions; their records are saved. Start the scheduler and its workers "
                                    "again and run the same grade command to grade the rest.")
            on_result(job, record)
            done += 1

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        except Exception:
            pass


class LocalCluster:
    """A Dask scheduler and ``workers`` workers (one thread each) on 127.0.0.1 that grade the course at
    ``course_root``: what ``grade-bench --scheduler local`` measures against the local pool."""

    def __init__(self, workers: int, course_root: Path):
        self.workers, self.root = workers, Path(course_root)
        self.procs: list = []
        self.folder = Path(tempfile.mkdtemp(prefix="ag-dask-cluster-"))

    def start(self, timeout: float = 120.0) -> str:
        import json
        import subprocess
        import sys
        import time

        dask = str(Path(sys.executable).parent / "dask")
        env = dict(os.environ, **{COURSE_ENV: str(self.root)})
        env.pop(SCHEDULER_ENV, None)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True, "env": env}
        file = self.folder / "scheduler.json"
        self.procs.append(subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                            "--scheduler-file", str(file)], **quiet))
        for i in range(self.workers):
            self.procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(file), "--nthreads", "1",
                                                "--no-nanny", "--no-dashboard", "--name", f"local-{i + 1}"], **quiet))
        from distributed import Client

        deadline = time.monotonic() + timeout
        while not file.exists():
            if time.monotonic() > deadline:
                self.stop()
                raise DaskUnavailable("the local Dask scheduler did not start")
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        with Client(address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(self.workers, timeout=timeout)
        return address

    def stop(self) -> None:
        import signal

        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=20)
                except (ProcessLookupError, OSError):
                    pass
                except Exception:
                    os.killpg(proc.pid, signal.SIGKILL)
        self.procs = []
        shutil.rmtree(self.folder, ignore_errors=True)
