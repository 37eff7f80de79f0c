"""``python -m autograder grade-fidelity [NN_slug ...]``: sealed verdicts agree with the course's tests.

For each notebook this grades, with the sealed engine of ``grade``: the solution (every test must pass,
and calibration must find every test cell sealable), the released student notebook (every test must
fail), and every mutant of ``tests/mutants/NN_slug.py`` (each must lose points on its own exercise, as
``python -m autograder mutants`` requires of the in-kernel run). Mutants reuse one graded run: the
mutated solution cell runs in the student kernel, then the exercise's test cells in the tester, then the
correct cell again, so a notebook's mutants cost seconds.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ...course import assignments, exercises, nbmeta, read, release_path, source_path
from ...mutants import load_mutants
from ..engine import grade_submission
from ..host.isolation import detect
from ..host.run import NotebookRun
from ..model import AssignmentSpec, Limits, assignment_of, notebook_spec
from ..notebook.sanitize import sanitize
from ..notebook.score import score_notebook

__all__ = ["fidelity", "main"]


def spec_from_source(name: str) -> AssignmentSpec:
    """A spec built from the instructor's notebook (what generate_assignment would record)."""
    rel = release_path(name).parent
    return assignment_of([notebook_spec(source_path(name), name)], name, source_path(name).parent,
                         rel if rel.is_dir() else None)


def fidelity(name: str, limits: Limits, isolation: str = "auto", log=print) -> dict:
    spec = spec_from_source(name)
    nbspec = spec.notebooks[0]
    report = {"notebook": name, "solution": None, "blank": None, "mutants": [], "ok": True}
    # the released notebook must score 0 (its hidden tests come back from the spec, as from a gradebook)
    tmp = Path(tempfile.mkdtemp(prefix="ag-fid-"))
    try:
        if release_path(name).exists():
            shutil.copy(release_path(name), tmp / f"{name}.ipynb")
            blank = grade_submission(spec, "blank", tmp, limits, isolation)
            report["blank"] = blank["score"]
            if blank["score"] != 0:
                report["ok"] = False
        # the solution, keeping its kernel and tester for the mutants
        nb, _ = sanitize(read(source_path(name)), nbspec, name)
        run = NotebookRun(nb, nbspec, spec, limits, detect(isolation), tmp, None)
        t0 = time.perf_counter()
        try:
            run.run()
            scores = score_notebook(nb, nbspec, spec)
            report["solution"] = sum(s for s, _ in scores.values())
            report["max"] = sum(m for _, m in scores.values())
            failing = [g for g, (s, m) in scores.items() if s is None or s < m]
            if failing:
                report["ok"] = False
                report["solution_failing"] = failing
            src = read(source_path(name))
            exs = exercises(src)
            by_id = {nbmeta(src.cells[e.solution_index])["grade_id"]: e for e in exs.values()}
            for m in load_mutants(name):
                ex = by_id.get(m.exercise)
                res = {"exercise": m.exercise, "why": m.why, "lost": 0.0, "failed": []}
                report["mutants"].append(res)
                if ex is None:
                    res["error"] = "no such exercise"
                    report["ok"] = False
                    continue
                original = src.cells[ex.solution_index].source
                try:
                    mutated = m.apply(original)
                except ValueError as e:
                    res["error"] = str(e)
                    report["ok"] = False
                    continue
                if run.kernel is None and not run.restart("mutant", time.monotonic() + limits.notebook_timeout):
                    res["error"] = "the kernel could not be restarted"
                    report["ok"] = False
                    continue
                run.run_in_kernel(mutated, limits.cell_timeout)
                for ti in ex.test_indices:
                    cell = src.cells[ti]
                    status, outputs, _ = run.run_test(cell.source, limits.cell_timeout)
                    if any(o.get("output_type") == "error" for o in outputs) or status not in ("ok",):
                        res["failed"].append(nbmeta(cell)["grade_id"])
                        res["lost"] += float(nbmeta(cell).get("points") or 0)
                if run.kernel is not None:
                    run.run_in_kernel(original, limits.cell_timeout)
                if res["lost"] <= 0:
                    report["ok"] = False
        finally:
            run.close()
        report["seconds"] = round(time.perf_counter() - t0, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    caught = sum(1 for r in report["mutants"] if r["lost"] > 0)
    log(f"== {name}: solution {report['solution']:g}/{report.get('max', 0):g} sealed, released notebook "
        f"{report['blank']}, {caught}/{len(report['mutants'])} mutants caught sealed ({report.get('seconds')} s)")
    for r in report["mutants"]:
        mark = "caught" if r["lost"] > 0 else "MISSED"
        error = f" {r.get('error')}" if r.get("error") else ""
        log(f"  [{mark}] {r['exercise']}: {r['why']} (-{r['lost']:g} pts)" + error)
    for g in report.get("solution_failing", []):
        log(f"  SOLUTION FAILS {g} sealed")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder grade-fidelity", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="notebooks (default: all)")
    p.add_argument("--cell-timeout", type=float, default=90.0)
    p.add_argument("--isolation", default="auto", choices=["auto", "bwrap", "landlock", "process"])
    args = p.parse_args(argv)
    limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=900, threads=2)
    ok = True
    for name in args.names or assignments():
        ok &= fidelity(name, limits, args.isolation)["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

