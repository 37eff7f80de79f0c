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
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import sandbox
from .engine import ENGINE_VERSION, AssignmentSpec
from .gradebook import (assignment_spec, course_dir, load_config, read_timestamp, record_result,
                        result_path, submissions, write_outputs)
from .dask_runner import DaskUnavailable, SchedulerLost, scheduler_address
from .pool import WorkerPool, run_jobs
from .sandbox import Limits

__all__ = ["main", "grade_all", "calibrate", "limits_from", "add_limit_args", "CalibrationError"]

# flags of the instructor's own notebook that mean the grader, not the tests, failed
FATAL = {"kernel_start_failed", "kernel_died", "kernel_lost", "kernel_restarted", "grader_crash", "job_timeout",
         "grader_error", "cell_timeout", "notebook_timeout", "memory_limit", "missing_notebook", "invalid_json",
         "invalid_notebook", "notebook_too_complex", "empty_file", "unreadable_file", "not_a_notebook", "protocol_violation"}


class CalibrationError(RuntimeError):
    """The instructor's notebook does not score full marks: grading the students would be wrong."""


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


def input_hash(folder: Path, spec: AssignmentSpec, limits: Limits, level: str) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            h.update(str(p.relative_to(folder)).encode())
            try:
                h.update(p.read_bytes())
            except OSError:
                pass
    h.update(spec.digest().encode())
    h.update(json.dumps(limits.as_dict(), sort_keys=True).encode())
    h.update(level.encode())
    h.update(ENGINE_VERSION.encode())
    return h.hexdigest()[:24]


def _calibration_path(cfg, spec: AssignmentSpec) -> Path:
    cd = course_dir(cfg)
    return Path(cd.root) / cd.autograded_directory / ".calibration" / f"{spec.name}.json"


def calibrate(cfg, specs: dict[str, AssignmentSpec], limits: Limits, isolation: str, workers: int,
              log=print, force: bool = False, pool: WorkerPool | None = None) -> dict[str, dict]:
    """Grade each instructor notebook as a submission; test cells it fails are graded in the kernel."""
    report: dict[str, dict] = {}
    jobs = []
    tmp = Path(tempfile.mkdtemp(prefix="ag-calib-"))
    for name, spec in specs.items():
        path = _calibration_path(cfg, spec)
        digest = spec.digest()
        if not force and path.exists():
            try:
                cached = json.loads(path.read_text())
                if cached.get("digest") == digest and cached.get("limits") == limits.as_dict():
                    report[name] = cached
                    continue
            except ValueError:
                pass
        folder = tmp / name
        folder.mkdir(parents=True)
        for nb in spec.notebooks:
            shutil.copy(nb.source_path, folder / f"{nb.name}.ipynb")
        jobs.append({"spec": spec.to_dict(), "student": "__calibration__", "folder": str(folder),
                     "limits": limits.as_dict(), "isolation": isolation, "timestamp": None})

    results: dict[str, dict] = {}

    def done(job, result):
        name = job["spec"]["name"]
        results[name] = result
        unsealed, failing = {}, []
        for nbname, entry in result["notebooks"].items():
            bad = [g for g, (s, m) in entry["scores"].items() if s is None or s < m]
            unsealed[nbname] = bad
            failing += [f"{nbname}:{g}" for g in bad]
        rep = {"digest": AssignmentSpec.from_dict(job["spec"]).digest(), "limits": limits.as_dict(),
               "unsealed": unsealed, "score": result.get("score"), "max_score": result.get("max_score"),
               "benign_violations": {n: e.get("violations", []) for n, e in result["notebooks"].items()},
               "seconds": result.get("seconds"), "flags": [f for e in result["notebooks"].values() for f in e["flags"]]}
        report[name] = rep

    def run(batch):
        if not batch:
            return
        timeout = lambda j: limits.notebook_timeout * 2 + 600  # noqa: E731
        if pool is not None:
            pool.run(batch, done, timeout)
        else:
            run_jobs(batch, workers, done, timeout)

    try:
        if jobs:
            log(f"calibrating {len(jobs)} assignment(s): grading the instructor's notebooks as submissions")
            run(jobs)
        fresh = [j["spec"]["name"] for j in jobs]
        for name in fresh:
            if name not in results:
                raise CalibrationError(f"calibration of {name} returned no result (the grading worker failed)")
            _check_calibration(name, results[name], report[name], sealed=True)
        # Test cells graded in the kernel instead: the solution must pass them there.
        verify = []
        for name in fresh:
            if any(report[name]["unsealed"].values()):
                spec = _apply_calibration(AssignmentSpec.from_dict(specs[name].to_dict()), report[name])
                verify.append({"spec": spec.to_dict(), "student": "__calibration__",
                               "folder": next(j["folder"] for j in jobs if j["spec"]["name"] == name),
                               "limits": limits.as_dict(), "isolation": isolation, "timestamp": None})
        sealed_reports = {name: report[name] for name in fresh}
        if verify:
            run(verify)
            for job in verify:
                name = job["spec"]["name"]
                _check_calibration(name, results[name], report[name], sealed=False)
                sealed_reports[name]["verified_score"] = report[name]["score"]
                report[name] = sealed_reports[name]
        for name in fresh:
            path = _calibration_path(cfg, specs[name])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report[name], indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, rep in report.items():
        specs[name] = _apply_calibration(specs[name], rep)
        n_bad = sum(len(v) for v in rep["unsealed"].values())
        n_all = sum(len(nb.grade_ids) for nb in specs[name].notebooks)
        msg = f"  {name}: {n_all - n_bad}/{n_all} test cells sealed; the solution scores {rep['score']:g}/{rep['max_score']:g} sealed"
        if n_bad:
            msg += ("\n    graded in the student's kernel instead (not tamper-proof; make these tests "
                    "sealable): " + ", ".join(g for v in rep["unsealed"].values() for g in v))
        log(msg)
    return report


