"""``python -m autograder feedback [ASSIGNMENT ...]``: an HTML report per student, without hidden tests.

For each graded submission (``autograded/<student>/<assignment>/``) this writes
``feedback/<student>/<assignment>/<notebook>.html``, nbgrader's feedback layout (``nbgrader
release_feedback`` hands it out through the exchange). The page opens with the score of every
exercise and test, then shows the student's notebook as it was graded. Unlike nbgrader's own
feedback it never contains hidden tests: their code is cut out (as in the released notebook), their
outputs are reduced to passed or the error's type and message, traceback lines that quote hidden code
are masked, and the finished page is checked line by line for any hidden-test source before it is
written. Hidden-test source is every line of a hidden-test region that is not also a line of the
released notebook (``torch.manual_seed(0)`` in both is not a secret).

The page is self-contained and inert: the notebook is neutralised (:mod:`.neutralise`), math is
rendered to MathML when the page is made (no MathJax, no network: it opens from ``file://``), and a
Content-Security-Policy forbids every script and every remote resource. A page that cannot be made
is reported and the others are still written; the exit status is then 1.
"""
from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import nbformat

from ..notebook.neutralise import neutralise
from ..notebook.sanitize import released_source
from .gradebook import assignment_spec, course_dir, released_markdown

__all__ = ["render_feedback", "generate_all", "hidden_lines", "released_lines", "FeedbackError",]

