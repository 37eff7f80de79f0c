"""Real `nbgrader autograde` of every notebook: the solution earns full marks, the blank notebook zero."""
from __future__ import annotations

import pytest

from autograder import pipeline
from autograder.course import assignments

NAMES = assignments()


@pytest.mark.parametrize("name", NAMES)
def test_solution_full_marks_blank_zero(name, tmp_path):
    """Real `nbgrader autograde`: the solution earns 100/100, the untouched student notebook 0."""
    grades = pipeline.grade_solution_and_blank(name, tmp_path)
    sol, blank = grades["solution"], grades["blank"]
    assert sol.max_score == 100, f"{name}: worth {sol.max_score:g} points, not 100"
    lost = {k: v for k, v in sol.cells.items() if v < 1e-9 and k.endswith(("_visible", "_hidden"))}
    assert sol.score == sol.max_score, f"{name}: the solution scores {sol.score:g}/{sol.max_score:g}; zero in {lost}"
    earned = {k: v for k, v in blank.cells.items() if v > 0}
    assert blank.score == 0, f"{name}: the blank notebook earns {blank.score:g} points: {earned}"
