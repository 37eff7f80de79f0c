"""A pool of grading workers that no submission can stop.

A worker is a separate process (``python -m autograder.grading.batch.pool worker FD``) that reads jobs as
JSON, runs :func:`~.engine.grade_submission` for one at a time and answers with the result record,
also as JSON: the same contract a distributed engine would use to run jobs on other machines. A
worker keeps its zygotes between jobs of the same assignment, and jobs are handed out so that a
worker stays on one assignment while there are jobs for it and otherwise moves to an assignment no
other worker is on (see :meth:`WorkerPool._pick`).

A worker that dies, or a job that runs past its hard limit, costs that job only: the worker's whole
process tree is killed, and with it the control group of every student kernel it started
(:mod:`.cgroup`: also what a submission detached from its kernel), the job gets a ``grader_crash`` or
``job_timeout`` record flagged for review, and a fresh worker takes its place. A pool starts by
killing the kernel groups of graders that no longer run (a grader killed with ``-9``).
"""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections import deque
from typing import Callable

from ..channel.framing import Channel, ChannelClosed, ProtocolError
from ..model import Job, Result

__all__ = ["WorkerPool", "run_jobs", "grade_job"]


def grade_job(job: Job) -> Result:
    """Grade one job where this process runs: the unit a pool of any kind (these worker processes, or
    workers on other machines) hands out. A failure of the grader becomes a flagged result."""
    from ..engine import grade_submission

    try:
        result = Result.from_dict(grade_submission(job.spec, job.student, job.folder, job.limits, job.isolation,
                                                   job.timestamp))
        result.input_hash = job.input_hash
    except Exception as e:
        result = Result.failed(job, "grader_error", f"{type(e).__name__}: {e}\n{traceback.format_exc()[-2000:]}")
    return result


def worker_main(fd: int) -> int:
    """Grade jobs from the channel ``fd`` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from ..host.tester import shutdown_workers_cache

    ch = Channel(fd)
    try:
        while True:
            try:
                job, _ = ch.recv()
            except (ChannelClosed, ProtocolError):
                break
            if not job or job.get("q") == "exit":
                break
            result = grade_job(Job.from_dict(job))
            result.worker = os.getpid()
            ch.send(result.to_dict())
    finally:
        shutdown_workers_cache()
    return 0


class _Worker:
    def __init__(self):
        parent, child = socket.socketpair()
        argv = [sys.executable, "-m", "autograder.grading.batch.pool", "worker", str(child.fileno())]
        self.proc = subprocess.Popen(argv,
                                     pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        child.close()
        self.sock = parent
        self.ch = Channel(parent.fileno())
        self.job: dict | None = None
        self.started = 0.0
        self.assignment: str | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        from ..host import cgroup
        from ..host.procs import kill_tree

        if self.proc.poll() is None:
            kill_tree(self.proc.pid)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:
            cgroup.kill_groups_of(self.proc.pid)
        except OSError:
            pass
        if self.proc.poll() is not None:
            from ..host.kernels import release_scratch_of
            from ..host.withheld import release_copies_of

            release_scratch_of(self.proc.pid)
            release_copies_of(self.proc.pid)
        try:
            self.sock.close()
        except OSError:
            pass


class WorkerPool:
    """``workers`` grading processes kept between batches (their zygotes stay warm)."""

    def __init__(self, workers: int):
        from ..host import cgroup

        self.size = max(1, workers)
        self.pool: list[_Worker] = []
        try:
            cgroup.reap_orphans()
        except OSError:
            pass

    def run(self, jobs: list[Job], on_result: Callable[[Job, Result], None],
            job_timeout: Callable[[Job], float]) -> None:
        """Grade ``jobs``; call ``on_result(job, result)`` here as each finishes (also a job whose
        worker died or ran past ``job_timeout(job)`` seconds: a flagged :meth:`Result.failed`)."""
        pending = deque(sorted(jobs, key=lambda j: (j.assignment, j.student)))
        while len(self.pool) < min(self.size, len(jobs)):
            self.pool.append(_Worker())
        pool = self.pool
        while pending or any(w.job is not None for w in pool):
            for i, w in enumerate(pool):
                if w.job is None and pending:
                    pick = self._pick(pending, w, pool)
                    pending.rotate(-pick)
                    job = pending.popleft()
                    pending.rotate(pick)
                    w.job, w.started, w.assignment = job, time.monotonic(), job.assignment
                    try:
                        w.ch.send(job.to_dict())
                    except (OSError, ChannelClosed):
                        w.job = None
                        on_result(job, Result.failed(job, "grader_crash", "the grading worker could not take the job"))
                        w.kill()
                        pool[i] = _Worker()
            busy = [w for w in pool if w.job is not None]
            if not busy:
                continue
            ready, _, _ = select.select([w.sock for w in busy], [], [], 1.0)
            now = time.monotonic()
            for i, w in enumerate(pool):
                if w.job is None:
                    continue
                if w.sock in ready:
                    try:
                        result, _ = w.ch.recv(timeout=60)
                    except (ChannelClosed, ProtocolError, TimeoutError, OSError):
                        result = None
                    if result is not None:
                        job, w.job = w.job, None
                        on_result(job, Result.from_dict(result))
                        continue
                if (w.sock in ready) or not w.alive():
                    job, w.job = w.job, None
                    why = f"the grading worker died (exit status {w.proc.poll()}); the submission is not graded"
                    on_result(job, Result.failed(job, "grader_crash", why))
                    w.kill()
                    pool[i] = _Worker()
                elif now - w.started > job_timeout(w.job):
                    job, w.job = w.job, None
                    why = f"grading took longer than {job_timeout(job):.0f} s and was stopped"
                    on_result(job, Result.failed(job, "job_timeout", why))
                    w.kill()
                    pool[i] = _Worker()

    @staticmethod
    def _pick(pending: deque, worker: "_Worker", pool: list["_Worker"]) -> int:
        """The index in ``pending`` of the next job for ``worker``. Starting a worker's zygotes for an
        assignment costs about as much as grading a few submissions, so a worker stays on its
        assignment while it has jobs, then moves to an assignment no other worker is on (the one with
        the most jobs left), and shares one only when none is left: each assignment's zygotes are
        started about once per batch, not once per worker."""
        names = [j.assignment for j in pending]
        if worker.assignment in names:
            return names.index(worker.assignment)
        held = {w.assignment for w in pool if w is not worker and w.job is not None}
        left: dict[str, int] = {}
        for n in names:
            left[n] = left.get(n, 0) + 1
        free = [n for n in left if n not in held]
        best = max(free or left, key=lambda n: left[n])
        return names.index(best)

    def close(self) -> None:
        for w in self.pool:
            try:
                w.ch.send({"q": "exit"})
            except (OSError, ChannelClosed):
                pass
        deadline = time.monotonic() + 15
        for w in self.pool:
            try:
                w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            w.kill()
        self.pool = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def run_jobs(jobs: list[Job], workers: int, on_result: Callable[[Job, Result], None],
             job_timeout: Callable[[Job], float]) -> None:
    """Grade ``jobs`` with a fresh pool of ``workers`` processes (see :class:`WorkerPool`)."""
    with WorkerPool(workers) as pool:
        pool.run(jobs, on_result, job_timeout)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        sys.exit(worker_main(int(sys.argv[2])))
    print(__doc__)
    sys.exit(2)

