"""``python -m autograder feedback [ASSIGNMENT ...]``: an HTML report per student, without hidden tests.

For each graded submission (``autograded/<student>/<assignment>/``) this writes
``feedback/<student>/<assignment>/<notebook>.html``, nbgrader's feedback layout (``nbgrader
release_feedback`` hands it out through the exchange). The page opens with the score of every
exercise and test, then shows the student's notebook as it was graded. Unlike nbgrader's own
feedback it never contains hidden tests: their code is cut out (as in the released notebook), their
outputs are reduced to passed or the error's type and message, traceback lines that quote hidden code
are masked, and the finished page is checked line by line for any hidden-test source before it is
written.
"""
from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

import nbformat

from .engine import released_source
from .gradebook import assignment_spec, course_dir, load_config

__all__ = ["render_feedback", "generate_all", "hidden_lines", "main"]

_FRIENDLY = {
    "renamed_notebook": "Your notebook had another file name; it was found by its cells and graded.",
    "old_nbformat": "Your notebook was in an old format and was converted.",
    "edited_locked_cell": "A locked (read-only) cell had been edited; the original was used.",
    "edited_points": "The points of a test cell had been edited; the original points were used.",
    "edited_cell_type": "The type of a cell had been changed; it was restored.",
    "restored_missing_cell": "A test cell was missing and was added back.",
    "cell_timeout": "A cell ran longer than the time limit and was stopped.",
    "notebook_timeout": "The notebook ran longer than its time limit; later cells were not run.",
    "kernel_died": "The Python process running your notebook stopped (crash, exit or kill).",
    "memory_limit": "Your code used more memory than allowed.",
    "missing_notebook": "This notebook was not in your submission.",
    "empty_file": "The submitted file was empty.",
    "invalid_json": "The submitted file is not a valid notebook (it may be truncated).",
}


def hidden_lines(spec_nb) -> set[str]:
    """Every non-trivial line of every hidden-test region of the notebook (what must never leak)."""
    out: set[str] = set()
    for cell in spec_nb.cells.values():
        src = cell.get("source") or ""
        if "BEGIN HIDDEN TESTS" not in src:
            continue
        visible = set(released_source(src).splitlines())
        inside = False
        for line in src.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
                continue
            if "END HIDDEN TESTS" in line:
                inside = False
                continue
            s = line.strip()
            if inside and len(s) >= 8 and line not in visible:
                out.add(s)
    return out


def _mask(text: str, secret: set[str]) -> str:
    lines = []
    for line in str(text).splitlines():
        if any(s in line for s in secret):
            lines.append("    [hidden test code]")
        else:
            lines.append(line)
    return "\n".join(lines)


