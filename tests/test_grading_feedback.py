"""Feedback pages on every real notebook of the course, and the neutralising of graded notebooks.

The solution of each notebook, with its stored outputs, is graded material as the grader writes it
(test cells hold their hidden tests); the released notebook with the hidden tests restored and failing
is an untouched submission whose tracebacks quote hidden lines. Both must give a page that shows no
hidden-test line, runs no script and loads nothing from the network. ``tests/test_browser.py`` opens
such pages in Chromium.
"""
from __future__ import annotations

import json
import re
import shutil

import nbformat
import pytest
from adversarial.cases import CORRECT, NOTEBOOK  # loads cases_outputs too
from adversarial.cases_outputs import PAYLOAD, PNG

from autograder.course import assignments, release_path, source_path
from autograder.grading.batch.feedback import (
    FeedbackError,
    _page_text,
    generate_all,
    hidden_lines,
    released_lines,
    render_feedback,
)
from autograder.grading.commands.feedback import main
from autograder.grading.commands.selfgrade import spec_from_solution
from autograder.grading.notebook.neutralise import neutralise
from autograder.grading.notebook.sanitize import released_source, sanitize

NAMES = assignments()


def _spec(name):
    return spec_from_solution(source_path(name), release_path(name)).notebooks[0]


def _record(spec, full: bool) -> dict:
    scores = {g: [spec.cells[g]["points"] if full else 0.0, spec.cells[g]["points"]] for g in spec.grade_ids}
    return {"notebooks": {spec.name: {"scores": scores, "flags": []}}}


def _assert_clean_page(page: str, secret: set[str]) -> None:
    text = _page_text(page)
    leaked = {" ".join(l.split()) for l in text.splitlines()} & secret
    assert not leaked, f"hidden-test lines in the page: {sorted(leaked)[:3]}"
    head = page.split("<body", 1)[0]
    assert "Content-Security-Policy" in head and "script-src 'none'" in head
    assert "<script" not in page.lower(), "the page holds a script"
    assert not re.search(r"""<(?:script|link|iframe|img)[^>]+(?:src|href)=["']?https?:""", page), "a remote resource"
    assert "mathjax" not in page.lower()


def test_hidden_lines_are_never_lines_a_student_sees():
    """The secret set of every notebook excludes every line of its released notebook."""
    for name in NAMES:
        spec = _spec(name)
        released = nbformat.read(str(release_path(name)), as_version=4)
        seen = {" ".join(l.split()) for c in released.cells for l in c.source.splitlines()}
        secret = hidden_lines(spec, released_lines(spec, release_path(name)))
        assert secret, f"{name} has hidden tests"
        assert not secret & seen, f"{name}: {sorted(secret & seen)[:3]}"
    spec01 = _spec("01_backprop")
    secret01 = hidden_lines(spec01, released_lines(spec01, release_path("01_backprop")))
    assert "torch.manual_seed(0)" not in secret01


@pytest.mark.parametrize("name", NAMES)
def test_feedback_on_the_real_notebook(name):
    spec = _spec(name)
    secret = hidden_lines(spec, released_lines(spec, release_path(name)))
    # the solution as a submission: full marks, stored outputs, hidden tests in the test cells
    solution = json.loads(source_path(name).read_text())
    page = render_feedback(solution, spec, _record(spec, True), name, "alice", release_path(name))
    _assert_clean_page(page, secret)
    n_hidden = sum(1 for g in spec.grade_ids if "BEGIN HIDDEN TESTS" in spec.cells[g]["source"])
    assert page.count("Hidden tests passed.") == n_hidden
    assert page.count("<math") >= 5, "the notebook's math was not rendered"
    assert f"{spec.max_score:g} / {spec.max_score:g}" in page
    # the untouched notebook: hidden tests restored, each failing with a traceback quoting its lines
    blank, _ = sanitize(nbformat.read(str(release_path(name)), as_version=4), spec, name)
    quoted = 0
    for cell in blank.cells:
        src = cell.source if cell.cell_type == "code" else ""
        if "BEGIN HIDDEN TESTS" in src:
            hidden = [l for l in src.splitlines() if " ".join(l.split()) in secret]
            quoted += len(hidden)
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="AssertionError", evalue=hidden[0] if hidden else "x",
                traceback=[f"----> {i} {l}" for i, l in enumerate(hidden)])]
    assert quoted, f"{name}: no hidden line was quoted, the test would prove nothing"
    page = render_feedback(json.loads(nbformat.writes(blank)), spec, _record(spec, False), name, "bob",
                           release_path(name))
    _assert_clean_page(page, secret)
    assert "[hidden test code]" in page and "Hidden tests passed." not in page


