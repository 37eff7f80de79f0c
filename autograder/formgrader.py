"""What nbgrader's formgrader does in this course: its feedback is the course's, its math needs no CDN.

Stock ``nbgrader generate_feedback`` (formgrader's *Generate Feedback* button) writes the course's page.

nbgrader's own feedback page is the graded notebook as it stands: with this course's hidden tests
restored in it, and with MathJax loaded from a CDN. The course's ``nbgrader_config.py`` makes
``GenerateFeedback`` use :class:`CourseFeedbackExporter`, which writes the page ``python -m autograder
feedback`` writes (hidden tests cut out, tracebacks masked, math as MathML, no scripts, checked line by
line for hidden code), and keeps the grader's records (``grading.json``, ``collect.json``) out of
``feedback/``. A notebook graded by stock ``nbgrader autograde`` (no ``grading.json``) gets its scores
from the gradebook.

Formgrader shows a submission through nbconvert with MathJax from a CDN, so offline its math stays raw
``$...$``. :class:`MathToMathML`, which the course's configuration adds to ``HTMLExporter``, turns
the math of Markdown cells into MathML before the page is rendered: the browser draws it itself.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor

__all__ = ["GRADER_RECORDS", "CourseFeedbackExporter", "MathToMathML", "to_mathml"]

_CODE = re.compile(r"(```[\s\S]*?```|`[^`\n]*`)")
_MATH = re.compile(r"\$\$([\s\S]+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?!\d)")


def to_mathml(markdown: str) -> str:
    """``markdown`` with ``$...$`` and ``$$...$$`` outside code replaced by MathML."""
    import latex2mathml.converter

    def one(m):
        tex, display = (m.group(1), "block") if m.group(1) is not None else (m.group(2), "inline")
        try:
            return latex2mathml.converter.convert(tex.strip(), display=display)
        except Exception:
            return f"<code>{html.escape(tex)}</code>"

    parts = _CODE.split(markdown)
    return "".join(part if i % 2 else _MATH.sub(one, part) for i, part in enumerate(parts))


class MathToMathML(Preprocessor):
    """Render the math of every Markdown cell as MathML (no MathJax needed)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = to_mathml(cell.source)
        return cell, resources

# files the grader keeps beside a graded or collected notebook; never copied into feedback/
GRADER_RECORDS = ["grading.json", "collect.json"]


def _scores_from_gradebook(cfg, assignment: str, notebook: str, student: str) -> dict:
    from nbgrader.api import Gradebook

    from .grading.batch.gradebook import course_dir

    cd = course_dir(cfg)
    with Gradebook(cd.db_url, cd.course_id) as gb:
        nb = gb.find_submission_notebook(notebook, assignment, student)
        scores = {g.name: [float(g.score or 0.0), float(g.max_score or 0.0)] for g in nb.grades}
    return {"notebooks": {notebook: {"scores": scores, "flags": []}}}


class CourseFeedbackExporter(HTMLExporter):
    """An ``HTMLExporter`` for ``GenerateFeedback`` that renders the course's feedback page."""

    def from_notebook_node(self, nb, resources=None, **kw):
        from .grading.batch.feedback import render_feedback
        from .grading.batch.gradebook import assignment_spec, course_dir, load_config

        resources = self._init_resources(resources)
        info = resources.get("nbgrader") or {}
        assignment, student, notebook = info["assignment"], info["student"], info["notebook"]
        coursedir = getattr(self.parent, "coursedir", None)
        cfg = load_config(coursedir.root if coursedir is not None else None,
                          coursedir.db_url if coursedir is not None else None)
        spec = assignment_spec(cfg, assignment)
        spec_nb = next(n for n in spec.notebooks if n.name == notebook)
        record_path = Path(resources.get("metadata", {}).get("path", ".")) / "grading.json"
        record = (json.loads(record_path.read_text()) if record_path.is_file()
                  else _scores_from_gradebook(cfg, assignment, notebook, student))
        cd = course_dir(cfg)
        release = Path(cd.format_path(cd.release_directory, ".", assignment)) / f"{notebook}.ipynb"
        page = render_feedback(json.loads(json.dumps(nb)), spec_nb, record, assignment, student, release)
        resources["output_extension"] = ".html"
        return page, resources
