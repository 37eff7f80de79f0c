"""The learner's path in JupyterLab, in a real headless Chromium driven by Playwright.

A JupyterLab server is started from the course environment on a free loopback port over a copy of a
student notebook. The browser fills in exercise 4 of notebook 01 by typing into its cell (the other
exercises get the reference answers pasted in so that the whole notebook can run), runs all cells,
checks that the visible tests pass and the plots render, presses nbgrader's **Validate** button and
reads its verdict. A second test answers wrongly and must see the tests and Validate object. Both save
screenshots under ``test-artifacts/``. Without a Chromium the tests are skipped, saying why.

The instructor's side: a submission whose outputs, Markdown and metadata carry script
(``tests/adversarial/cases_outputs.py``) is graded; its graded copy is opened in nbgrader's formgrader
(logged in) and in JupyterLab, and its feedback page from ``file://``, and the script must not run (it
would create ``PWNED.txt`` through the Jupyter API). The copy as the kernel produced it, not
neutralised, does run it in formgrader, so the test sees an attack when there is one. A real
notebook's feedback page must render its math with the network cut off.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder.course import NOTEBOOKS, ROOT, SOLUTIONS, nbmeta

ARTIFACTS = ROOT / "test-artifacts"
NAME = "01_backprop"
TYPED_EXERCISE = "ex4_linear_backward"
CORRECT = """def linear_backward(x, W, b, grad_out):
    grad_x = grad_out @ W
    grad_W = grad_out.T @ x
    grad_b = grad_out.sum(dim=0)
    return grad_x, grad_W, grad_b
"""
WRONG = CORRECT.replace("grad_out.sum(dim=0)", "grad_out.mean(dim=0)")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium found (install Debian's `chromium` package, or Playwright's own browser); "
                    "the JupyterLab end-to-end tests need one")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@contextlib.contextmanager
def _jupyterlab(work: Path, tmp_path: Path, disable_nbgrader: bool = False):
    """A JupyterLab server (with nbgrader's extensions) over ``work``; yields (base_url, token)."""
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    # render every cell (no virtual scrolling) so the test can find them all
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    apputils = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    config_dir = tmp_path / "jupyter-config"
    (config_dir / "labconfig").mkdir(parents=True, exist_ok=True)
    if disable_nbgrader:
        (config_dir / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"@jupyter/nbgrader": True}}))
    port, token = _free_port(), "course-e2e"
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"), JUPYTER_CONFIG_DIR=str(config_dir),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("NBGRADER_EXECUTION", None)
    env.pop("MPLBACKEND", None)  # the kernel must use the inline backend a learner gets
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture()
def lab(tmp_path, request):
    """A JupyterLab server over a fresh copy of the student notebook; yields (base_url, token, folder).
    Parametrised indirectly with ``"no-nbgrader"`` it runs with nbgrader's lab extension disabled."""
    work = tmp_path / "course"
    shutil.copytree(NOTEBOOKS / NAME, work / NAME)
    # nbgrader's Validate reads nbgrader_config.py from the server's working directory
    (work / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(ROOT / 'autograder' / 'nbgrader_config.py')!r})\n")
    with _jupyterlab(work, tmp_path, getattr(request, "param", None) == "no-nbgrader") as (base, token):
        yield base, token, work


def _reference_answers() -> dict[str, str]:
    nb = nbformat.read(SOLUTIONS / NAME / f"{NAME}.ipynb", as_version=4)
    answers = {}
    for cell in nb.cells:
        meta = nbmeta(cell)
        if meta.get("solution") and not meta.get("grade"):
            answers[meta["grade_id"]] = "\n".join(
                l for l in cell.source.splitlines() if "### BEGIN SOLUTION" not in l and "### END SOLUTION" not in l)
    return answers


def _cell_index(work: Path, grade_id: str) -> int:
    nb = nbformat.read(work / NAME / f"{NAME}.ipynb", as_version=4)
    return next(i for i, c in enumerate(nb.cells) if nbmeta(c).get("grade_id") == grade_id)


def _set_cell(page, index: int, source: str) -> None:
    editor = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(source)


def _open(page, base, token):
    page.goto(f"{base}/lab/tree/{NAME}/{NAME}.ipynb?token={token}", timeout=90_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    # wait for the kernel to be ready
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }", timeout=120_000)


def _run_all(page, timeout_ms: int) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()
    page.wait_for_timeout(1000)
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }", timeout=timeout_ms)


def _validate(page) -> str:
    button = page.locator(".jp-Toolbar button:has-text('Validate'), .jp-Toolbar [title*='Validate' i]")
    assert button.count() > 0, ("nbgrader's Validate button is missing from the notebook toolbar: is the "
                                "@jupyter/nbgrader extension installed and enabled?")
    button.first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    page.wait_for_function("() => !document.querySelector('.jp-Dialog')?.innerText.includes('Validating')",
                           timeout=180_000)
    return dialog.inner_text()