def test_a_pasted_hidden_line_is_masked_not_shown():
    name = "07_self_attention"
    spec = _spec(name)
    secret = hidden_lines(spec, released_lines(spec, release_path(name)))
    nb = json.loads(source_path(name).read_text())
    line = sorted(secret)[0]
    nb["cells"].append(nbformat.v4.new_code_cell(f"# copied\n{line}"))
    page = render_feedback(nb, spec, _record(spec, True), name, "mallory", release_path(name))
    _assert_clean_page(page, secret)
    assert "# [hidden test code]" in _page_text(page)


def test_hidden_code_outside_its_cell_is_masked_or_the_page_refused():
    name = "01_backprop"
    spec = _spec(name)
    secret = hidden_lines(spec, released_lines(spec, release_path(name)))
    nb = json.loads(source_path(name).read_text())
    for cell in nb["cells"]:        # a test cell whose id was changed is not cut: its hidden lines are masked
        if "BEGIN HIDDEN TESTS" in "".join(cell["source"]):
            cell["metadata"]["nbgrader"]["grade_id"] = "not_in_the_gradebook"
            break
    page = render_feedback(nb, spec, _record(spec, True), name, "eve", release_path(name))
    _assert_clean_page(page, secret)
    nb["cells"].append(nbformat.v4.new_markdown_cell("notes\n\n" + sorted(secret)[0]))
    with pytest.raises(FeedbackError, match="hidden-test code"):
        render_feedback(nb, spec, _record(spec, True), name, "eve", release_path(name))


def _hostile_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata.update(signature="sha256:" + "0" * 64, title="</title><script>x</script>",
                       widgets={"application/vnd.jupyter.widget-state+json": {"x": "</script><script>x"}},
                       kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"})
    code = nbformat.v4.new_code_cell("x = 1")
    code.metadata.update(trusted=True, jupyter={"source_hidden": True},
                         nbgrader={"grade_id": "<script>", "grade": True})
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": f"<b>kept</b><script>{PAYLOAD}</script>"
                                                                  f"<img src=x onerror=\"{PAYLOAD}\">"
                                                                  "<table><tr><td>1</td></tr></table>",
                                                     "text/plain": "<html>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": PAYLOAD}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": f"<svg onload=\"{PAYLOAD}\"/>"}),
        nbformat.v4.new_output("display_data", data={"image/png": f"\"><script>{PAYLOAD}</script>"}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG},
                               metadata={"image/png": {"width": '1" onload="x'}}),
        nbformat.v4.new_output("execute_result", data={"text/plain": "42", "text/latex": "$x$"}, execution_count=3),
        nbformat.v4.new_output("stream", name="stdout", text="<i>printed</i>\n"),
    ]
    md = nbformat.v4.new_markdown_cell(f"Text $a<b$ <script>{PAYLOAD}</script> [l](javascript:{PAYLOAD})\n\n"
                                       "```\n<b>code</b>\n\n[z](javascript:x)\n```\n")
    md["attachments"] = {"a.svg": {"image/svg+xml": "<svg onload='x'/>"}}
    raw = nbformat.v4.new_raw_cell(f"<script>{PAYLOAD}</script>")
    raw.metadata["raw_mimetype"] = "text/html"
    nb.cells = [code, md, raw]
    return nb


def test_neutralise_keeps_plain_outputs_and_drops_active_ones():
    nb = neutralise(_hostile_notebook())
    nbformat.validate(nb)
    text = nbformat.writes(nb)
    for bad in ("<script", "onerror", "onload", "widget", "signature", '"title"', "trusted", "attachments",
                "href=\\\"javascript", "(javascript:alert"):
        assert bad not in text, bad
    assert "[z](javascript:x)" in text, "text inside a code block is kept as text"
    code, md, raw = nb.cells
    assert {k for o in code.outputs for k in o.get("data", {})} == {"text/plain", "text/html", "image/png"}
    assert set(nb.metadata) == {"kernelspec"} and code.metadata == {}
    data = [o.get("data", {}) for o in code.outputs]
    assert data[0]["text/html"] == "<b>kept</b><table><tbody><tr><td>1</td></tr></tbody></table>"
    assert data[0]["text/plain"] == "<html>"
    assert data[1] == {"text/plain": "[output removed from the graded copy: application/javascript]"}
    assert data[3] == {"text/plain": "[output removed from the graded copy: image/png]"}
    assert data[4] == {"image/png": PNG} and code.outputs[4].metadata == {}
    assert data[5] == {"text/plain": "42"} and code.outputs[5].execution_count == 3
    assert code.outputs[6].text == "<i>printed</i>\n"       # text: escaped by every renderer
    assert "$a&lt;b$" in md.source and md.source.startswith("<div>")
    assert raw.source.startswith("&lt;script&gt;") and raw.metadata == {}
    assert nbformat.writes(neutralise(nb)) == text, "neutralising twice changes the notebook"


