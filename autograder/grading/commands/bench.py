"""``python -m autograder grade-bench``: grading throughput and the speed-up of parallel workers.

Builds a throwaway course from the course's solution notebooks, releases it with nbgrader, and writes
a synthetic class: for every student and assignment, with a fixed seed, the solution (a correct
student), one of the notebook's mutants from ``tests/mutants/`` (a student with one mistake), or the
released notebook untouched (a student who did nothing), in the proportions of ``--mix``. It then
calibrates, and grades the whole class with each worker count of ``--workers`` (``--force``, so every
run grades everything), timing each run end to end (wall clock, gradebook writes included), and
checks that every run gives every student the same grades.

The report (``--out``, default ``test-artifacts/grade-bench/``) has the throughput (submissions per minute,
seconds per whole-course student), the speed-up over one worker, the mean grading time per notebook,
and the machine (cores, load, isolation level).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from ...course import ROOT, assignments, exercises, nbmeta, read, source_path
from ...mutants import load_mutants
from ..batch.dask_pool import LocalCluster
from ..batch.gradebook import assignment_spec, load_config
from ..batch.grading import calibrate, grade_all
from ..host.isolation import detect
from ..model import Limits

__all__ = ["make_class", "main"]


def make_class(root: Path, names: list[str], students: int, mix: tuple[float, float, float], seed: int = 0) -> dict:
    """A course at ``root`` with ``students`` synthetic submissions of each assignment in ``names``."""
    from nbgrader.apps import NbGraderAPI

    if root.exists():
        shutil.rmtree(root)
    (root / "solutions").mkdir(parents=True)
    for n in names:
        shutil.copytree(source_path(n).parent, root / "solutions" / n,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    cfg = load_config(root)
    api = NbGraderAPI(config=cfg)
    for n in names:
        r = api.generate_assignment(n, force=True, create=True)
        if not r["success"]:
            raise RuntimeError(f"generate_assignment {n} failed: {r.get('error') or r.get('log')}")
    rng = random.Random(seed)
    kinds: dict[str, int] = {"solution": 0, "mutant": 0, "blank": 0}
    plan = {}
    for s in range(students):
        student = f"student{s + 1:02d}"
        for n in names:
            kind = rng.choices(["solution", "mutant", "blank"], weights=mix)[0]
            src = read(source_path(n))
            mutants = load_mutants(n) if kind == "mutant" else []
            if kind == "mutant" and mutants:
                m = rng.choice(mutants)
                exs = exercises(src)
                by_id = {nbmeta(src.cells[e.solution_index])["grade_id"]: e for e in exs.values()}
                cell = src.cells[by_id[m.exercise].solution_index]
                cell.source = m.apply(cell.source)
                nb = src
            elif kind == "blank" or kind == "mutant":
                kind = "blank"
                nb = nbformat.read(str(root / "notebooks" / n / f"{n}.ipynb"), as_version=4)
            else:
                nb = src
            for c in nb.cells:
                if c.cell_type == "code":
                    c.outputs, c.execution_count = [], None
            dest = root / "submitted" / student / n
            dest.mkdir(parents=True)
            nbformat.write(nb, str(dest / f"{n}.ipynb"))
            (dest / "timestamp.txt").write_text("2024-05-01 12:00:00.000000 UTC")
            kinds[kind] += 1
            plan[(student, n)] = kind
    return {"cfg": cfg, "kinds": kinds, "plan": plan}


def _grades(root: Path) -> dict:
    out = {}
    for p in (root / "autograded").glob("*/*/grading.json"):
        if p.parent.parent.name.startswith("."):
            continue
        rec = json.loads(p.read_text())
        out[(rec["student"], rec["assignment"])] = rec
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder grade-bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--assignments", nargs="*", default=None, help="default: every notebook of the course")
    p.add_argument("--workers", default="1,2", help="worker counts to time, e.g. 1,2")
    p.add_argument("--speedup-students", type=int, default=None,
                   help="compare the worker counts on the first N students only (the largest count also "
                        "grades the whole class)")
    p.add_argument("--threads", default="auto", help="torch threads per kernel: 'auto' (cores / workers) or a number")
    p.add_argument("--mix", default="0.6,0.25,0.15", help="shares of solution, mutant, blank submissions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cell-timeout", type=float, default=90.0)
    p.add_argument("--notebook-timeout", type=float, default=900.0)
    p.add_argument("--root", type=Path, default=None, help="where to build the class (default: a temp folder)")
    p.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "grade-bench")
    p.add_argument("--scheduler", default=None,
                   help="also grade the largest worker count's students on this Dask scheduler's workers "
                        "(tcp://HOST:8786), or 'local': a scheduler and as many workers as the largest "
                        "count, started on 127.0.0.1 for the run")
    args = p.parse_args(argv)

    names = args.assignments or assignments()
    workers = [int(w) for w in args.workers.split(",")]
    mix = tuple(float(x) for x in args.mix.split(","))
    root = args.root or Path(tempfile.mkdtemp(prefix="ag-bench-")) / "course"
    cores = os.cpu_count() or 1
    iso = detect("auto")
    print(f"building a class of {args.students} students x {len(names)} notebooks in {root}")
    t0 = time.perf_counter()
    made = make_class(root, names, args.students, mix, args.seed)
    cfg = made["cfg"]
    build_s = time.perf_counter() - t0
    print(f"  {made['kinds']} ({build_s:.0f} s to build and release)")
    report = {"students": args.students, "notebooks": names, "kinds": made["kinds"], "cores": cores,
              "isolation": iso.level, "load_before": os.getloadavg() if hasattr(os, "getloadavg") else None,
              "runs": [], "build_seconds": round(build_s, 1)}

    def limits_for(w):
        th = max(1, cores // w) if args.threads == "auto" else int(args.threads)
        return Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout, threads=th)

    t0 = time.perf_counter()
    specs = {n: assignment_spec(cfg, n) for n in names}
    cal = calibrate(cfg, specs, limits_for(max(workers)), iso.level, max(workers))
    report["calibration_seconds"] = round(time.perf_counter() - t0, 1)
    report["unsealed"] = {n: r["unsealed"] for n, r in cal.items() if any(r["unsealed"].values())}
    # (workers, students) runs: every worker count on the same students, so that speed-ups compare
    # like with like; with --speedup-students N the counts are compared on the first N students and
    # the largest count also grades the whole class (the throughput).
    subset = min(args.students, args.speedup_students or args.students)
    plan = [(w, subset) for w in sorted(workers, reverse=True)]
    if subset < args.students:
        plan.insert(0, (max(workers), args.students))
    if args.scheduler:
        plan.append((max(workers), subset, "dask"))
    reference: dict = {}
    cluster = None
    for w, n_students, *runner in plan:
        runner = runner[0] if runner else "local"
        chosen = [f"student{i + 1:02d}" for i in range(n_students)]
        lim = limits_for(w)
        if lim.as_dict() != limits_for(max(workers)).as_dict():
            calibrate(cfg, specs, lim, iso.level, w, log=lambda *a: None)
        scheduler = None
        if runner == "dask":
            scheduler = args.scheduler
            if scheduler == "local":
                cluster = LocalCluster(w, root)
                scheduler = cluster.start()
        print(f"grading {n_students} students x {len(names)} notebooks with {w} worker(s), "
              f"{lim.threads} thread(s) each" + (f", on the Dask scheduler at {scheduler}" if scheduler else ""))
        t0 = time.perf_counter()
        try:
            summary = grade_all(cfg, names, chosen, w, lim, iso.level, force=True, do_calibrate=True,
                                log=lambda line: None, scheduler=scheduler)
        finally:
            if cluster is not None:
                cluster.stop()
        wall = time.perf_counter() - t0
        grades = _grades(root)
        per_nb: dict[str, list[float]] = {}
        for (s, a), rec in grades.items():
            if s in chosen:
                per_nb.setdefault(a, []).append(rec.get("seconds", 0.0))
        run = {"runner": runner, "workers": w, "threads": lim.threads, "students": n_students,
               "submissions": summary["graded"], "wall_seconds": round(wall, 1),
               "per_minute": round(summary["graded"] / wall * 60, 2),
               "seconds_per_student": round(wall / n_students, 1),
               "mean_seconds_per_notebook": {a: round(sum(v) / len(v), 1) for a, v in sorted(per_nb.items())},
               "flagged": len(summary["flagged"])}
        scores = {f"{s}/{a}": rec["score"] for (s, a), rec in grades.items() if s in chosen}
        seen = {k: reference[k] for k in scores if k in reference}
        run["same_grades"] = all(seen[k] == scores[k] for k in seen)
        reference.update(scores)
        report["runs"].append(run)
        print(f"  {summary['graded']} submissions in {wall:.0f} s: {run['per_minute']} per minute, "
              f"{run['seconds_per_student']} s per whole-course student")
    for r in report["runs"]:
        if r["runner"] == "dask":
            local = next((x for x in report["runs"] if x["runner"] == "local" and x["workers"] == r["workers"]
                          and x["students"] == r["students"]), None)
            if local:
                r["throughput_vs_local"] = round(local["wall_seconds"] / r["wall_seconds"], 3)
        b = next((x for x in report["runs"] if x["workers"] == min(workers) and x["students"] == r["students"]
                  and x["runner"] == "local"), None)
        if b and r is not b and r["runner"] == "local":
            r["speedup"] = round(b["wall_seconds"] / r["wall_seconds"], 2)
    report["load_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grade-bench.json").write_text(json.dumps(report, indent=1))
    lines = ["# Grading benchmark", "", f"{args.students} students x {len(names)} notebooks "
             f"({', '.join(names)}); submissions: {made['kinds']}; {cores} cores; isolation {iso.level}.", "",
             "| runner | workers | threads/kernel | students | submissions | wall (s) | per minute | s per student "
             "| speed-up | Dask vs local | same grades |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        lines.append(f"| {r['runner']} | {r['workers']} | {r['threads']} | {r['students']} | {r['submissions']} "
                     f"| {r['wall_seconds']} | {r['per_minute']} | {r['seconds_per_student']} | "
                     f"{r.get('speedup', '')} | {r.get('throughput_vs_local', '')} | {r['same_grades']} |")
    (args.out / "grade-bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"report: {args.out / 'grade-bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

