"""``python -m autograder export``: the gradebook as CSV, LMS grade files, a per-exercise summary and a plot.

Writes into ``--out`` (default ``<course>/exports/``), for the assignments handed out (a due date in
the gradebook, or at least one submission; ``export NAME ...`` names them instead), so assignments
released but never handed out count in no total:

``grades.csv``
    one row per student and assignment: the raw score, the late penalty, the score (raw minus
    penalty, as ``nbgrader export`` computes it), max score, percent, submission time, due date
    (with the student's extension), seconds late, whether a notebook is flagged for review or needs
    manual grading, whether the student is on the roster, the LMS user id, and whether the LMS marked
    the submission late (``lms_late``: Canvas's ``LATE`` in the file name);
``grades_wide.csv``
    one row per student, one column per assignment (after penalties), and the course total;
``canvas.csv``
    Canvas's gradebook import format (``Student, ID, SIS User ID, SIS Login ID, Section``, then one
    column per assignment, and a ``Points Possible`` row): ``ID`` is the Canvas user id ``collect``
    read from the download (or the roster's ``lms_user_id``); with a Canvas gradebook export as the
    roster, each assignment's column has that export's header (``01_backprop (501)``: Canvas fills an
    existing column only when the header carries its assignment id) and ``SIS User ID`` and
    ``Section`` are the roster's;
``moodle_<assignment>.csv``
    Moodle's assignment grading worksheet (``Identifier`` is ``Participant <id>``, the id in Moodle's
    download folder names; ``Grade``; and ``Last modified (grade)``, the export's time, which Moodle's
    importer requires; *Assignment > Upload grading worksheet*), for the assignments collected from
    Moodle;
``exercises.csv``
    per assignment and exercise (``ex1``, ``ex2`` ... from the cell ids): points, submissions, mean,
    median, min, max, and the share of students with full and with zero marks (raw scores);
``review.csv``
    what a human should look at, one row per reason: every review flag of a graded submission (its
    code, cell and message, from ``autograded/<student>/<assignment>/grading.json``), every pair of
    students whose answers to an exercise match (``similar_answers``, with the other student and the
    similarity score and the group of students with nearly the same answer it belongs to, from
    ``autograded/.similarity/<assignment>.json``; one row a pair), a submission flagged in the
    gradebook by hand (``flagged_in_gradebook``), and
    every file ``collect`` refused (``quarantined``, with its reason, from ``submitted/.collect.csv``),
    and every late submission that got no penalty or that the LMS marked late (``late``, saying why:
    no penalty method, the grace period, no due date);
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
    p.add_argument("assignments", nargs="*", help="assignments to export (default: every one handed out: with "
                   "a due date or a submission)")
    p.add_argument("--out", default=None, help="output folder (default: <course>/exports)")
    p.add_argument("--root", default=None)
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    export_all(load_config(args.root, args.db), args.out, assignments=args.assignments or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