def render_feedback(autograded_nb, spec_nb, record: dict, assignment: str, student: str) -> str:
    """The HTML feedback page of one notebook."""
    from nbconvert import HTMLExporter

    nb = nbformat.reads(json.dumps(autograded_nb), as_version=4)    # also normalises line lists
    secret = hidden_lines(spec_nb)
    entry = record["notebooks"].get(spec_nb.name, {})
    scores = entry.get("scores", {})
    rows = []
    by_ex: dict[str, list] = {}
    for gid in spec_nb.grade_ids:
        s, m = scores.get(gid, [0, spec_nb.cells[gid].get("points", 0)])
        ex = gid.split("_")[0] if gid.startswith("ex") else gid
        by_ex.setdefault(ex, [0.0, 0.0])
        by_ex[ex][0] += float(s or 0)
        by_ex[ex][1] += float(m or 0)
        kind = "hidden tests" if gid.endswith("_hidden") or "BEGIN HIDDEN TESTS" in (spec_nb.cells[gid].get("source") or "") \
            else "visible tests"
        ok = "passed" if s is not None and m and float(s) >= float(m) else ("partial" if s else "failed")
        rows.append(f"| `{gid}` | {kind} | {ok} | {float(s or 0):g} / {float(m):g} |")
    total = sum(v[0] for v in by_ex.values())
    max_total = sum(v[1] for v in by_ex.values())
    head = [f"# Feedback: {assignment} / {spec_nb.name}", "",
            f"**Student:** {student}  ", f"**Score:** {total:g} / {max_total:g}", "",
            "| exercise | points |", "|---|---|"]
    head += [f"| {ex} | {v[0]:g} / {v[1]:g} |" for ex, v in by_ex.items()]
    head += ["", "| test cell | kind | result | points |", "|---|---|---|---|"] + rows
    notes = sorted({_FRIENDLY[f["code"]] for f in entry.get("flags", []) if f.get("code") in _FRIENDLY})
    if notes:
        head += ["", "**Notes from the grader:**", ""] + [f"- {n}" for n in notes]
    head += ["", "Hidden tests are not shown; for them you see whether they passed and, if not, the error "
                 "message. The visible tests are in your notebook."]
    new_cells = [nbformat.v4.new_markdown_cell("\n".join(head))]
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        gid = meta.get("grade_id")
        src_cell = spec_nb.cells.get(gid) if gid else None
        is_hidden = bool(src_cell and "BEGIN HIDDEN TESTS" in (src_cell.get("source") or ""))
        if cell.cell_type == "code":
            if is_hidden:
                cell.source = released_source(cell.source)
                errs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                if errs:
                    e = errs[0]
                    evalue = _mask(str(e.get("evalue", ""))[:500], secret)
                    cell.outputs = [nbformat.v4.new_output("error", ename=e.get("ename", "Error"), evalue=evalue,
                                                           traceback=[f"{e.get('ename', 'Error')}: {evalue}"])]
                else:
                    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Hidden tests passed.\n")]
            else:
                for o in cell.get("outputs", []):
                    if o.get("output_type") == "error":
                        o["traceback"] = [_mask(t, secret) for t in o.get("traceback", [])]
                        o["evalue"] = _mask(o.get("evalue", ""), secret)
                    elif o.get("output_type") == "stream":
                        o["text"] = _mask(o.get("text", ""), secret)
                    elif o.get("output_type") in ("display_data", "execute_result"):
                        for mime in list(o.get("data", {})):
                            if mime.startswith("text/") and isinstance(o["data"][mime], str):
                                o["data"][mime] = _mask(o["data"][mime], secret)
        new_cells.append(cell)
        if gid in scores and meta.get("grade"):
            s, m = scores[gid]
            mark = "✅" if s is not None and m and float(s) >= float(m) else "❌"
            new_cells.append(nbformat.v4.new_markdown_cell(f"{mark} **{html.escape(gid)}: {float(s or 0):g} / {float(m):g} points**"))
    nb.cells = new_cells
    for cell in nb.cells:       # last line of defence: no test cell may still hold hidden code
        meta = cell.metadata.get("nbgrader") or {}
        if meta.get("grade") and not meta.get("solution"):
            leaked = [s for s in secret if s in cell.source]
            if leaked:
                raise RuntimeError(f"feedback for {student}/{assignment} would reveal hidden-test code; "
                                   f"not written (line: {leaked[0][:80]!r})")
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
    return body


def generate_all(cfg, assignments: list[str] | None = None, students: list[str] | None = None,
                 log=print) -> list[Path]:
    cd = course_dir(cfg)
    base = Path(cd.root) / cd.autograded_directory
    written = []
    specs = {}
    for rec_path in sorted(base.glob("*/*/grading.json")):
        student, assignment = rec_path.parent.parent.name, rec_path.parent.name
        if student.startswith(".") or (assignments and assignment not in assignments) or (students and student not in students):
            continue
        record = json.loads(rec_path.read_text())
        if assignment not in specs:
            specs[assignment] = assignment_spec(cfg, assignment)
        out_dir = Path(cd.format_path(cd.feedback_directory, student, assignment))
        for spec_nb in specs[assignment].notebooks:
            nb_path = rec_path.parent / f"{spec_nb.name}.ipynb"
            if nb_path.exists():
                nb = json.loads(nb_path.read_text())
            else:
                nb = nbformat.v4.new_notebook()
            page = render_feedback(nb, spec_nb, record, assignment, student)
            out_dir.mkdir(parents=True, exist_ok=True)
            target = out_dir / f"{spec_nb.name}.html"
            target.write_text(page, encoding="utf-8")
            written.append(target)
    log(f"wrote {len(written)} feedback page(s) under {Path(cd.root) / cd.feedback_directory}")
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder feedback", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("assignments", nargs="*")
    p.add_argument("--student", action="append", default=None)
    p.add_argument("--root", default=None)
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    cfg = load_config(args.root, args.db)
    generate_all(cfg, args.assignments or None, args.student)
    return 0


if __name__ == "__main__":
    sys.exit(main())
