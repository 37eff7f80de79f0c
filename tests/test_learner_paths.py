"""Where a learner works (``work/``), and what the released notebooks carry.

A learner's answers live in ``work/`` (git-ignored), filled by ``python -m autograder start`` without
ever writing over a file; ``release`` copies any notebook of ``notebooks/`` that holds a learner's edits
into ``work/`` before regenerating it; the student notebooks carry nothing of the solution run.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from autograder.course import NOTEBOOKS, ROOT, assignments, nbmeta, release_path
from autograder.workspace import holds_learner_work, start

NAME = "01_backprop"


def _course_copy(tmp_path):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS / NAME, notebooks / NAME)
    shutil.copytree(NOTEBOOKS / "11_gpt", notebooks / "11_gpt")
    return notebooks


def _answer(path, text="def f():\n    return 1\n"):
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if nbmeta(c).get("solution") and not nbmeta(c).get("grade"))
    cell.source = text
    nbformat.write(nb, str(path))
    return path.read_bytes()


def test_start_copies_the_notebooks_and_their_data_and_never_writes_over_a_file(tmp_path):
    notebooks, work = _course_copy(tmp_path), tmp_path / "work"
    lines = []
    report = start(work, notebooks, log=lines.append)
    assert (work / NAME / f"{NAME}.ipynb").read_bytes() == (notebooks / NAME / f"{NAME}.ipynb").read_bytes()
    assert (work / "11_gpt" / "gpt_shakespeare.pt").is_file()      # the checkpoint loaded from the notebook's folder
    assert len(report.copied) == 4                     # two notebooks, the checkpoint and the BPE file
    mine = _answer(work / NAME / f"{NAME}.ipynb")
    # a course update: the released notebook changes, and a new notebook arrives
    _answer(notebooks / NAME / f"{NAME}.ipynb", "# YOUR CODE HERE\nraise NotImplementedError()  # reworded\n")
    shutil.copytree(NOTEBOOKS / "02_text_cnn", notebooks / "02_text_cnn")
    lines.clear()
    report = start(work, notebooks, log=lines.append)
    assert (work / NAME / f"{NAME}.ipynb").read_bytes() == mine
    assert [p.name for p in report.copied] == ["02_text_cnn.ipynb"]
    assert [p.name for p in report.updated] == [f"{NAME}.ipynb"]
    text = "\n".join(lines)
    assert "updated in the course" in text and "kept as it is" in text and "nothing of yours was written over" in text


def test_the_learners_folder_is_ignored_by_git():
    done = subprocess.run(["git", "check-ignore", "-q", "work/01_backprop/01_backprop.ipynb"], cwd=ROOT)
    assert done.returncode == 0, "work/ must be git-ignored, or a course update would collide with a learner's answers"


def test_learner_work_is_told_from_a_fresh_release(tmp_path):
    path = tmp_path / f"{NAME}.ipynb"
    shutil.copy(release_path(NAME), path)
    assert not holds_learner_work(path)
    _answer(path)
    assert holds_learner_work(path)
    nb = nbformat.read(str(release_path(NAME)), as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").execution_count = 3        # a cell that was run
    nbformat.write(nb, str(path))
    assert holds_learner_work(path)


@pytest.mark.xdist_group("release")
def test_release_never_writes_over_a_learners_edited_notebook(tmp_path):
    from autograder.release import release

    into, work = tmp_path / "notebooks", tmp_path / "work"
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    release([NAME], into, db, work=work, log=lambda *a: None)
    edited = into / NAME / f"{NAME}.ipynb"
    mine = _answer(edited)
    (into / NAME / "scratch.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    lines = []
    release([NAME], into, db, work=work, log=lines.append)
    assert edited.read_bytes() == release_path(NAME).read_bytes()            # the release is the course's
    assert (work / NAME / f"{NAME}.ipynb").read_bytes() == mine              # and the learner's work is kept
    assert (work / NAME / "scratch.ipynb").is_file()
    assert sum("kept your work" in l for l in lines) == 2, lines
    # a second release finds nothing of the learner's left in notebooks/ and writes nothing to work/
    lines.clear()
    release([NAME], into, db, work=work, log=lines.append)
    assert not any("kept your work" in l for l in lines) and len(list((work / NAME).iterdir())) == 2


def test_student_notebooks_carry_nothing_of_the_solution_run():
    for name in assignments():
        nb = json.loads(release_path(name).read_text())
        assert "widgets" not in nb["metadata"], f"{name}: the solution run's widget state is in the metadata"
        for i, cell in enumerate(nb["cells"]):
            assert "execution" not in cell.get("metadata", {}), f"{name} cell {i}: the solution run's timings"
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{name} cell {i} has outputs"


def test_the_student_view_drops_widget_state_and_outputs():
    from autograder.release_filters import StudentView

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", text="1\n")])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells[0].metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00"}
    out, _ = StudentView().preprocess(nb, {})
    assert "widgets" not in out.metadata and "execution" not in out.cells[0].metadata
    assert out.cells[0].outputs == [] and out.cells[0].execution_count is None


def test_a_fresh_clone_has_an_exchange(tmp_path):
    """nbgrader's commands (and JupyterLab's Assignments tab) in a fresh clone find the course's exchange
    folder instead of complaining that it does not exist."""
    import os
    import sys

    clone = tmp_path / "clone"
    shutil.copytree(ROOT / "autograder", clone / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", clone / "nbgrader_config.py")
    (clone / "solutions").mkdir()
    (clone / "notebooks").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_DB_URL", "JUPYTER_CONFIG_PATH")}
    env.update(PYTHONPATH=str(clone), JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter"),
               PATH=str(ROOT / ".venv" / "bin") + os.pathsep + env.get("PATH", ""))
    done = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "list"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=120)
    text = done.stdout + done.stderr
    assert done.returncode == 0 and "exchange" not in text.lower(), text
    assert (clone / ".nbgrader" / "exchange").is_dir()