def _outputs(page, index: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea").inner_text()


def test_learner_fills_an_exercise_runs_all_and_validates(browser, lab):
    base, token, work = lab
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    start = time.perf_counter()
    _open(page, base, token)
    answers = _reference_answers()
    for grade_id, source in answers.items():
        if grade_id != TYPED_EXERCISE:
            _set_cell(page, _cell_index(work, grade_id), source)
    # the learner's own answer, typed key by key
    index = _cell_index(work, TYPED_EXERCISE)
    editor = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    for line in CORRECT.splitlines():
        page.keyboard.type(line.strip() if line.startswith("    ") else line, delay=2)
        page.keyboard.press("Enter")  # the editor indents the next line after a colon
        if line.startswith("    return"):
            break
    typed = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content").inner_text()
    assert "grad_out.sum(dim=0)" in typed
    _run_all(page, timeout_ms=300_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] :text('Error')")
    visible = page.locator(".jp-OutputArea-output:has-text('visible tests passed')")
    assert visible.count() == 6, \
        f"expected the 6 visible tests to pass; {visible.count()} did (errors: {errors.count()})"
    assert "Exercise 4 visible tests passed." in _outputs(page, _cell_index(work, f"{TYPED_EXERCISE}_visible"))
    images = page.locator(".jp-OutputArea-output img")
    assert images.count() >= 2, f"expected the two figures to render as images; found {images.count()}"
    assert all(images.nth(i).evaluate("img => img.naturalWidth > 100") for i in range(images.count()))
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-run-all.png"))
    page.locator(".jp-Notebook .jp-Cell").nth(index).scroll_into_view_if_needed()
    verdict = _validate(page)
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-validate.png"))
    assert "Success! Your notebook passes all the tests." in verdict, f"Validate said: {verdict[:500]}"
    print(f"browser path took {time.perf_counter() - start:.1f} s")
    page.close()


def test_wrong_answer_is_caught_in_the_browser(browser, lab):
    base, token, work = lab
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open(page, base, token)
    index = _cell_index(work, TYPED_EXERCISE)
    _set_cell(page, index, WRONG)
    nb = nbformat.read(work / NAME / f"{NAME}.ipynb", as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    # the imports, linear_forward (the cell above the exercise), the answer, and its visible test
    for i in (setup, index - 1, index, index + 1):
        page.locator(".jp-Notebook .jp-Cell").nth(i).locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
        page.wait_for_timeout(300)
        page.wait_for_function(
            "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
            " return s && s.getAttribute('data-status') === 'idle'; }", timeout=120_000)
    out = _outputs(page, index + 1)
    assert "grad_b" in out and "AssertionError" in out, \
        f"the visible test should explain the wrong bias gradient; got {out[:400]}"
    verdict = _validate(page)
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-validate-wrong.png"))
    assert "Success" not in verdict and ("failed" in verdict.lower() or "error" in verdict.lower()), verdict[:500]
    page.close()


@pytest.mark.parametrize("lab", ["no-nbgrader"], indirect=True)
def test_missing_nbgrader_extension_is_reported(browser, lab):
    base, token, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open(page, base, token)
    with pytest.raises(AssertionError, match="Validate button is missing"):
        _validate(page)
    page.close()


# ------------------------------------------------------------------ what an instructor opens is inert
def _graded_hostile_course(tmp_path):
    """The fixture course with one graded hostile submission (``tests/adversarial/cases_outputs.py``),
    its scores in the gradebook; returns (cfg, root, the grader's result)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from adversarial.cases import NOTEBOOK, Ctx  # noqa: F401 - loads cases_outputs as well
    from adversarial.cases_outputs import hostile
    from adversarial.support import ASSIGNMENT, make_course

    from autograder.grading.batch.gradebook import assignment_spec, record_result
    from autograder.grading.engine import grade_submission
    from autograder.grading.host.tester import shutdown_workers_cache
    from autograder.grading.model import Limits

    root = tmp_path / "course"
    cfg = make_course(root)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(ROOT / 'autograder' / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / '.nbgrader' / 'gradebook.db')!r}\n"
        f"c.Exchange.root = {str(root / '.nbgrader' / 'exchange')!r}\n")
    folder = root / "submitted" / "mallory" / ASSIGNMENT
    ctx = Ctx(released=root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", folder=folder,
              gradebook=root / ".nbgrader" / "gradebook.db",
              solution=root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
              course_root=root, canary=root / "canary.txt", port=9)
    hostile(ctx)
    try:
        result = grade_submission(assignment_spec(cfg, ASSIGNMENT), "mallory", folder,
                                  Limits(cell_timeout=30, notebook_timeout=120, threads=1))
    finally:
        shutdown_workers_cache()
    assert result["score"] == 100, result["notebooks"][NOTEBOOK]["flags"]
    record_result(cfg, result)
    return cfg, root, result


def _ran(page, marker: Path) -> list[str]:
    """What shows the payload ran: the file it creates through the Jupyter API, the flag it sets,
    the title it gives the page."""
    page.wait_for_timeout(3000)
    found = []
    if marker.exists():
        found.append("PWNED.txt was created")
    if page.evaluate("() => window.__pwned === 1 || (window.top && window.top.__pwned === 1)"):
        found.append("window.__pwned was set")
    if page.title() == "PWNED":
        found.append("the page title was changed")
    return found


def test_graded_hostile_notebook_runs_nothing_in_formgrader_or_jupyterlab(browser, tmp_path):
    """The grader's copy of a submission whose outputs carry script: opened in nbgrader's formgrader
    (which renders it with nbconvert, logged in) and in JupyterLab, nothing runs. The same notebook
    as graded but not neutralised does run the script in formgrader: the test can see an attack."""
    from nbgrader.api import Gradebook

    from autograder.grading.batch.gradebook import course_dir, write_outputs

    cfg, root, result = _graded_hostile_course(tmp_path)
    target = root / "autograded" / "mallory" / "fx_ops" / "fx_ops.ipynb"
    marker = root / "PWNED.txt"
    cd = course_dir(cfg)
    with Gradebook(cd.db_url, cd.course_id) as gb:
        sub_id = gb.find_submission_notebook("fx_ops", "fx_ops", "mallory").id
    ARTIFACTS.mkdir(exist_ok=True)
    with _jupyterlab(root, tmp_path) as (base, token):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab?token={token}", timeout=90_000)          # logged in: the XSRF cookie is set
        page.wait_for_selector(".jp-LabShell", timeout=90_000)
        # control: the graded notebook as the kernel produced it
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(result["notebooks"]["fx_ops"]["autograded"])
        page.goto(f"{base}/formgrader/submissions/{sub_id}/?token={token}", timeout=90_000)
        page.wait_for_selector("text=hostile outputs displayed", timeout=60_000)
        control = _ran(page, marker)
        assert "PWNED.txt was created" in control, f"the unneutralised copy should run the script; saw {control}"
        marker.unlink()
        # what the grader writes
        page.close()
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        write_outputs(cfg, result)
        from adversarial.cases_outputs import inert

        inert({"notebooks": {"fx_ops": {"autograded": target.read_text()}}}, None)
        page.goto(f"{base}/formgrader/submissions/{sub_id}/?token={token}", timeout=90_000)
        page.wait_for_selector("text=hostile outputs displayed", timeout=60_000)
        assert page.locator("b:has-text('bold text')").count() >= 1, "the harmless HTML output was not shown"
        page.screenshot(path=str(ARTIFACTS / "formgrader-hostile.png"), full_page=False)
        assert _ran(page, marker) == [], "a script ran in formgrader"
        # JupyterLab opening the graded copy
        page.goto(f"{base}/lab/tree/autograded/mallory/fx_ops/fx_ops.ipynb?token={token}", timeout=90_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        page.wait_for_selector(".jp-OutputArea-output:has-text('hostile outputs displayed')", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-hostile.png"))
        assert _ran(page, marker) == [], "a script ran in JupyterLab"
        page.close()


def _open_offline(browser, path: Path):
    """A page opened from file:// with every non-file request refused and recorded."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    requests: list[str] = []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            requests.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(path.as_uri(), timeout=60_000)
    page.wait_for_load_state("load")
    return context, page, requests


def test_feedback_pages_are_inert_and_render_math_offline(browser, tmp_path):
    """The hostile submission's feedback page runs nothing and asks the network for nothing; a real
    notebook's page (01, the solution as a submission) shows its math, rendered, from file://."""
    from autograder.course import release_path, source_path
    from autograder.grading.batch.feedback import generate_all, render_feedback
    from autograder.grading.batch.gradebook import write_outputs
    from autograder.grading.commands.selfgrade import spec_from_solution

    cfg, root, result = _graded_hostile_course(tmp_path)
    write_outputs(cfg, result)
    failures: list = []
    pages = generate_all(cfg, log=lambda *a: None, failures=failures)
    assert len(pages) == 1 and not failures, failures
    context, page, requests = _open_offline(browser, pages[0])
    page.wait_for_selector("text=hostile outputs displayed", timeout=30_000)
    assert page.locator("text=100 / 100").count() >= 1
    assert _ran(page, root / "PWNED.txt") == [] and requests == [], requests
    context.close()

    spec = spec_from_solution(source_path(NAME), release_path(NAME)).notebooks[0]
    record = {"notebooks": {NAME: {"scores": {g: [spec.cells[g]["points"]] * 2 for g in spec.grade_ids}, "flags": []}}}
    html_page = tmp_path / f"{NAME}.html"
    html_page.write_text(render_feedback(json.loads(source_path(NAME).read_text()), spec, record, NAME, "alice",
                                         release_path(NAME)), encoding="utf-8")
    context, page, requests = _open_offline(browser, html_page)
    maths = page.locator("math")
    assert maths.count() >= 20, f"{maths.count()} formulas rendered"
    sizes = [maths.nth(i).bounding_box() for i in range(5)]
    assert all(b and b["width"] > 3 and b["height"] > 3 for b in sizes), sizes
    assert page.locator("text=Hidden tests passed.").count() >= 6
    page.locator("math").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "feedback-offline.png"))
    assert requests == [], f"the page asked the network for {requests[:5]}"
    context.close()


