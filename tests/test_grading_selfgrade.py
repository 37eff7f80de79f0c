"""``selfgrade``: a learner grades a notebook with the hidden tests of the local ``solutions/``.

It must print every test cell with its points and failure message, and never a line of hidden-test
source, even where the graded notebook's tracebacks quote it; without ``solutions/`` it says so.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from adversarial.cases import CORRECT, NOTEBOOK, WRONG
from adversarial.support import ASSIGNMENT, make_course

from autograder.course import release_path
from autograder.grading.batch.feedback import hidden_lines, released_lines
from autograder.grading.commands.selfgrade import selfgrade, spec_from_solution
from autograder.grading.engine import grade_submission
from autograder.grading.host.tester import shutdown_workers_cache
from autograder.grading.model import Limits

pytestmark = pytest.mark.xdist_group("grading")

LIMITS = Limits(cell_timeout=20, notebook_timeout=120, threads=1)
# the student's function raises with its own call stack as the message
STACK = "def scale(x, a):\n    import traceback\n    raise ValueError(''.join(traceback.format_stack()))"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("selfgrade") / "course"
    make_course(root)
    yield root
    shutdown_workers_cache()


def _paths(root: Path):
    return root / "notebooks", root / "solutions"


def _answered(root, tmp_path, answers, name=f"{NOTEBOOK}.ipynb"):
    nb = nbformat.read(str(root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), as_version=4)
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def _secret(root):
    rel = root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    spec = spec_from_solution(root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", rel)
    return spec, hidden_lines(spec.notebooks[0], released_lines(spec.notebooks[0], rel))


def _shows_secret(text: str, secret: set[str]) -> list[str]:
    return [s for s in secret
            if s in " ".join(text.split()) or any(s in " ".join(l.split()) for l in text.splitlines())]


def test_correct_answers_get_every_point(course, tmp_path):
    lines = []
    code = selfgrade(_answered(course, tmp_path, CORRECT), *_paths(course), LIMITS, log=lines.append)
    text = "\n".join(lines)
    assert code == 0, text
    assert "score: 100/100 (visible tests 22/22, hidden tests 78/78)" in text
    spec, _ = _secret(course)
    for gid in spec.notebooks[0].grade_ids:
        row = next(l for l in lines if l.strip().startswith(gid + " "))
        assert "passed" in row and f"{spec.notebooks[0].cells[gid]['points']:g}/" in row


def test_failures_are_named_and_never_show_hidden_source(course, tmp_path):
    spec, secret = _secret(course)
    answers = dict(WRONG, ex1_scale=STACK)
    path = _answered(course, tmp_path, answers)
    # the graded notebook itself quotes hidden lines in its tracebacks: printing them would leak
    folder = tmp_path / "graded"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    raw = nbformat.reads(grade_submission(spec, "probe", folder, LIMITS)["notebooks"][NOTEBOOK]["autograded"], 4)
    tracebacks = "\n".join(t for c in raw.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
                           for t in o.get("traceback", []) + [o.get("evalue", "")])
    assert _shows_secret(tracebacks, secret), "the probe should see hidden lines in the raw tracebacks"
    lines = []
    code = selfgrade(path, *_paths(course), LIMITS, log=lines.append)
    text = "\n".join(lines)
    assert code == 0, text
    assert "score: 0/100" in text
    assert not _shows_secret(text, secret), _shows_secret(text, secret)
    assert "Traceback" not in text and "---->" not in text
    rows = {l.split()[0]: l for l in lines if l.startswith("  ex")}
    assert set(rows) == set(spec.notebooks[0].grade_ids)
    assert "hidden" in rows["ex2_softmax_hidden"] and "FAILED  0/" in rows["ex2_softmax_hidden"]
    assert "softmax differs for shape" in rows["ex2_softmax_hidden"]     # the hidden test's own message
    assert "ValueError" in rows["ex1_scale_hidden"]


def test_without_solutions_it_says_so(course, tmp_path):
    lines = []
    code = selfgrade(_answered(course, tmp_path, CORRECT), course / "notebooks", tmp_path / "no-solutions",
                     LIMITS, log=lines.append)
    assert code == 2
    assert "no hidden tests here" in lines[-1] and "solutions/" in lines[-1] and "autograder check" in lines[-1]


def test_the_notebook_call_finds_its_notebook(course, tmp_path, monkeypatch, capsys):
    from dlnlp import selfgrade as call
    from dlnlp.selfgrade import current_notebook

    path = _answered(course, tmp_path, CORRECT, name="my copy.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    assert current_notebook() == path.resolve()
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.chdir(tmp_path)
    assert current_notebook() == path.resolve()      # the only notebook in the kernel's folder
    code = call(None, "--notebooks", str(course / "notebooks"), "--solutions", str(course / "solutions"),
                "--cell-timeout", "20")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "score: 100/100" in out


def test_the_untouched_real_notebook(tmp_path):
    """01 as released: every test cell is listed, 0 points, and no hidden line is printed."""
    name = "01_backprop"
    shutil.copy(release_path(name), tmp_path / f"{name}.ipynb")
    lines = []
    assert selfgrade(tmp_path / f"{name}.ipynb", limits=LIMITS, log=lines.append) == 0
    text = "\n".join(lines)
    spec = spec_from_solution(Path(release_path(name)).parents[2] / "solutions" / name / f"{name}.ipynb",
                              release_path(name)).notebooks[0]
    secret = hidden_lines(spec, released_lines(spec, release_path(name)))
    assert "score: 0/100" in text
    assert sum(1 for l in lines if l.startswith("  ex")) == len(spec.grade_ids)
    assert not _shows_secret(text, secret)
