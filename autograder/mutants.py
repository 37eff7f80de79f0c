"""Mutation testing of the exercises' tests: a test suite that cannot tell right from wrong fails.

A :class:`Mutant` is a plausible wrong implementation of one exercise, written as text edits of its
solution cell. :func:`run_mutants` executes the solution notebook once in grading mode in a single
kernel, then for each mutant executes the edited solution cell followed by that exercise's graded
test cells, records which fail, and restores the correct solution. Only the cells an exercise needs
are re-run, so a notebook's mutants cost seconds, not a full execution each.
"""
from __future__ import annotations

import copy
import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from nbclient import NotebookClient

from .course import ROOT, exercises, nbmeta, read, source_path, venv_env

__all__ = ["Mutant", "MutantResult", "run_mutants", "load_mutants"]


@dataclass(frozen=True)
class Mutant:
    """``exercise``: the grade_id of the solution cell (e.g. ``"ex3_attention"``); ``why``: the
    mistake it models; ``edits``: ``{old_text: new_text}`` replacements in that cell (``old_text``
    must occur there). Every mutant must lose points both in the learner's kernel (``python -m autograder
    mutants``) and under the sealed grader (``python -m autograder grade-fidelity``)."""

    exercise: str
    why: str
    edits: Mapping[str, str]

    def apply(self, source: str) -> str:
        for old, new in self.edits.items():
            if old not in source:
                raise ValueError(f"mutant '{self.why}': text {old!r} not found in cell {self.exercise}")
            source = source.replace(old, new)
        return source


@dataclass
class MutantResult:
    mutant: Mutant
    failed_tests: list[str] = field(default_factory=list)
    points_lost: float = 0.0
    error: str = ""

    @property
    def caught(self) -> bool:
        return self.points_lost > 0


@dataclass
class MutantReport:
    notebook: str
    baseline_failures: list[str]
    results: list[MutantResult]
    seconds: float


def load_mutants(name: str) -> list[Mutant]:
    """The ``MUTANTS`` list of ``tests/mutants/<name>.py``."""
    path = ROOT / "tests" / "mutants" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"mutants_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.MUTANTS)


def _error_of(cell) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {str(out.get('evalue'))[:200]}"
    return ""


def run_mutants(name: str, mutants: list[Mutant], timeout: int = 120,
                path: Path | None = None) -> MutantReport:
    """Run every mutant of notebook ``name`` (or of the notebook at ``path``); see the module docstring."""
    start = time.perf_counter()
    path = Path(path) if path is not None else source_path(name)
    nb = read(path)
    exs = exercises(nb)
    by_id = {nbmeta(nb.cells[e.solution_index])["grade_id"]: e for e in exs.values()}
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3", shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.parent)}})
    results: list[MutantResult] = []
    baseline: list[str] = []
    with client.setup_kernel(env=venv_env(NBGRADER_EXECUTION="autograde", MPLBACKEND="agg")):
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, i)
                meta = nbmeta(cell)
                if meta.get("grade") and _error_of(cell):
                    baseline.append(f"{meta['grade_id']}: {_error_of(cell)}")
        for m in mutants:
            res = MutantResult(m)
            results.append(res)
            ex = by_id.get(m.exercise)
            if ex is None:
                res.error = f"no solution cell with grade_id {m.exercise}"
                continue
            original = nb.cells[ex.solution_index]
            mutated = copy.deepcopy(original)
            try:
                mutated.source = m.apply(original.source)
            except ValueError as e:
                res.error = str(e)
                continue
            client.execute_cell(mutated, ex.solution_index)
            if _error_of(mutated):
                # the old, correct definitions would still be in place: that tests nothing
                res.error = f"the mutated solution cell itself fails ({_error_of(mutated)})"
                client.execute_cell(copy.deepcopy(original), ex.solution_index)
                continue
            for t in ex.test_indices:
                test = copy.deepcopy(nb.cells[t])
                client.execute_cell(test, t)
                err = _error_of(test)
                if err:
                    res.failed_tests.append(f"{nbmeta(test)['grade_id']}: {err}")
                    res.points_lost += float(nbmeta(test).get("points", 0))
            client.execute_cell(copy.deepcopy(original), ex.solution_index)
    return MutantReport(name, baseline, results, time.perf_counter() - start)
