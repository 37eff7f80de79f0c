"""``check``: a student's check before submitting (visible tests, sealed, same sandbox and limits)."""
from __future__ import annotations

import shutil

import nbformat
import pytest

from adversarial.cases import CORRECT, NOTEBOOK, WRONG
from adversarial.support import ASSIGNMENT, make_course
from autograder.grading.engine import shutdown_workers_cache
from autograder.grading.sandbox import Limits
from autograder.grading.selfcheck import check

pytestmark = pytest.mark.xdist_group("grading")

LIMITS = Limits(cell_timeout=20, notebook_timeout=120, threads=1)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp("selfcheck") / "course"
    make_course(root)
    yield root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    shutdown_workers_cache()


def _answered(released, tmp_path, answers, name=f"{NOTEBOOK}.ipynb", edit=None):
    nb = nbformat.read(str(released), as_version=4)
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
        if edit and gid == edit:
            cell.source = "pass"
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def test_a_correct_notebook_is_ready(released, tmp_path):
    lines = []
    code = check(_answered(released, tmp_path, CORRECT), released, LIMITS, log=lines.append)
    text = "\n".join(lines)
    assert code == 0, text
    assert "visible points: 22/22" in text and "ready to submit" in text


def test_failing_tests_are_reported_but_do_not_block(released, tmp_path):
    lines = []
    code = check(_answered(released, tmp_path, WRONG), released, LIMITS, log=lines.append)
    text = "\n".join(lines)
    assert code == 0, text
    assert "visible points: 0/22" in text and "FAILED" in text


def test_problems_that_would_cost_points_block(released, tmp_path):
    lines = []
    path = _answered(released, tmp_path, CORRECT, name="final version.ipynb", edit="ex1_scale_visible")
    code = check(path, released, LIMITS, log=lines.append)
    text = "\n".join(lines)
    assert code == 1, text
    assert "should be named fx_ops.ipynb" in text and "ex1_scale_visible" in text


def test_a_broken_file_is_reported(released, tmp_path):
    path = tmp_path / f"{NOTEBOOK}.ipynb"
    shutil.copy(released, path)
    path.write_text(path.read_text()[:200])
    lines = []
    assert check(path, released, LIMITS, log=lines.append) == 1
    assert any("not valid notebook JSON" in line for line in lines)
