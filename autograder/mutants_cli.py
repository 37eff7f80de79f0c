"""``python -m autograder mutants [NAME ...]``: run each notebook's mutants and print what caught them."""
from __future__ import annotations

import argparse

from .course import assignments
from .mutants import load_mutants, run_mutants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder mutants", description=__doc__)
    parser.add_argument("names", nargs="*", help="assignments (default: all)")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names or assignments():
        report = run_mutants(name, load_mutants(name))
        print(f"== {name}: {len(report.results)} mutants, {report.seconds:.1f} s")
        for failure in report.baseline_failures:
            print(f"  SOLUTION FAILS {failure}")
            status = 1
        for r in report.results:
            mark = "caught" if r.caught and not r.error else "MISSED"
            status |= mark != "caught"
            print(f"  [{mark}] {r.mutant.exercise}: {r.mutant.why} (-{r.points_lost:g} pts)")
            if r.error:
                print(f"      error: {r.error}")
            for t in r.failed_tests:
                print(f"      {t}")
    return status
