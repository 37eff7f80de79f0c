"""The ``feedback`` command line; what it does is in :mod:`..batch.feedback`, whose docstring is its help."""
from __future__ import annotations

import argparse
import sys

from ..batch import feedback as _batch
from ..batch.feedback import generate_all
from ..batch.gradebook import load_config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder feedback", description=_batch.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("assignments", nargs="*")
    p.add_argument("--student", action="append", default=None)
    p.add_argument("--root", default=None)
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    cfg = load_config(args.root, args.db)
    failures: list[dict] = []
    generate_all(cfg, args.assignments or None, args.student, failures=failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

