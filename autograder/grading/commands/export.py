"""The ``export`` command line; what it does is in :mod:`..batch.export`, whose docstring is its help."""
from __future__ import annotations

import argparse
import sys

from ..batch import export as _batch
from ..batch.export import export_all
from ..batch.gradebook import load_config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder export", description=_batch.__doc__,
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

