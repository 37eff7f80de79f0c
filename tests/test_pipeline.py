"""The solutions-to-notebooks pipeline: in sync, no leak, full marks, zero for blanks, mutants caught.

Each check runs per assignment so that a failure names the notebook, and so that pytest-xdist can
spread the assignments over workers.
"""
from __future__ import annotations

import filecmp

import nbformat
import pytest

from autograder import pipeline
from autograder.course import NOTEBOOKS, SOLUTIONS, assignments, exercises, read, release_path, source_path
from autograder.mutants import load_mutants, run_mutants
from autograder.release import release

NAMES = assignments()


def test_course_has_assignments():
    assert NAMES, "no assignments found in solutions/"


def test_release_folder_matches_solutions():
    released = sorted(p.name for p in NOTEBOOKS.iterdir() if p.is_dir())
    assert released == NAMES, (f"notebooks/ holds {released} but solutions/ holds {NAMES}: "
                               "run `python -m autograder release`")


@pytest.mark.parametrize("name", NAMES)
def test_structure(name):
    problems = pipeline.structure_problems(read(source_path(name)))
    assert not problems, f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", NAMES)
def test_in_sync(name, tmp_path):
    """Regenerating the student notebook reproduces notebooks/ exactly (files and bytes)."""
    release([name], into=tmp_path / "release", db_url=f"sqlite:///{tmp_path / 'gradebook.db'}")
    fresh, committed = tmp_path / "release" / name, NOTEBOOKS / name
    cmp = filecmp.dircmp(fresh, committed)
    assert not cmp.left_only and not cmp.right_only, (
        f"{name}: files differ (only fresh: {cmp.left_only}, only committed: {cmp.right_only}); "
        "run `python -m autograder release`")
    for f in sorted((fresh).rglob("*")):
        if f.is_file():
            other = committed / f.relative_to(fresh)
            assert f.read_bytes() == other.read_bytes(), (
                f"{other.relative_to(NOTEBOOKS.parent)} is not what `python -m autograder release {name}` "
                "generates: it was edited by hand or solutions/ changed since")


@pytest.mark.parametrize("name", NAMES)
def test_no_leak(name):
    found = pipeline.leaks(read(source_path(name)), read(release_path(name)))
    assert not found, f"{name}: the student notebook contains solution or hidden-test code: {found[:5]}"


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


@pytest.mark.parametrize("name", NAMES)
def test_mutants_lose_points(name):
    """Every exercise has mutants (plausible wrong implementations) and each one loses points."""
    mutants = load_mutants(name)
    exs = exercises(read(source_path(name)))
    covered = {m.exercise for m in mutants}
    solution_ids = {read(source_path(name)).cells[e.solution_index].metadata["nbgrader"]["grade_id"]
                    for e in exs.values()}
    assert solution_ids <= covered, f"{name}: exercises without a mutant: {sorted(solution_ids - covered)}"
    report = run_mutants(name, mutants)
    assert not report.baseline_failures, f"{name}: the solution fails its own tests: {report.baseline_failures}"
    bad = [f"{r.mutant.exercise}: {r.mutant.why} ({r.error or 'no test failed'})"
           for r in report.results if r.error or not r.caught]
    assert not bad, f"{name}: mutants that keep their points: {bad}"
