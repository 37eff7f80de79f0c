"""The sealed grader on the course's own notebooks: the solution scores full marks with every test cell
sealed, the released notebook scores zero, and every mutant of ``tests/mutants/`` loses points.

Every notebook of the course is checked (about four minutes in all; ``GRADER_FIDELITY=01_backprop``
checks one), as ``python -m autograder grade-fidelity`` does from the command line.
"""
from __future__ import annotations

import os

import pytest

from autograder.course import assignments, release_path
from autograder.grading.commands.fidelity import fidelity
from autograder.grading.host.tester import shutdown_workers_cache
from autograder.grading.model import Limits

pytestmark = pytest.mark.xdist_group("grading")

_ONLY = os.environ.get("GRADER_FIDELITY", "all")
_NAMES = [n for n in assignments() if _ONLY == "all" or n in _ONLY.split(",")]


@pytest.mark.parametrize("name", _NAMES or [pytest.param("01_backprop",
                                                         marks=pytest.mark.skip(reason="no such notebook yet"))])
def test_sealed_grading_agrees_with_the_tests(name):
    lines = []
    try:
        report = fidelity(name, Limits(cell_timeout=120, notebook_timeout=900, threads=1), log=lines.append)
    finally:
        shutdown_workers_cache()
    text = "\n".join(lines)
    assert report["solution"] == report["max"], text
    if release_path(name).exists():
        assert report["blank"] == 0, text
    missed = [m for m in report["mutants"] if m["lost"] <= 0]
    assert not missed, text