# A whole line this short is too common to be a secret (``else:``, ``return x``).
MIN_SECRET = 8
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
       "script-src 'none'; base-uri 'none'; form-action 'none'")
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}<meta http-equiv="Content-Security-Policy" content="__CSP__">{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
""".replace("__CSP__", CSP)


class FeedbackError(RuntimeError):
    """A feedback page that was not written, and why."""


def _norm(line: str) -> str:
    return " ".join(str(line).split())

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


def released_lines(spec_nb, release_path: Path | str | None = None) -> set[str]:
    """Every normalised line a student sees: the released part of every recorded cell and, when
    given, every cell of the released notebook."""
    out = set()
    for cell in spec_nb.cells.values():
        out.update(_norm(line) for line in released_source(cell.get("source") or "").splitlines())
    if release_path is not None:
        try:
            rel = nbformat.read(str(release_path), as_version=4)
        except Exception:
            rel = None
        for cell in rel.cells if rel is not None else []:
            out.update(_norm(line) for line in str(cell.source).splitlines())
    out.discard("")
    return out


def hidden_lines(spec_nb, visible: set[str] | None = None) -> set[str]:
    """Every normalised line of a hidden-test region that a student never sees (what must never leak):
    lines of at least ``MIN_SECRET`` characters, less every line of ``visible`` (default: the
    released part of every recorded cell, :func:`released_lines`)."""
    visible = released_lines(spec_nb) if visible is None else visible
    out: set[str] = set()
    for cell in spec_nb.cells.values():
        src = cell.get("source") or ""
        if "BEGIN HIDDEN TESTS" not in src:
            continue
        inside = False
        for line in src.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
                continue
            if "END HIDDEN TESTS" in line:
                inside = False
                continue
            s = _norm(line)
            if inside and len(s) >= MIN_SECRET and s not in visible and not s.startswith("#"):
                out.add(s)
    return out


def mask_secrets(text: str, secret: set[str]) -> str:
    """``text`` with every line that quotes a hidden line (a traceback frame, an echoed assertion)
    replaced by a marker."""
    lines = []
    for line in str(text).splitlines():
        n = _norm(line)
        if any(s in n for s in secret):
            lines.append("    [hidden test code]")
        else:
            lines.append(line)
    return "\n".join(lines)


def _leaks(text: str, secret: set[str]) -> list[str]:
    return sorted({_norm(line) for line in str(text).splitlines()} & secret)


def _page_text(page: str) -> str:
    """The text a reader sees in an HTML page, line by line (markup dropped, entities decoded)."""
    import re

    body = page.split("<body", 1)[-1]
    body = re.sub(r"<style[\s\S]*?</style>", "", body)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def _exporter():
    """nbconvert's lab template, without scripts (a CSP forbids them), math rendered to MathML."""
    import jinja2
    from nbconvert import HTMLExporter
    from nbconvert.exporters.html import contextfilter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    def mathml(tex: str, display: str) -> str:
        import latex2mathml.converter

        try:
            return latex2mathml.converter.convert(tex, display=display)
        except Exception:
            return f"<code>{html.escape(tex)}</code>"

    class Renderer(IPythonRenderer):
        def inline_math(self, body):
            return mathml(body, "inline")

        def block_math(self, body):
            return mathml(body, "block")

        def latex_environment(self, name, body):
            return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")

    class FeedbackExporter(HTMLExporter):
        @contextfilter
        def markdown2html(self, context, source):
            cell = context.get("cell", {})
            renderer = Renderer(escape=False, allow_harmful_protocols=False, attachments=cell.get("attachments", {}),
                                anchor_link_text=self.anchor_link_text, exclude_anchor_links=True)
            return MarkdownWithMath(renderer=renderer).render(source)

    return FeedbackExporter(template_name="lab", template_file="feedback.html.j2",
                            extra_loaders=[jinja2.DictLoader({"feedback.html.j2": _TEMPLATE})])


def render_feedback(autograded_nb, spec_nb, record: dict, assignment: str, student: str,
                    release_path: Path | str | None = None) -> str:
    """The HTML feedback page of one notebook; :class:`FeedbackError` if it would show hidden-test
    source. ``release_path``: the released notebook (its lines are not secret, its Markdown is the
    instructor's)."""
    nb = nbformat.reads(json.dumps(autograded_nb), as_version=4)    # also normalises line lists
    neutralise(nb, released_markdown(Path(release_path)) if release_path else set())
    secret = hidden_lines(spec_nb, released_lines(spec_nb, release_path))
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
        hidden = gid.endswith("_hidden") or "BEGIN HIDDEN TESTS" in (spec_nb.cells[gid].get("source") or "")
        kind = "hidden tests" if hidden else "visible tests"
        ok = "passed" if s is not None and m and float(s) >= float(m) else ("partial" if s else "failed")
        rows.append(f"| `{gid}` | {kind} | {ok} | {float(s or 0):g} / {float(m):g} |")
    total = sum(v[0] for v in by_ex.values())
    max_total = sum(v[1] for v in by_ex.values())
    head = [f"# Feedback: {html.escape(assignment)} / {html.escape(spec_nb.name)}", "",
            f"**Student:** {html.escape(student)}  ", f"**Score:** {total:g} / {max_total:g}", "",
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
                    evalue = mask_secrets(str(e.get("evalue", ""))[:500], secret)
                    cell.outputs = [nbformat.v4.new_output("error", ename=e.get("ename", "Error"), evalue=evalue,
                                                           traceback=[f"{e.get('ename', 'Error')}: {evalue}"])]
                else:
                    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Hidden tests passed.\n")]
            else:
                cell.source = "\n".join("# [hidden test code]" if _norm(line) in secret else line
                                         for line in cell.source.splitlines())
                for o in cell.get("outputs", []):
                    if o.get("output_type") == "error":
                        o["traceback"] = [mask_secrets(t, secret) for t in o.get("traceback", [])]
                        o["evalue"] = mask_secrets(o.get("evalue", ""), secret)
                    elif o.get("output_type") == "stream":
                        o["text"] = mask_secrets(o.get("text", ""), secret)
                    elif o.get("output_type") in ("display_data", "execute_result"):
                        for mime in list(o.get("data", {})):
                            if mime.startswith("text/") and isinstance(o["data"][mime], str):
                                o["data"][mime] = mask_secrets(o["data"][mime], secret)
        new_cells.append(cell)
        if gid in scores and meta.get("grade"):
            s, m = scores[gid]
            mark = "✅" if s is not None and m and float(s) >= float(m) else "❌"
            new_cells.append(nbformat.v4.new_markdown_cell(
                f"{mark} **{html.escape(gid)}: {float(s or 0):g} / {float(m):g} points**"))
    nb.cells = new_cells
    for cell in nb.cells:       # last lines of defence: no cell, and no line of the page, is hidden code
        leaked = _leaks(cell.source, secret)
        if leaked:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            raise FeedbackError(f"it would reveal hidden-test code (cell {gid}, "
                                f"line {leaked[0][:80]!r})")
    body, _ = _exporter().from_notebook_node(nb)
    leaked = _leaks(_page_text(body), secret)
    if leaked:
        raise FeedbackError(f"the page would reveal hidden-test code (line {leaked[0][:80]!r})")
    return body


def generate_all(cfg, assignments: list[str] | None = None, students: list[str] | None = None,
                 log=print, failures: list[dict] | None = None) -> list[Path]:
    """Write every feedback page; return the pages written. A page that cannot be made is logged and
    appended to ``failures`` (student, assignment, notebook, reason), and the others are still made."""
    cd = course_dir(cfg)
    base = Path(cd.root) / cd.autograded_directory
    written: list[Path] = []
    failed = [] if failures is None else failures
    specs = {}
    for rec_path in sorted(base.glob("*/*/grading.json")):
        student, assignment = rec_path.parent.parent.name, rec_path.parent.name
        if student.startswith(".") or (assignments and assignment not in assignments) \
                or (students and student not in students):
            continue
        try:
            record = json.loads(rec_path.read_text())
            if assignment not in specs:
                specs[assignment] = assignment_spec(cfg, assignment)
        except Exception as e:
            failed.append({"student": student, "assignment": assignment, "notebook": None, "reason": str(e)})
            log(f"feedback for {student}/{assignment} not written: {e}")
            continue
        out_dir = Path(cd.format_path(cd.feedback_directory, student, assignment))
        release_dir = Path(cd.format_path(cd.release_directory, ".", assignment))
        for spec_nb in specs[assignment].notebooks:
            target = out_dir / f"{spec_nb.name}.html"
            try:
                nb_path = rec_path.parent / f"{spec_nb.name}.ipynb"
                nb = json.loads(nb_path.read_text()) if nb_path.exists() else nbformat.v4.new_notebook()
                page = render_feedback(nb, spec_nb, record, assignment, student,
                                       release_dir / f"{spec_nb.name}.ipynb")
            except Exception as e:
                target.unlink(missing_ok=True)          # no stale page from an earlier run
                failed.append({"student": student, "assignment": assignment, "notebook": spec_nb.name,
                               "reason": f"{type(e).__name__}: {e}" if not isinstance(e, FeedbackError) else str(e)})
                log(f"feedback for {student}/{assignment}/{spec_nb.name} not written: {failed[-1]['reason']}")
                continue
            out_dir.mkdir(parents=True, exist_ok=True)
            target.write_text(page, encoding="utf-8")
            written.append(target)
        # `nbgrader release_feedback` reads the submission's time and secret beside the pages
        submitted = Path(cd.format_path(cd.submitted_directory, student, assignment))
        for name in ("timestamp.txt", "submission_secret.txt"):
            if out_dir.is_dir() and (submitted / name).is_file() and not (submitted / name).is_symlink():
                shutil.copyfile(submitted / name, out_dir / name)
    log(f"wrote {len(written)} feedback page(s) under {Path(cd.root) / cd.feedback_directory}"
        + (f"; {len(failed)} not written (above)" if failed else ""))
    return written


