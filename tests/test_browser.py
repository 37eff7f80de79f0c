"""The learner's path in JupyterLab, in a real headless Chromium driven by Playwright.

A JupyterLab server is started from the course environment on a free loopback port over a copy of a
student notebook. The browser fills in exercise 4 of notebook 01 by typing into its cell (the other
exercises get the reference answers pasted in so that the whole notebook can run), runs all cells,
checks that the visible tests pass and the plots render, presses nbgrader's **Validate** button and
reads its verdict. A second test answers wrongly and must see the tests and Validate object. Both save
screenshots under ``test-artifacts/``. Without a Chromium the tests are skipped, saying why.
"""
from __future__ import annotations

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


@pytest.fixture()
def lab(tmp_path, request):
    """A JupyterLab server over a fresh copy of the student notebook; yields (base_url, token, folder).
    Parametrised indirectly with ``"no-nbgrader"`` it runs with nbgrader's lab extension disabled."""
    work = tmp_path / "course"
    shutil.copytree(NOTEBOOKS / NAME, work / NAME)
    # nbgrader's Validate reads nbgrader_config.py from the server's working directory
    (work / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(ROOT / 'autograder' / 'nbgrader_config.py')!r})\n")
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # render every cell (no virtual scrolling) so the test can find them all
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    apputils = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    config_dir = tmp_path / "jupyter-config"
    (config_dir / "labconfig").mkdir(parents=True)
    if getattr(request, "param", None) == "no-nbgrader":
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
        yield base, token, work
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
    assert button.count() > 0, "nbgrader's Validate button is missing from the notebook toolbar: is the @jupyter/nbgrader extension installed and enabled?"
    button.first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    page.wait_for_function("() => !document.querySelector('.jp-Dialog')?.innerText.includes('Validating')", timeout=180_000)
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
    assert visible.count() == 6, f"expected the 6 visible tests to pass; {visible.count()} did (errors: {errors.count()})"
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
    assert "grad_b" in out and "AssertionError" in out, f"the visible test should explain the wrong bias gradient; got {out[:400]}"
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
