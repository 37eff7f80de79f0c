"""``python -m autograder export``: the gradebook as CSV, LMS grade files, a per-exercise summary and a plot.

Writes into ``--out`` (default ``<course>/exports/``):

``grades.csv``
    one row per student and assignment: the raw score, the late penalty, the score (raw minus
    penalty, as ``nbgrader export`` computes it), max score, percent, submission time, due date
    (with the student's extension), seconds late, whether a notebook is flagged for review or needs
    manual grading, whether the student is on the roster, and the LMS user id;
``grades_wide.csv``
    one row per student, one column per assignment (after penalties), and the course total;
``canvas.csv``
    Canvas's gradebook import format (``Student, ID, SIS User ID, SIS Login ID, Section``, then one
    column per assignment, and a ``Points Possible`` row): ``ID`` is the Canvas user id ``collect``
    read from the download (or the roster's ``lms_user_id``);
``moodle_<assignment>.csv``
    Moodle's assignment grading worksheet (``Identifier`` is ``Participant <id>``, the id in Moodle's
    download folder names; *Assignment > Upload grading worksheet*), for the assignments collected
    from Moodle;
``exercises.csv``
    per assignment and exercise (``ex1``, ``ex2`` ... from the cell ids): points, submissions, mean,
    median, min, max, and the share of students with full and with zero marks (raw scores);
``review.csv``
    what a human should look at, one row per reason: every review flag of a graded submission (its
    code, cell and message, from ``autograded/<student>/<assignment>/grading.json``), every pair of
    students whose answers to an exercise match (``similar_answers``, with the other student and the
    similarity score, from ``autograded/.similarity/<assignment>.json``; a pair has a row for each of
    its two students), a submission flagged in the gradebook by hand (``flagged_in_gradebook``), and
    every file ``collect`` refused (``quarantined``, with its reason, from ``submitted/.collect.csv``);
    text that a spreadsheet would run as a formula is quoted;
``score_distribution.png``
    a histogram of students' course totals (percent) and a box plot per assignment.

Deadlines are applied at every export, from nbgrader's own settings: the assignment's due date in the
gradebook (``nbgrader db assignment add NAME --duedate=...``), the penalty of nbgrader's
``LateSubmissionPlugin.penalty_method`` (or the plugin ``AssignLatePenalties.plugin_class`` names), read
from nbgrader's config search path as nbgrader reads it (``/etc/jupyter``, ``~/.jupyter``, the course's
``nbgrader_config.py``), a grace period ``c.Deadlines.grace_minutes``, and per-student extensions from
the gradebook or ``extensions.csv`` in the course folder (``c.Deadlines.extensions_file``; columns
``student, assignment, extension`` such as ``2d``, ``36h``, ``90m``, or ``due`` for a new due date). The
penalties are written back to the gradebook, so ``nbgrader export`` and the formgrader give the same
scores. Everything else is read from the gradebook, so hand grades entered in the formgrader are
included.
"""
from __future__ import annotations

import argparse
import sys

from ..batch.export import export_all
from ..batch.gradebook import load_config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None, help="output folder (default: <course>/exports)")
    p.add_argument("--root", default=None)
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    export_all(load_config(args.root, args.db), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

