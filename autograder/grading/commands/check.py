"""``python -m autograder check NOTEBOOK``: a student's check of a notebook before submitting it.

It runs the notebook exactly as the grader will (same sandbox, same time limits, same sealed tests)
but with the visible tests only, and checks what would cost points for reasons other than the
answers: a file that is not valid notebook JSON, a wrong file name, edited locked cells or points,
deleted test cells, cells that raise, and cells close to the time limit. The released notebook of the
assignment (``notebooks/<assignment>/``) is the reference; it is found from the notebook's cell ids.

Cells are numbered as JupyterLab counts them, from 1. A notebook under another file name is still
graded (``collect`` and ``grade`` recognise it by its cells), so the name is a note, not a problem.
"Ready to submit" is said only when every visible test passes; failing tests are the student's call
and are reported, and a notebook whose answer cells all still hold the starter code is a problem
(most likely the wrong file).

Exit status: 0 when nothing would make grading go wrong (tests may still fail), 1 otherwise.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from ..engine import grade_submission
from ..model import AssignmentSpec, Limits, NotebookSpec, assignment_of, notebook_spec
from ..notebook.read import read_submission

__all__ = ["spec_from_release", "find_release", "check", "main"]


def spec_from_release(path: Path, assignment: str | None = None) -> AssignmentSpec:
    """An assignment spec built from a released (student) notebook instead of the gradebook."""
    return assignment_of([notebook_spec(path, instructor=False)], assignment or path.parent.name, path.parent,
                         path.parent, mode="check")


def _hidden_cells(nbspec: NotebookSpec) -> set[str]:
    """Grade cells of the released notebook that hold no code: their tests were hidden."""
    import ast

    out = set()
    for gid, cell in nbspec.cells.items():
        if not cell.get("grade") or cell.get("solution") or cell.get("cell_type") != "code":
            continue
        try:
            body = ast.parse(cell.get("source") or "").body
        except SyntaxError:
            continue
        if not body:
            out.add(gid)
    return out


def _from_one(text: str) -> str:
    """The grader's messages number cells from 0; JupyterLab (and this report) from 1."""
    return re.sub(r"\(cell (\d+)\)", lambda m: f"(cell {int(m.group(1)) + 1})", str(text))


def _cell_name(c: dict) -> str:
    return f"cell {c['index'] + 1}" + (f" ({c['grade_id']})" if c.get("grade_id") else "")


def _untouched(path: Path, nbspec: NotebookSpec) -> tuple[list[str], list[str]]:
    """(answer cells of the submission still holding the released starter code, all answer cells)."""
    nb, _ = read_submission(path)
    answers = [g for g in nbspec.order if nbspec.cells[g].get("solution") and not nbspec.cells[g].get("grade")]
    if nb is None:
        return [], answers
    norm = lambda t: "\n".join(line.rstrip() for line in str(t).strip().splitlines())  # noqa: E731
    submitted = {}
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid in nbspec.cells and gid not in submitted:
            submitted[gid] = cell.source
    same = [g for g in answers if g in submitted and norm(submitted[g]) == norm(nbspec.cells[g].get("source"))]
    return same, answers


def find_release(path: Path, release_root: Path) -> Path | None:
    """The released notebook whose cell ids match ``path`` best."""
    nb, _ = read_submission(path)
    ids = set()
    if nb is not None:
        ids = {(c.metadata.get("nbgrader") or {}).get("grade_id") for c in nb.cells} - {None}
    best, best_n = None, 0
    for cand in sorted(release_root.glob("*/*.ipynb")):
        try:
            rel = nbformat.read(str(cand), as_version=4)
        except Exception:
            continue
        rid = {(c.metadata.get("nbgrader") or {}).get("grade_id") for c in rel.cells} - {None}
        n = len(ids & rid)
        if n > best_n:
            best, best_n = cand, n
    if best is None:
        stem = path.stem.lower()
        for cand in sorted(release_root.glob("*/*.ipynb")):
            if cand.stem.lower() in stem:
                return cand
    return best


