"""nbgrader's formgrader counts, in each student's total, every assignment the gradebook holds: its
*Manage Students* view and each student's page read ``Gradebook.student_dicts()`` and
``Student.max_score``, sums over all the gradebook's assignments. The course's gradebook therefore holds
only the assignments handed out. A class of three students, the README's instructor path on three of
the course's notebooks: ``release`` (every notebook), one assignment handed out with a due date
(``release NAME --due``), one by its submissions (``grade`` records it), one never handed out. Every
student's total is out of the two assignments handed out, and ``collect`` still recognises a notebook
of the third."""
from __future__ import annotations

import shutil

import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI

from autograder.course import SOLUTIONS, exercises, read, source_path
from autograder.grading.batch.collect import catalogue_from_gradebook
from autograder.grading.batch.gradebook import load_config
from autograder.release import record, release

pytestmark = pytest.mark.xdist_group("release")

DUE, SUBMITTED, NEVER = "01_backprop", "02_text_cnn", "04_lstm_gru"
SCORES = {"alice": 100.0, "bob": 65.0, "carol": 0.0}      # on DUE; SUBMITTED: 40 each, carol none


def _points(name: str) -> float:
    return sum(e.points for e in exercises(read(source_path(name))).values())


def _score(gb, assignment: str, student: str, score: float) -> None:
    """The gradebook as ``grade`` leaves it: a submission whose grade cells add up to ``score``."""
    sub = gb.update_or_create_submission(assignment, student)
    left = score
    for nb in sub.notebooks:
        for grade in nb.grades:
            grade.auto_score = min(left, grade.max_score)
            left -= grade.auto_score
    gb.db.commit()


def handed_out_class(tmp_path):
    """The course folder of the module docstring, graded; returns (root, gradebook URL, points handed out)."""
    root = tmp_path / "course"
    for name in (DUE, SUBMITTED, NEVER):
        shutil.copytree(SOLUTIONS / name, root / "solutions" / name)
    into, db = root / "notebooks", f"sqlite:///{root / '.nbgrader' / 'gradebook.db'}"
    quiet = dict(work=root / "work", log=lambda *a: None)
    (root / ".nbgrader").mkdir(parents=True)

    release([DUE, SUBMITTED, NEVER], into, db, **quiet)
    assert sorted(p.name for p in into.iterdir()) == sorted([DUE, SUBMITTED, NEVER])
    with Gradebook(db, "dlnlp") as gb:
        assert [a.name for a in gb.assignments] == [], "a release alone hands nothing out"

    release([DUE], into, db, due="2030-03-01 23:59:00 UTC", **quiet)
    cfg = load_config(root, db)
    assert set(catalogue_from_gradebook(cfg)) == {DUE, SUBMITTED, NEVER}      # collect knows all three
    assert record(cfg, [SUBMITTED, DUE], log=lambda *a: None) == [SUBMITTED]     # the first submissions
    with Gradebook(db, "dlnlp") as gb:
        for student, score in SCORES.items():
            gb.update_or_create_student(student)
            _score(gb, DUE, student, score)
            if student != "carol":
                _score(gb, SUBMITTED, student, 40.0)
    return root, db, _points(DUE) + _points(SUBMITTED)


def test_formgrader_totals_count_only_the_assignments_handed_out(tmp_path):
    root, db, most = handed_out_class(tmp_path)
    with Gradebook(db, "dlnlp") as gb:
        totals = {s["id"]: (s["score"], s["max_score"]) for s in gb.student_dicts()}
        assert sorted(a.name for a in gb.assignments) == [DUE, SUBMITTED]
    assert totals == {"alice": (140.0, most), "bob": (105.0, most), "carol": (0.0, most)}, (
        f"formgrader's totals must be out of the {most:g} points handed out, not every notebook's")

    api = NbGraderAPI(config=load_config(root, db))        # what formgrader's views are served from
    assert {s["id"]: s["max_score"] for s in api.get_students()} == {s: most for s in SCORES}
    assert api.get_student("bob")["max_score"] == most

    # released again (a solution changed): the assignments handed out keep their rows, nothing else
    release([DUE, SUBMITTED, NEVER], root / "notebooks", db, work=root / "work", log=lambda *a: None)
    with Gradebook(db, "dlnlp") as gb:
        assert sorted(a.name for a in gb.assignments) == [DUE, SUBMITTED]
        assert gb.find_student("bob").max_score == most
