"""``python -m autograder grade [ASSIGNMENT ...]``: grade every collected submission.

Reads ``submitted/<student>/<assignment>/`` (see ``collect``), grades each submission in its own
sandboxed kernel with N parallel workers, records the scores in nbgrader's gradebook (flagging
submissions that need a human look), and writes ``autograded/<student>/<assignment>/`` (the executed
notebook and ``grading.json``). Already graded submissions whose files did not change are skipped,
so an interrupted run resumes where it stopped (``--force`` regrades).

Before the first student, each assignment is *calibrated*: the instructor's own notebook is graded
as a submission; a test cell that the solution cannot pass sealed is graded in the student's kernel
instead (as plain nbgrader does) and reported, so that its author can make it sealable. The solution
must then score full marks: when it does not (a kernel that cannot start, an environment that cannot
import the course, a limit too tight, a test the solution fails), no student is graded and ``grade``
exits with status 3 and the cause (the flags and the errors of the cells that lost points).
"""
from __future__ import annotations

import argparse
import os
import sys

from ..batch.calibration import CalibrationError
from ..batch.dask_pool import DaskUnavailable, SchedulerLost, scheduler_address
from ..batch.gradebook import load_config
from ..batch.grading import grade_all
from ..host import isolation as sandbox
from ..model import Limits

__all__ = ["main", "limits_from", "add_limit_args"]


def add_limit_args(p: argparse.ArgumentParser, cfg_timeout: float | None = None) -> None:
    p.add_argument("--cell-timeout", type=float, default=None,
                   help="seconds per cell (default: the course's Execute.timeout)")
    p.add_argument("--notebook-timeout", type=float, default=900.0, help="seconds per notebook (default 900)")
    p.add_argument("--memory", type=int, default=4096, help="memory cap of a kernel in MiB (default 4096)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch/BLAS threads per kernel (default: cores / workers, at least 1)")
    p.add_argument("--isolation", choices=["auto", "bwrap", "landlock", "process"], default="auto",
                   help="force an isolation level (default: the strongest available, bwrap or landlock; "
                        "'process' protects nothing from native code and is used only when asked for)")


def limits_from(args, cfg, workers: int) -> Limits:
    timeout = args.cell_timeout
    if timeout is None:
        try:
            timeout = float(cfg.Execute.get("timeout", 90) or 90)
        except Exception:
            timeout = 90.0
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, workers))
    return Limits(cell_timeout=timeout, notebook_timeout=args.notebook_timeout, memory_mb=args.memory,
                  threads=threads)




def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder grade", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("assignments", nargs="*", help="assignments to grade (default: all submitted)")
    p.add_argument("--student", action="append", default=None, help="only this student (repeatable)")
    p.add_argument("--workers", "-j", type=int, default=max(1, os.cpu_count() or 1),
                   help="parallel grading workers (default: the number of cores)")
    p.add_argument("--force", action="store_true", help="regrade submissions already graded")
    p.add_argument("--no-calibrate", action="store_true", help="skip calibration (every test cell sealed)")
    p.add_argument("--root", default=None, help="course root (default: the repository)")
    p.add_argument("--db", default=None, help="gradebook URL, or a file that holds it (a URL with a password: "
                                              "use a file or NBGRADER_DB_URL; default: the course's, e.g. sqlite)")
    p.add_argument("--feedback", action="store_true", help="generate feedback afterwards")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (on stderr)")
    p.add_argument("--scheduler", default=None,
                   help="grade on the workers of this Dask scheduler, e.g. tcp://HOST:8786 (default: "
                        "$DLNLP_DASK_SCHEDULER, else the local pool)")
    add_limit_args(p)
    args = p.parse_args(argv)
    cfg = load_config(args.root, args.db)
    limits = limits_from(args, cfg, args.workers)
    try:
        summary = grade_all(cfg, args.assignments or None, args.student, args.workers, limits, args.isolation,
                            args.force, not args.no_calibrate, progress=not args.no_progress,
                            scheduler=scheduler_address(args.scheduler))
    except CalibrationError as e:
        print(e, file=sys.stderr)
        return 3
    except sandbox.IsolationUnavailable as e:
        print(f"not graded: {e}", file=sys.stderr)
        return 4
    except DaskUnavailable as e:
        print(f"not graded: {e}", file=sys.stderr)
        return 5
    except SchedulerLost as e:
        print(f"stopped: {e}", file=sys.stderr)
        return 6
    if args.feedback:
        from ..batch.feedback import generate_all
        generate_all(cfg, args.assignments or None, args.student)
    return 0 if summary["graded"] or summary["skipped"] else 1


if __name__ == "__main__":
    sys.exit(main())