def _cell_errors(entry: dict, cells: list[str]) -> list[str]:
    """``cell: error`` for each of ``cells`` in a graded notebook, from its error outputs."""
    import nbformat

    out = []
    try:
        nb = nbformat.reads(entry.get("autograded") or "", as_version=4)
    except Exception:
        return out
    for cell in nb.cells:
        gid = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if gid in cells:
            errs = [f"{o.get('ename')}: {str(o.get('evalue'))[:300]}" for o in cell.get("outputs", [])
                    if o.get("output_type") == "error"]
            out.append(f"{gid}: {errs[0] if errs else 'no points (no error output)'}")
    return out


def _check_calibration(name: str, result: dict, rep: dict, sealed: bool) -> None:
    """Raise :class:`CalibrationError` with the cause unless the instructor's notebook graded cleanly
    (``sealed``: the first run, whose failing test cells are retried in the kernel) or scored full marks."""
    flags = list(result.get("flags", [])) + [f for e in result["notebooks"].values() for f in e["flags"]]
    fatal = [f for f in flags if f.get("code") in FATAL]
    full = result.get("score") is not None and result.get("score") >= (result.get("max_score") or 0) - 1e-9
    if not fatal and (sealed or full):
        return
    lines = [f"calibration failed for {name}: the instructor's notebook scores "
             f"{result.get('score') or 0:g}/{result.get('max_score') or 0:g}"
             + ("" if sealed else " with its unsealed tests graded in the kernel")
             + "; no submission was graded."]
    for f in flags:
        if f.get("code") in FATAL or f.get("code") == "instructor_notebook_error":
            lines.append(f"  {f['code']}: {f.get('message', '')}")
    for nbname, entry in result["notebooks"].items():
        bad = [g for g, (s, m) in entry["scores"].items() if s is None or s < m]
        errors = _cell_errors(entry, bad)
        causes = {e.split(": ", 1)[-1] for e in errors}
        if len(errors) > 1 and len(causes) == 1:
            lines.append(f"  {nbname}, all {len(errors)} test cells that lost points: {causes.pop()}")
        else:
            lines += [f"  {nbname} {err}" for err in errors]
    if fatal:
        lines.append("  The grader could not run the instructor's notebook: check the environment (the "
                     "course's virtual environment, `python -m autograder check` on the solution) rather "
                     "than the tests.")
    raise CalibrationError("\n".join(lines))


def _apply_calibration(spec: AssignmentSpec, rep: dict) -> AssignmentSpec:
    for nb in spec.notebooks:
        nb.unsealed = list(rep.get("unsealed", {}).get(nb.name, []))
        nb.benign_violations = list(rep.get("benign_violations", {}).get(nb.name, []))
    return spec


def grade_all(cfg, assignments: list[str] | None = None, students: list[str] | None = None,
              workers: int = 2, limits: Limits | None = None, isolation: str = "auto", force: bool = False,
              do_calibrate: bool = True, log=print, scheduler: str | None = None) -> dict:
    """Grade all submissions (see the module docstring); return a summary."""
    limits = limits or Limits()
    iso = sandbox.detect(isolation)
    log(f"isolation: {iso.level} ({iso.describe()})")
    for w in iso.warnings:
        log(f"  {w}")
    subs = submissions(cfg, assignments, students)
    names = sorted({a for _, a, _ in subs})
    specs: dict[str, AssignmentSpec] = {}
    for a in names:
        try:
            specs[a] = assignment_spec(cfg, a)
        except Exception as e:
            log(f"skipping {a}: not in the gradebook ({type(e).__name__}: {e}); run generate_assignment "
                "(python -m autograder release) first")
    if scheduler:
        from .dask_runner import DaskPool

        log(f"grading on the Dask scheduler at {scheduler}")
        pool = DaskPool(scheduler, iso.level, Path(course_dir(cfg).root), log=log)
    else:
        pool = WorkerPool(workers)
    try:
        return _grade_with(pool, cfg, subs, specs, workers, limits, iso, force, do_calibrate, log)
    finally:
        pool.close()


