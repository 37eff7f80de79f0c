"""``python -m autograder collect SOURCE``: turn a folder or an LMS zip into nbgrader's ``submitted/``.

``SOURCE`` is a folder or a ``.zip`` (zips inside it are opened too, one level deep). Recognised layouts,
read from the *top-level* name of each entry, which the LMS writes (what a student named a file is
never more than the tail after that prefix, or a file inside the student's own folder):

=====================  ====================================================================
nbgrader               ``<student>/<assignment>/*.ipynb`` (with ``timestamp.txt``), or an exchange
                       inbound folder ``<student>+<assignment>+<timestamp>[+...]/*.ipynb``
Canvas                 ``<name>[_LATE]_<userid>_<submissionid>_<file>`` (``file-1.ipynb`` for a resubmission)
Moodle                 ``<First Last>_<id>_assignsubmission_file_/<file>`` or the same prefix on a flat file
Blackboard             ``<Assignment>_<user>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``
GitHub Classroom       ``<assignment-prefix>-<user>/**.ipynb`` (``--prefix`` gives the prefix)
per-student folders    ``<student>/**.ipynb``
flat files             ``<student>.ipynb`` or ``<student>_<anything>.ipynb``
=====================  ====================================================================

When a name fits several layouts (a Canvas file whose tail, chosen by the student, looks like a
Blackboard or Moodle name), the reading with the shortest prefix is the LMS's: the LMS writes its
prefix first, and a longer reading would take part of the student's file name for it. A custom layout can
be given as a regular expression
with named groups ``student`` (and optionally ``assignment``) matched against each file's path inside
``SOURCE`` (``--pattern``).

The LMS's user id (Canvas user id, Moodle participant id, Blackboard or GitHub user name) is kept in
``collect.json`` and, for Canvas, in the gradebook's ``lms_user_id``, so ``export`` can write grade
files the LMS imports. When the gradebook already knows a student with that LMS id (a roster import),
the submission goes to that student; a submitter the roster does not list is collected and flagged.

Which assignment a notebook belongs to is decided by its content: the nbgrader cell ids it holds,
compared with the gradebook's record of every assignment; the file name is only a fallback. So a
notebook renamed by the student or the LMS still lands where it belongs, under its proper name (the
original name is kept in ``collect.json`` and the grader notes it). The submission time comes from
the layout (Blackboard names, nbgrader ``timestamp.txt`` and exchange folders) or the LMS's zip entry,
never from a student's own inner zip or repository (a GitHub Classroom repository is dated when it is
collected: nothing in it was written by anyone but the student); when a student submitted more than
once, the latest submission wins.

Nothing a student sends can reach beyond its own submission: symbolic links (in folders, and zip
entries with a link's mode bits) are refused and never followed; a zip entry with an absolute or
``..`` path, an archive that expands beyond its size limit, or an unreadable archive is refused, and
so is a notebook that the grader would not parse (over :data:`MAX_NOTEBOOK`, or JSON that nests or
branches beyond a notebook's, :mod:`.jsonlimits`), decided on its bytes before any parsing. A
refused file is copied (when it is a plain file) to ``submitted/.quarantine/`` and listed with its
reason in ``submitted/.collect.csv``; every other submission is collected as usual.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..batch.collect import collect


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder collect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, help="a folder or a zip of submissions")
    p.add_argument("--pattern", default=None, help="regex with named groups student (and assignment)")
    p.add_argument("--prefix", default=None, help="GitHub Classroom repository prefix")
    p.add_argument("--force", action="store_true", help="overwrite newer existing submissions")
    p.add_argument("--root", default=None)
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    from ..batch.gradebook import load_config

    result = collect(load_config(args.root, args.db), args.source, args.pattern, args.prefix, args.force)
    return 0 if result["written"] or result["rows"] else 1


if __name__ == "__main__":
    sys.exit(main())

