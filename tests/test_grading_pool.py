"""How the pool hands out jobs: a worker stays on its assignment, then takes one no other worker is on."""
from __future__ import annotations

from collections import deque
from types import SimpleNamespace

from autograder.grading.batch.pool import WorkerPool
from autograder.grading.model import Job


def _jobs(*names: str) -> deque:
    return deque(Job({"name": n}, f"s{i}", f"/tmp/s{i}", {}) for i, n in enumerate(names))


def _worker(assignment=None, busy=False):
    return SimpleNamespace(assignment=assignment, job={} if busy else None)


def test_a_worker_stays_on_its_assignment():
    pending = _jobs("a", "a", "b", "b", "b")
    w = _worker("b")
    assert pending[WorkerPool._pick(pending, w, [w])].assignment == "b"


def test_a_free_worker_takes_an_assignment_nobody_is_on():
    pending = _jobs("a", "a", "a", "b", "c", "c")
    other, w = _worker("a", busy=True), _worker(None)
    # "a" has the most jobs left but another worker is on it; of the others "c" has the most
    assert pending[WorkerPool._pick(pending, w, [other, w])].assignment == "c"


def test_assignments_are_shared_when_no_other_is_left():
    pending = _jobs("a", "a", "a")
    other, w = _worker("a", busy=True), _worker("b")
    assert pending[WorkerPool._pick(pending, w, [other, w])].assignment == "a"
