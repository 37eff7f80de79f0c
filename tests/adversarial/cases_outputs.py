"""A submission whose outputs, Markdown and metadata carry script for the instructor's browser.

Every vector runs the same script (:data:`PAYLOAD`): it creates ``PWNED.txt`` through the Jupyter API
of whoever opens the notebook (the XSRF cookie of a logged-in formgrader or JupyterLab is enough),
sets ``window.__pwned`` and renames the page. The answers are correct, so the grade is 100; the
graded copy the grader writes must hold none of the vectors (``tests/test_browser.py`` opens it and
its feedback page in Chromium and checks that nothing ran).
"""
from __future__ import annotations

import json
import textwrap

import nbformat

from .cases import CORRECT, NOTEBOOK, Case, Ctx, _answers, _load, _write

PAYLOAD = ("fetch('/api/contents/PWNED.txt',{method:'PUT',headers:{'X-XSRFToken':"
           "decodeURIComponent((document.cookie.match(/_xsrf=([^;]+)/)||[0,''])[1])},"
           "body:JSON.stringify({type:'file',format:'text',content:'pwned'})});"
           "try{(window.top||window).__pwned=1;(window.top||window).document.title='PWNED'}catch(e){}"
           "window.__pwned=1")
# A 1x1 PNG, and the same output with attribute-breaking metadata and data.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

HOSTILE_CELL = textwrap.dedent(f"""\
    from IPython.display import HTML, Javascript, display
    P = {PAYLOAD!r}
    display(HTML("<b>bold text</b><script>" + P + "</script><img src=x onerror=\\"" + P + "\\">"))
    display(Javascript(P))
    display({{"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload=\\"" + P + "\\"></svg>",
             "text/plain": "an svg"}}, raw=True)
    display({{"text/markdown": "<script>" + P + "</script>", "text/plain": "markdown"}}, raw=True)
    display({{"application/vnd.jupyter.widget-view+json": {{"model_id": "x", "version_major": 2,
             "version_minor": 0}}, "text/plain": "a widget"}}, raw=True)
    display({{"image/png": '"><script>' + P + '</script>'}}, raw=True)
    display({{"image/png": {PNG!r}, "text/plain": "a pixel"}},
            metadata={{"image/png": {{"width": '1" onload="' + P}}}}, raw=True)
    display({{"text/html": "<a href=\\"javascript:" + P + "\\">click</a><iframe src=\\"javascript:" + P + "\\"></iframe>"
              + "<form action=x><input autofocus onfocus=\\"" + P + "\\"></form>",
             "text/plain": "links"}}, raw=True)
    print("hostile outputs displayed")""")

HOSTILE_MARKDOWN = (f"A note from the student <script>{PAYLOAD}</script>\n\n"
                    f"<img src=x onerror=\"{PAYLOAD}\"> [a link](javascript:{PAYLOAD})\n\n"
                    f"<details open ontoggle=\"{PAYLOAD}\"><summary>more</summary>x</details>\n")


def hostile(ctx: Ctx) -> None:
    nb = _load(ctx)
    _answers(nb, CORRECT)
    idx = next(i for i, c in enumerate(nb.cells) if (c.metadata.get("nbgrader") or {}).get("grade_id") == "ex1_scale")
    nb.cells.insert(idx + 1, nbformat.v4.new_code_cell(HOSTILE_CELL))
    md = nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN)
    md["attachments"] = {"x.svg": {"image/svg+xml": f"<svg xmlns='http://www.w3.org/2000/svg' onload=\"{PAYLOAD}\"/>"}}
    md.metadata["trusted"] = True
    nb.cells.insert(idx + 2, md)
    raw = nbformat.v4.new_raw_cell(f"<script>{PAYLOAD}</script>")
    raw.metadata["raw_mimetype"] = "text/html"
    nb.cells.insert(idx + 3, raw)
    nb.metadata["signature"] = "sha256:" + "0" * 64
    nb.metadata["title"] = f"</title><script>{PAYLOAD}</script>"
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0, "x": f"</script><script>{PAYLOAD}</script>"}}
    _write(nb, ctx)


ACTIVE = ("<script", "onerror", "onload", "onfocus", "ontoggle", "javascript:", "<iframe", "<svg", "<form", "<input",
          "widget-state", "signature", '"trusted"', "__pwned")
KEPT = {"text/plain", "text/html", "image/png", "image/jpeg"}


def inert(result: dict, ctx: Ctx) -> None:
    """The graded copy on disk keeps the harmless outputs and none of the vectors (the student's code
    itself is shown as code, which every renderer escapes)."""
    text = result["notebooks"][NOTEBOOK]["autograded"]
    assert text, "no graded notebook was written"
    assert "hostile outputs displayed" in text and "bold text" in text and "a pixel" in text, \
        "the hostile cell did not run, or its harmless outputs were dropped too"
    nb = nbformat.reads(text, as_version=4)
    rendered = [json.dumps(nb.metadata)]
    for cell in nb.cells:
        rendered.append(json.dumps(cell.metadata))
        rendered += [json.dumps(o) for o in cell.get("outputs", [])]
        if cell.cell_type == "markdown":
            rendered.append(cell.source)
        if cell.cell_type == "raw":
            assert "<" not in cell.source, cell.source[:200]
        assert "attachments" not in cell
    found = [a for a in ACTIVE if any(a.lower() in r.lower() for r in rendered)]
    assert not found, f"the graded notebook still holds {found}"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, json.dumps(nb.metadata)[:300]
    mimes = {k for c in nb.cells for o in c.get("outputs", []) for k in o.get("data", {})}
    assert mimes <= KEPT, f"active output types kept: {mimes - KEPT}"
    assert all(not o.get("metadata") for c in nb.cells for o in c.get("outputs", [])), "output metadata kept"
    assert any("A note from the student" in c.source for c in nb.cells if c.cell_type == "markdown")


CASES = [
    Case("hostile_outputs", "correct answers; script in HTML, JavaScript, SVG, Markdown, widget, PNG and "
         "metadata outputs, a student Markdown cell, a raw HTML cell and notebook metadata",
         hostile, 100, check=inert),
]