def test_formgraders_generate_feedback_and_math_are_safe_offline(browser, tmp_path):
    """Formgrader, logged in, with every request beyond the server refused: a submission's math is drawn
    (MathML, no MathJax from a CDN), and its *Generate Feedback* button writes the course's page, with no
    hidden test, and copies none of the grader's records into feedback/."""
    from autograder.grading.batch.gradebook import write_outputs

    cfg, root, result = _graded_hostile_course(tmp_path)
    write_outputs(cfg, result)
    target = root / "autograded" / "mallory" / "fx_ops" / "fx_ops.ipynb"
    nb = nbformat.read(str(target), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("Scaled by $\\sqrt{d_k}$:\n\n$$\\mathrm{softmax}(x)_i = "
                                                     "\\frac{e^{x_i}}{\\sum_j e^{x_j}}$$"))
    nbformat.write(nb, str(target))
    from nbgrader.api import Gradebook

    from autograder.grading.batch.gradebook import course_dir

    cd = course_dir(cfg)
    with Gradebook(cd.db_url, cd.course_id) as gb:
        sub_id = gb.find_submission_notebook("fx_ops", "fx_ops", "mallory").id
    ARTIFACTS.mkdir(exist_ok=True)
    with _jupyterlab(root, tmp_path) as (base, token):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        outside: list[str] = []

        def route(r):
            if r.request.url.startswith(base):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.goto(f"{base}/lab?token={token}", timeout=90_000)
        page.wait_for_selector(".jp-LabShell", timeout=90_000)
        page.goto(f"{base}/formgrader/submissions/{sub_id}/?token={token}", timeout=90_000)
        page.wait_for_selector("text=hostile outputs displayed", timeout=60_000)
        maths = page.locator("math")
        assert maths.count() >= 2, f"{maths.count()} formulas drawn; raw $...$ left: {page.locator('text=$').count()}"
        box = maths.first.bounding_box()
        assert box and box["width"] > 3 and box["height"] > 3, box
        page.screenshot(path=str(ARTIFACTS / "formgrader-math-offline.png"))
        page.goto(f"{base}/formgrader/manage_assignments?token={token}", timeout=90_000)
        page.locator(".generate-feedback a").first.click()
        page.wait_for_selector("#success-modal, #error-modal", timeout=180_000)
        page.screenshot(path=str(ARTIFACTS / "formgrader-generate-feedback.png"))
        assert page.locator("#success-modal").count() == 1, page.locator("#error-modal").inner_text()[:2000]
        context.close()
    out = root / "feedback" / "mallory" / "fx_ops"
    assert sorted(p.name for p in out.iterdir()) == ["fx_ops.html"], sorted(p.name for p in out.iterdir())
    html_page = (out / "fx_ops.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in html_page and "<script" not in html_page.lower()
    assert "100 / 100" in html_page and "Hidden tests passed." in html_page


def test_formgraders_student_totals_count_only_the_assignments_handed_out(browser, tmp_path):
    """Formgrader's *Manage Students*, logged in, on a class with two of three released assignments handed
    out (``tests/test_grading_handed_out.py``): each total is out of those two assignments' points."""
    from test_grading_handed_out import handed_out_class

    root, db, most = handed_out_class(tmp_path)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(ROOT / 'autograder' / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {db!r}\n"
        f"c.Exchange.root = {str(root / '.nbgrader' / 'exchange')!r}\n")
    ARTIFACTS.mkdir(exist_ok=True)
    with _jupyterlab(root, tmp_path) as (base, token):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab?token={token}", timeout=90_000)
        page.wait_for_selector(".jp-LabShell", timeout=90_000)
        page.goto(f"{base}/formgrader/manage_students?token={token}", timeout=90_000)
        page.wait_for_selector("td.score:has-text('/')", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "formgrader-students.png"))
        shown = sorted(page.locator("td.score").all_inner_texts())
        page.close()
    assert shown == sorted(f"{s:g} / {most:g}" for s in (140, 105, 0)), shown
