"""``check``: a student's check before submitting (visible tests, sealed, same sandbox and limits)."""
from __future__ import annotations

import shutil

import nbformat
import pytest
from adversarial.cases import CORRECT, NOTEBOOK, WRONG
from adversarial.support import ASSIGNMENT, make_course

from autograder.grading.commands.check import check
from autograder.grading.host.tester import shutdown_workers_cache
from autograder.grading.model import Limits

pytestmark = pytest.mark.xdist_group("grading")

LIMITS = Limits(cell_timeout=20, notebook_timeout=120, threads=1)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp("selfcheck") / "course"
    make_course(root)
    yield root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    shutdown_workers_cache()


def _answered(released, tmp_path, answers, name=f"{NOTEBOOK}.ipynb", edit=None, raise_at=None):
    nb = nbformat.read(str(released), as_version=4)
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
        if edit and gid == edit:
            cell.source = "pass"
    if raise_at is not None:
        nb.cells.insert(raise_at, nbformat.v4.new_code_cell("raise ValueError('a stray cell')"))
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
    assert "ready to submit" not in text and "visible tests fail (0/22 points)" in text


def test_an_untouched_notebook_is_not_ready(released, tmp_path):
    path = tmp_path / f"{NOTEBOOK}.ipynb"
    shutil.copy(released, path)
    lines = []
    code = check(path, released, LIMITS, log=lines.append)
    text = "\n".join(lines)
    assert code == 1, text
    assert "ready to submit" not in text
    assert "PROBLEM: every answer cell still holds the starter code (4 cells)" in text


def test_one_unanswered_exercise_is_named(released, tmp_path):
    answers = {k: v for k, v in CORRECT.items() if k != "ex4_count_words"}
    lines = []
    code = check(_answered(released, tmp_path, answers), released, LIMITS, log=lines.append)
    text = "\n".join(lines)
    assert code == 0, text
    assert "not answered yet (still the starter code): ex4_count_words" in text and "ready to submit" not in text


def test_cells_are_numbered_from_one(released, tmp_path):
    """A stray cell at index 2 (counting from 0) is JupyterLab's cell 3."""
    lines = []
    check(_answered(released, tmp_path, CORRECT, raise_at=2), released, LIMITS, log=lines.append)
    text = "\n".join(lines)
    assert "note: cell 3 raised an error" in text, text
    assert "#2" not in text and "cell 2 raised" not in text


def test_a_renamed_file_is_a_note_not_a_problem(released, tmp_path):
    lines = []
    code = check(_answered(released, tmp_path, CORRECT, name="final version.ipynb"), released, LIMITS,
                 log=lines.append)
    text = "\n".join(lines)
    assert code == 0, text
    assert "note: the file is named 'final version.ipynb': it is still graded" in text
    assert "PROBLEM" not in text and "ready to submit" in text


def test_problems_that_would_cost_points_block(released, tmp_path):
    lines = []
    path = _answered(released, tmp_path, CORRECT, name="final version.ipynb", edit="ex1_scale_visible")
    code = check(path, released, LIMITS, log=lines.append)
    text = "\n".join(lines)
    assert code == 1, text
    assert "PROBLEM: the locked cell ex1_scale_visible was edited" in text, text
    assert "fx_ops.ipynb is the name it looks for first" in text


def test_a_broken_file_is_reported(released, tmp_path):
    path = tmp_path / f"{NOTEBOOK}.ipynb"
    shutil.copy(released, path)
    path.write_text(path.read_text()[:200])
    lines = []
    assert check(path, released, LIMITS, log=lines.append) == 1
    assert any("not valid notebook JSON" in line for line in lines)