def test_released_markdown_is_kept_as_it_is():
    released = nbformat.read(str(release_path("02_text_cnn")), as_version=4)
    trusted = {c.source.strip() for c in released.cells if c.cell_type == "markdown"}
    nb = neutralise(nbformat.read(str(source_path("02_text_cnn")), as_version=4), trusted)
    mine = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert sum(1 for s in mine if s.strip() in trusted) >= len(mine) - 2


def test_a_page_that_fails_does_not_stop_the_others(tmp_path):
    from adversarial.support import ASSIGNMENT, make_course

    root = tmp_path / "course"
    cfg = make_course(root)
    solution = nbformat.read(str(root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), as_version=4)
    spec = spec_from_solution(root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").notebooks[0]
    assert CORRECT
    for student in ("alice", "bob", "carol"):
        folder = root / "autograded" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        rec = {"student": student, "assignment": ASSIGNMENT, **_record(spec, True)}
        (folder / "grading.json").write_text(json.dumps(rec))
        (folder / f"{NOTEBOOK}.ipynb").write_text("{not json" if student == "bob" else nbformat.writes(solution))
    stale = root / "feedback" / "bob" / ASSIGNMENT / f"{NOTEBOOK}.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("an old page")
    failures, log = [], []
    pages = generate_all(cfg, log=log.append, failures=failures)
    assert sorted(p.parent.parent.name for p in pages) == ["alice", "carol"]
    assert [f["student"] for f in failures] == ["bob"] and "JSONDecodeError" in failures[0]["reason"]
    assert any("bob" in line and "not written" in line for line in log), log
    assert not stale.exists(), "a stale page of a failed student was left"
    assert main(["--root", str(root)]) == 1
    shutil.rmtree(root / "autograded" / "bob")
    assert main(["--root", str(root)]) == 0
    for p in pages:
        text = p.read_text()
        assert "100 / 100" in text
        rel = root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        secret = hidden_lines(spec, released_lines(spec, rel))
        assert "torch.manual_seed(0)" not in secret     # in a hidden test and in the released notebook
        assert not {" ".join(l.split()) for l in _page_text(text).splitlines()} & secret
    assert released_source("a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS") == "a"


@pytest.mark.xdist_group("grading")
@pytest.mark.parametrize("name", ["01_backprop", "07_self_attention"])
def test_feedback_after_real_grading(name, tmp_path):
    """The sealed grader's own output for the solution and for the untouched notebook of 01 and 07 (whose
    feedback failed for every student when visible lines counted as hidden) gives pages without hidden code."""
    from autograder.grading.engine import grade_submission
    from autograder.grading.host.tester import shutdown_workers_cache
    from autograder.grading.model import Limits

    spec = spec_from_solution(source_path(name), release_path(name))
    nbspec = spec.notebooks[0]
    secret = hidden_lines(nbspec, released_lines(nbspec, release_path(name)))
    try:
        for who, src in (("solution", source_path(name)), ("blank", release_path(name))):
            folder = tmp_path / who
            folder.mkdir()
            shutil.copy(src, folder / f"{name}.ipynb")
            result = grade_submission(spec, who, folder, Limits(cell_timeout=60, notebook_timeout=300, threads=1))
            graded = result["notebooks"][name]["autograded"]
            assert graded, result["notebooks"][name]["flags"]
            page = render_feedback(json.loads(graded), nbspec, result, name, who, release_path(name))
            _assert_clean_page(page, secret)
            if who == "blank":
                assert result["score"] == 0 and "Hidden tests passed." not in page
    finally:
        shutdown_workers_cache()
