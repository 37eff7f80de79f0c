"""``python -m autograder roster FILE.csv``: the class list into nbgrader's gradebook.

Each row becomes a gradebook student (nbgrader's ``Student``: id, first and last name, email, LMS user
id), so that a student who submitted nothing gets 0 in ``export`` and a submitter who is not on the list
is flagged by ``collect`` and ``export``. The columns are nbgrader's own (``id, first_name, last_name,
email, lms_user_id``, as ``nbgrader db student import`` reads them) or those of a Canvas gradebook
export (``Student`` as ``Last, First``, ``ID`` = the Canvas user id, ``SIS Login ID`` = the student
id); the header decides. With a Canvas user id on the roster, ``collect`` files each Canvas submission
under the roster's id, whatever name Canvas gave the file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..batch.gradebook import load_config
from ..batch.roster import import_roster


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder roster", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="CSV of students")
    p.add_argument("--root", default=None)
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    import_roster(load_config(args.root, args.db), args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())

