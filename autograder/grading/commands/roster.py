"""The ``roster`` command line; what it does is in :mod:`..batch.roster`, whose docstring is its help."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..batch import roster as _batch
from ..batch.gradebook import load_config
from ..batch.roster import import_roster


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder roster", description=_batch.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="CSV of students")
    p.add_argument("--root", default=None)
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    import_roster(load_config(args.root, args.db), args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())