def check(path: Path, release: Path | None = None, limits: Limits | None = None, isolation: str = "auto",
          log=print) -> int:
    from ...course import NOTEBOOKS

    path = Path(path).resolve()
    release = Path(release) if release else find_release(path, NOTEBOOKS)
    if release is None:
        log(f"{path.name}: no released notebook of this course matches it (is it a course notebook?)")
        return 1
    spec = spec_from_release(release)
    nbspec = spec.notebooks[0]
    limits = limits or Limits()
    log(f"checking {path.name} against the released {release.parent.name}/{release.name}")
    import shutil
    import tempfile

    from ..host import isolation as sandbox

    try:
        sandbox.detect(isolation)
    except sandbox.IsolationUnavailable:
        # a student's check runs the student's own code on the student's own machine: process limits
        # are enough for that, and grading itself refuses them unless asked
        log("  (no bubblewrap or Landlock here: the check runs with process limits only)")
        isolation = "process"
    tmp = Path(tempfile.mkdtemp(prefix="ag-check-"))
    try:
        shutil.copy(path, tmp / path.name)
        result = grade_submission(spec, "self-check", tmp, limits, isolation)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    entry = result["notebooks"][nbspec.name]
    problems, notes = [], []
    if path.name != f"{nbspec.name}.ipynb":
        notes.append(f"the file is named {path.name!r}: it is still graded (the grader recognises it by its "
                     f"cells), but {nbspec.name}.ipynb is the name it looks for first")
    for f in entry["flags"]:
        code = f["code"]
        if code in ("renamed_notebook",):
            continue
        if code in ("invalid_json", "empty_file", "not_a_notebook", "invalid_notebook", "unreadable_file",
                    "missing_notebook", "edited_locked_cell", "edited_points", "edited_cell_type",
                    "restored_missing_cell", "metadata_edited", "unknown_cell_id", "duplicate_cell_id",
                    "kernel_died", "cell_timeout", "notebook_timeout", "memory_limit", "unsanitizable"):
            problems.append(_from_one(f["message"]))
        elif f["level"] != "info" or code == "old_nbformat":
            notes.append(_from_one(f["message"]))
    log(f"  isolation: {result['isolation_detail']}")
    if entry.get("cells"):
        total = sum(c["seconds"] for c in entry["cells"])
        slow = sorted(entry["cells"], key=lambda c: -c["seconds"])[:3]
        log(f"  ran in {total:.1f} s (limits: {limits.cell_timeout:.0f} s per cell, "
            f"{limits.notebook_timeout:.0f} s per notebook); slowest cells: "
            + ", ".join(f"{_cell_name(c)} {c['seconds']:.1f} s" for c in slow))
        for c in entry["cells"]:
            if c["seconds"] > 0.5 * limits.cell_timeout:
                notes.append(f"{_cell_name(c)} took {c['seconds']:.0f} s, more than half the grading limit")
            if c["kind"] == "cell" and c["status"] == "error":
                notes.append(f"{_cell_name(c)} raised an error")
    nb_out = nbformat.reads(entry["autograded"], as_version=4) if entry.get("autograded") else None
    errors = {}
    if nb_out is not None:
        for cell in nb_out.cells:
            gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
            for o in cell.get("outputs", []):
                if o.get("output_type") == "error" and gid:
                    errors[gid] = f"{o.get('ename')}: {str(o.get('evalue'))[:200]}"
    got = mx = hidden_pts = 0.0
    hidden = _hidden_cells(nbspec)
    log("  visible tests:")
    for gid, (s, m) in entry["scores"].items():
        if gid in hidden:
            hidden_pts += m
            continue
        s = float(s or 0)
        got += s
        mx += m
        status = "passed" if s >= m else "FAILED"
        log(f"    {gid:<40} {status} {s:g}/{m:g}" + (f"  {errors[gid]}" if gid in errors and s < m else ""))
    log(f"  visible points: {got:g}/{mx:g}; hidden tests ({len(hidden)} cells, {hidden_pts:g} points) "
        "run when the notebook is graded")
    same, answers = _untouched(path, nbspec)
    if answers and len(same) == len(answers):
        problems.append(f"every answer cell still holds the starter code ({len(answers)} cells): is this "
                        "the notebook you worked in?")
    elif same:
        notes.append("not answered yet (still the starter code): " + ", ".join(same))
    for n in notes:
        log(f"  note: {n}")
    for pr in problems:
        log(f"  PROBLEM: {pr}")
    if problems:
        log("fix the problems above before submitting")
    elif got < mx:
        log(f"can be submitted, but visible tests fail ({got:g}/{mx:g} points): fix them first if you can")
    else:
        log("ready to submit: every visible test passes; the hidden tests run when it is graded")
    return 0 if not problems else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebook", type=Path)
    p.add_argument("--release", type=Path, default=None, help="the released notebook to check against")
    p.add_argument("--cell-timeout", type=float, default=90.0)
    p.add_argument("--notebook-timeout", type=float, default=900.0)
    p.add_argument("--isolation", choices=["auto", "bwrap", "landlock", "process"], default="auto")
    args = p.parse_args(argv)
    limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout, threads=2)
    return check(args.notebook, args.release, limits, args.isolation)


if __name__ == "__main__":
    sys.exit(main())

