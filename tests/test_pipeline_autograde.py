"""Stock `nbgrader autograde` of every notebook: the solution earns full marks, the blank notebook zero.

The commands run as an instructor runs them from a shell (see `autograder.pipeline.grade_solution_and_blank`):
in a fresh course folder, in their own processes, without the test run's environment, with nbgrader's
default handling of stderr (a test cell that writes to stderr scores 0).
"""
from __future__ import annotations

import pytest

from autograder import pipeline
from autograder.course import assignments

NAMES = assignments()


@pytest.mark.parametrize("name", NAMES)
def test_solution_full_marks_blank_zero(name, tmp_path):
    """Stock `nbgrader autograde`: the solution earns 100/100, the untouched student notebook 0."""
    grades = pipeline.grade_solution_and_blank(name, tmp_path)
    sol, blank = grades["solution"], grades["blank"]
    assert sol.max_score == 100, f"{name}: worth {sol.max_score:g} points, not 100"
    lost = {k: v for k, v in sol.cells.items() if v < 1e-9 and k.endswith(("_visible", "_hidden"))}
    stderr = {k: v[:300] for k, v in pipeline.stderr_of_cells(name, tmp_path, "solution").items() if k in lost}
    assert sol.score == sol.max_score, (f"{name}: the solution scores {sol.score:g}/{sol.max_score:g}; zero in {lost}"
                                        + (f"; stderr written by those cells: {stderr}" if stderr else ""))
    earned = {k: v for k, v in blank.cells.items() if v > 0}
    assert blank.score == 0, f"{name}: the blank notebook earns {blank.score:g} points: {earned}"