def _grade_with(pool, cfg, subs, specs, workers, limits, iso, force, do_calibrate, log) -> dict:
    if do_calibrate and specs:
        calibrate(cfg, specs, limits, iso.level, workers, log=log, pool=pool)
    jobs, skipped = [], 0
    for student, a, folder in subs:
        if a not in specs:
            continue
        h = input_hash(folder, specs[a], limits, iso.level)
        rp = result_path(cfg, student, a)
        if not force and rp.exists():
            try:
                if json.loads(rp.read_text()).get("input_hash") == h:
                    skipped += 1
                    continue
            except ValueError:
                pass
        jobs.append({"spec": specs[a].to_dict(), "student": student, "folder": str(folder),
                     "limits": limits.as_dict(), "isolation": iso.level, "timestamp": read_timestamp(folder),
                     "input_hash": h})
    total = len(jobs)
    log(f"grading {total} submission(s) with {workers} worker(s)"
        + (f"; {skipped} already graded and unchanged (use --force to regrade)" if skipped else ""))
    results: list[dict] = []
    start = time.perf_counter()

    def done(job, result):
        result.setdefault("input_hash", job.get("input_hash"))
        record_result(cfg, result)
        write_outputs(cfg, result)
        results.append(result)
        flags = sorted({f["code"] for e in result["notebooks"].values() for f in e["flags"] if f["level"] == "review"})
        log(f"[{len(results)}/{total}] {result['student']:<20} {result['assignment']:<16} "
            f"{result['score']:6.1f}/{result['max_score']:<5g} {result.get('seconds', 0):6.1f}s"
            + (f"  REVIEW: {', '.join(flags)}" if flags else ""))

    per_job = limits.notebook_timeout * max(1, max((len(s.notebooks) for s in specs.values()), default=1)) + 300
    if jobs:
        pool.run(jobs, done, lambda j: per_job)
    wall = time.perf_counter() - start
    _similarity(cfg, subs, specs, log)
    flagged = [r for r in results if r.get("needs_review")]
    summary = {"graded": len(results), "skipped": skipped, "wall_seconds": wall, "workers": workers,
               "per_minute": len(results) / wall * 60 if wall > 0 and results else 0.0,
               "flagged": [(r["student"], r["assignment"]) for r in flagged], "isolation": iso.level}
    if results:
        log(f"graded {len(results)} submission(s) in {wall:.1f} s ({summary['per_minute']:.1f} per minute); "
            f"{len(flagged)} flagged for review")
    return summary


def similarity_path(cfg, assignment: str) -> Path:
    """Where ``grade`` keeps the pairs of students with matching answers of an assignment."""
    cd = course_dir(cfg)
    return Path(cd.root) / cd.autograded_directory / ".similarity" / f"{assignment}.json"


def _similarity(cfg, subs, specs: dict[str, AssignmentSpec], log) -> None:
    """Compare every student's answers with every other's, per assignment; report and keep the pairs.
    Every collected submission of the assignment is compared, also when only some were graded now
    (``--student``), so the kept report always covers the whole class."""
    from .similarity import assignment_report

    everyone = submissions(cfg, sorted(specs), None)
    for a, spec in specs.items():
        folders = {student: folder for student, name, folder in everyone if name == a}
        if len(folders) < 2:
            continue
        try:
            report = assignment_report(spec, folders)
        except Exception as e:      # the grades stand without it
            log(f"similarity of {a} not computed: {type(e).__name__}: {e}")
            continue
        path = similarity_path(cfg, a)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1))
        for row in report["pairs"][:50]:
            log(f"REVIEW: similar answers to {a} {row['exercise']}: {row['students'][0]} and "
                f"{row['students'][1]} (similarity {row['score']:.2f}, {row['tokens']} tokens in common)")
        if len(report["pairs"]) > 50:
            log(f"REVIEW: {len(report['pairs']) - 50} more similar pairs of {a} in {path}")


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
    p.add_argument("--db", default=None, help="gradebook URL (default: the course's, e.g. sqlite)")
    p.add_argument("--feedback", action="store_true", help="generate feedback afterwards")
    p.add_argument("--scheduler", default=None,
                   help="grade on the workers of this Dask scheduler, e.g. tcp://HOST:8786 (default: "
                        "$DLNLP_DASK_SCHEDULER, else the local pool)")
    add_limit_args(p)
    args = p.parse_args(argv)
    cfg = load_config(args.root, args.db)
    limits = limits_from(args, cfg, args.workers)
    try:
        summary = grade_all(cfg, args.assignments or None, args.student, args.workers, limits, args.isolation,
                            args.force, not args.no_calibrate, scheduler=scheduler_address(args.scheduler))
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
        from .feedback import generate_all
        generate_all(cfg, args.assignments or None, args.student)
    return 0 if summary["graded"] or summary["skipped"] else 1


if __name__ == "__main__":
    sys.exit(main())
