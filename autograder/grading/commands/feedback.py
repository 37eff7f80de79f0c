"""``python -m autograder feedback [ASSIGNMENT ...]``: an HTML report per student, without hidden tests.

For each graded submission (``autograded/<student>/<assignment>/``) this writes
``feedback/<student>/<assignment>/<notebook>.html``, nbgrader's feedback layout (``nbgrader
release_feedback`` hands it out through the exchange). The page opens with the score of every
exercise and test, then shows the student's notebook as it was graded. Unlike nbgrader's own
feedback it never contains hidden tests: their code is cut out (as in the released notebook), their
outputs are reduced to passed or the error's type and message, traceback lines that quote hidden code
are masked, and the finished page is checked line by line for any hidden-test source before it is
written. Hidden-test source is every line of a hidden-test region that is not also a line of the
released notebook (``torch.manual_seed(0)`` in both is not a secret).

The page is self-contained and inert: the notebook is neutralised (:mod:`.neutralise`), math is
rendered to MathML when the page is made (no MathJax, no network: it opens from ``file://``), and a
Content-Security-Policy forbids every script and every remote resource. A page that cannot be made
is reported and the others are still written; the exit status is then 1.
"""
from __future__ import annotations

import argparse
import sys

from ..batch.feedback import generate_all
from ..batch.gradebook import load_config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder feedback", description=__doc__,
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

