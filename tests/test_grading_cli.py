"""The instructor's path through the command line, as the README gives it: an LMS zip is collected,
graded with two workers, turned into feedback pages and exported, and a student checks a notebook
before submitting. Each command runs as ``python -m autograder ...`` in its own process."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from adversarial.cases import CORRECT, NOTEBOOK, WRONG, _answers, mixed
from adversarial.support import ASSIGNMENT, make_course

pytestmark = pytest.mark.xdist_group("grading")

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_DB_URL"}
    proc = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=600)
    if ok:
        assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _notebook(released: Path, answers: dict[str, str]) -> bytes:
    nb = nbformat.read(str(released), as_version=4)
    _answers(nb, answers)
    return nbformat.writes(nb).encode()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    root = tmp / "course"
    make_course(root)
    released = root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    # A Canvas download: <name>_<userid>_<submissionid>_<file>; dana's file was renamed by the LMS.
    z = tmp / "submissions.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, answers in (("alice_101_201_fx_ops.ipynb", CORRECT),
                              ("bob_102_202_fx_ops.ipynb", WRONG),
                              ("carol_103_203_fx_ops.ipynb", mixed(ex3_affine=WRONG["ex3_affine"])),
                              ("dana_104_204_homework-1.ipynb", CORRECT)):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 5, 1, 12, 0, 0)), _notebook(released, answers))
        zf.writestr("notes.txt", "not a notebook")
    return {"root": root, "zip": z, "released": released, "tmp": tmp}


def test_collect_grade_feedback_export(course):
    root = str(course["root"])
    out = _run("collect", str(course["zip"]), "--root", root).stdout
    for student in ("alice", "bob", "carol", "dana"):
        assert (course["root"] / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists(), out

    graded = _run("grade", "--root", root, "--workers", "2", "--cell-timeout", "20").stdout
    assert "isolation:" in graded, graded
    # resumable: a second run grades nothing again
    again = _run("grade", "--root", root, "--workers", "2", "--cell-timeout", "20").stdout

    _run("feedback", "--root", root)
    pages = sorted(p.relative_to(course["root"] / "feedback").parts[0]
                   for p in (course["root"] / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert pages == ["alice", "bob", "carol", "dana"], pages

    _run("export", "--root", root)
    exports = course["root"] / "exports"
    with open(exports / "grades.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    scores = {s: float(r["score"]) for s, r in rows.items()}
    assert scores == {"alice": 100.0, "bob": 0.0, "carol": 65.0, "dana": 100.0}, (scores, graded, again)
    assert (exports / "exercises.csv").exists() and (exports / "score_distribution.png").stat().st_size > 1000
    assert (exports / "grades_wide.csv").exists()
    assert "grading 0 submission(s)" in again and "4 already graded and unchanged" in again, again


def test_student_self_check(course, tmp_path):
    ready = tmp_path / f"{NOTEBOOK}.ipynb"
    ready.write_bytes(_notebook(course["released"], CORRECT))
    proc = _run("check", str(ready), "--release", str(course["released"]))
    assert "ready" in proc.stdout.lower(), proc.stdout

    broken = tmp_path / "broken" / f"{NOTEBOOK}.ipynb"
    broken.parent.mkdir()
    broken.write_bytes(_notebook(course["released"], CORRECT)[:500])
    proc = _run("check", str(broken), "--release", str(course["released"]), ok=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
