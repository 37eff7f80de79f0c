"""Scores of an executed notebook, as nbgrader computes them, and the outputs of cells that did not run."""
from __future__ import annotations

import nbformat

from ..model import AssignmentSpec, NotebookSpec


def test_cells(nb, spec: NotebookSpec) -> dict[int, str]:
    """Index -> grade_id of the autograded test cells (graded code cells that are not answers)."""
    out = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader") or {}
        gid = meta.get("grade_id")
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution") and gid in spec.cells:
            out[i] = gid
    return out


def error_output(ename: str, evalue: str) -> dict:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def to_outputs(raw: list) -> list:
    outs = []
    for o in raw or []:
        try:
            outs.append(nbformat.from_dict(o))
        except Exception:
            pass
    return outs



def score_notebook(nb, spec: NotebookSpec, assignment: AssignmentSpec) -> dict[str, list]:
    """nbgrader's scoring of the executed notebook (after IgnorePattern and LimitOutput)."""
    from nbgrader import utils
    from nbgrader.preprocessors import IgnorePattern, LimitOutput

    if assignment.ignore_pattern:
        IgnorePattern(pattern=assignment.ignore_pattern).preprocess(nb, {})
    LimitOutput(max_lines=assignment.max_lines, max_traceback=assignment.max_traceback).preprocess(nb, {})
    scores: dict[str, list] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        gid = meta.get("grade_id")
        if gid in spec.cells and meta.get("grade"):
            try:
                score, max_score = utils.determine_grade(cell)
            except Exception:
                score, max_score = 0.0, float(meta.get("points") or 0)
            scores[gid] = [score, max_score]
    for gid in spec.grade_ids:            # cells that are not in the notebook at all score 0
        scores.setdefault(gid, [0.0, float(spec.cells[gid].get("points") or 0)])
    return scores



def zero_scores(spec: NotebookSpec) -> dict[str, list]:
    return {g: [0.0, float(spec.cells[g].get("points") or 0)] for g in spec.grade_ids}


