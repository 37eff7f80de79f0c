"""Every exercise's tests tell right from wrong: each mutant (a plausible mistake) loses points."""
from __future__ import annotations

import pytest

from autograder.course import assignments, exercises, read, source_path
from autograder.mutants import load_mutants, run_mutants

NAMES = assignments()


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
