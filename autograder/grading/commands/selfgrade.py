"""``python -m autograder selfgrade NOTEBOOK``: grade your own notebook with the hidden tests.

For self-study. The notebook is graded exactly as an instructor's ``grade`` would grade it (the same
engine, sandbox, time limits and sealed tests), with the hidden tests taken from the instructor's
notebook in the local ``solutions/`` folder. It prints every test cell's name, whether its tests are
visible or hidden, its points and, when it failed, the error's type and message; then the score.

It never prints hidden-test source: no traceback is shown, and a message line that quotes a line of a
hidden test is replaced by ``[hidden test code]``. (The source is of course in ``solutions/``, which
also holds the answers: reading it spoils the exercise.) Without ``solutions/`` it says so; the
visible tests alone are ``python -m autograder check``.

Exit status: 0 when the notebook was graded, 1 when it could not be read, 2 when there is no released
or instructor notebook to grade it against.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from ..batch.feedback import hidden_lines, mask_secrets, released_lines
from ..engine import grade_submission
from ..model import AssignmentSpec, Limits, assignment_of, notebook_spec
from .check import find_release

__all__ = ["spec_from_solution", "selfgrade", "main"]

_UNREADABLE = {"invalid_json", "empty_file", "not_a_notebook", "invalid_notebook", "unreadable_file",
               "missing_notebook"}


def spec_from_solution(solution: Path, release: Path | None = None) -> AssignmentSpec:
    """The spec ``generate_assignment`` would record for the instructor's notebook ``solution``: every
    nbgrader cell with its source (hidden tests included), points, lock and checksum."""
    return assignment_of([notebook_spec(solution)], solution.parent.name, solution.parent,
                         release.parent if release is not None else None, mode="selfgrade")


def _course_paths(path: Path, notebooks: Path | None, solutions: Path | None):
    from ...course import NOTEBOOKS, SOLUTIONS

    notebooks = Path(notebooks) if notebooks else NOTEBOOKS
    solutions = Path(solutions) if solutions else SOLUTIONS
    release = find_release(path, notebooks) if notebooks.is_dir() else None
    return release, solutions


def selfgrade(path: Path | str, notebooks: Path | None = None, solutions: Path | None = None,
              limits: Limits | None = None, isolation: str = "auto", log=print) -> int:
    """Grade ``path`` with the hidden tests of the matching notebook in ``solutions`` (default: the
    course's ``solutions/``); print each test and the score. See the module doc for the exit status."""
    path = Path(path).resolve()
    if not path.is_file():
        log(f"{path}: no such file")
        return 1
    release, solutions = _course_paths(path, notebooks, solutions)
    if release is None:
        log(f"{path.name}: no released notebook of this course matches it (is it a course notebook?)")
        return 2
    name = release.parent.name
    solution = solutions / name / f"{release.stem}.ipynb"
    if not solution.is_file():
        log(f"no hidden tests here: self-grading needs the instructor notebook {solution} "
            f"(the course's solutions/ folder), which is not on this machine. "
            f"`python -m autograder check {path.name}` runs the visible tests.")
        return 2
    spec = spec_from_solution(solution, release)
    nbspec = spec.notebooks[0]
    secret = hidden_lines(nbspec, released_lines(nbspec, release))
    limits = limits or Limits()
    log(f"grading {path.name} with the hidden tests of {name} (the saved file: save the notebook first)")
    tmp = Path(tempfile.mkdtemp(prefix="ag-selfgrade-"))
    try:
        shutil.copy(path, tmp / path.name)
        result = grade_submission(spec, "self-grade", tmp, limits, isolation)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    entry = result["notebooks"][nbspec.name]
    log(f"  isolation: {result['isolation_detail']}")
    unreadable = [f for f in entry["flags"] if f["code"] in _UNREADABLE]
    for f in entry["flags"]:
        if f["code"] != "renamed_notebook" and (f.get("level") != "info" or f["code"] in _UNREADABLE):
            log(f"  note: {mask_secrets(f['message'], secret)}")
    if unreadable:
        log("the notebook could not be graded")
        return 1
    messages = _failures(entry.get("autograded"), secret)
    totals = {"visible": [0.0, 0.0], "hidden": [0.0, 0.0]}
    width = max((len(g) for g in nbspec.grade_ids), default=10)
    for gid in nbspec.grade_ids:
        s, m = entry["scores"].get(gid, [0, nbspec.cells[gid].get("points", 0)])
        s, m = float(s or 0), float(m or 0)
        kind = "hidden" if "BEGIN HIDDEN TESTS" in (nbspec.cells[gid].get("source") or "") else "visible"
        totals[kind][0] += s
        totals[kind][1] += m
        status = "passed" if s >= m else "FAILED"
        line = f"  {gid:<{width}}  {kind:<7}  {status}  {s:g}/{m:g}"
        if s < m:
            line += f"  {messages.get(gid, 'failed (no error message)')}"
        log(line)
    got = totals["visible"][0] + totals["hidden"][0]
    mx = totals["visible"][1] + totals["hidden"][1]
    log(f"score: {got:g}/{mx:g} (visible tests {totals['visible'][0]:g}/{totals['visible'][1]:g}, "
        f"hidden tests {totals['hidden'][0]:g}/{totals['hidden'][1]:g})")
    return 0


def _failures(autograded: str | None, secret: set[str]) -> dict[str, str]:
    """grade_id -> the first error's ``type: message`` (one line, masked), from the graded notebook."""
    out: dict[str, str] = {}
    if not autograded:
        return out
    nb = nbformat.reads(autograded, as_version=4)
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if not gid or gid in out:
            continue
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                msg = mask_secrets(str(o.get("evalue", "")), secret).strip().replace("\n", " | ")
                out[gid] = f"{o.get('ename', 'Error')}: {msg[:300]}" if msg else str(o.get("ename", "Error"))
                break
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder selfgrade", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebook", type=Path)
    p.add_argument("--solutions", type=Path, default=None, help="the instructor notebooks (default: solutions/)")
    p.add_argument("--notebooks", type=Path, default=None, help="the released notebooks (default: notebooks/)")
    p.add_argument("--cell-timeout", type=float, default=90.0)
    p.add_argument("--notebook-timeout", type=float, default=900.0)
    p.add_argument("--isolation", choices=["auto", "bwrap", "landlock", "process"], default="auto")
    args = p.parse_args(argv)
    limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout, threads=2)
    return selfgrade(args.notebook, args.notebooks, args.solutions, limits, args.isolation)


if __name__ == "__main__":
    sys.exit(main())

