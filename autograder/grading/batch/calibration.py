"""Calibration: the instructor's own notebook graded as a submission before any student.

A test cell that the solution cannot pass sealed is graded in the student's kernel instead (as plain
nbgrader does) and reported; the solution must then score full marks, else no student is graded."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ..model import AssignmentSpec, Job, Limits, Result
from .gradebook import course_dir
from .pool import WorkerPool, run_jobs

FATAL = {"kernel_start_failed", "kernel_died", "kernel_lost", "kernel_restarted", "grader_crash", "job_timeout",
         "grader_error", "cell_timeout", "notebook_timeout", "memory_limit", "missing_notebook", "invalid_json",
         "invalid_notebook", "notebook_too_complex", "empty_file", "unreadable_file", "not_a_notebook",
         "protocol_violation"}


class CalibrationError(RuntimeError):
    """The instructor's notebook does not score full marks: grading the students would be wrong."""





def calibration_path(cfg, spec: AssignmentSpec) -> Path:
    cd = course_dir(cfg)
    return Path(cd.root) / cd.autograded_directory / ".calibration" / f"{spec.name}.json"


def calibrate(cfg, specs: dict[str, AssignmentSpec], limits: Limits, isolation: str, workers: int,
              log=print, force: bool = False, pool: WorkerPool | None = None) -> dict[str, dict]:
    """Grade each instructor notebook as a submission; test cells it fails are graded in the kernel."""
    report: dict[str, dict] = {}
    jobs = []
    tmp = Path(tempfile.mkdtemp(prefix="ag-calib-"))
    for name, spec in specs.items():
        path = calibration_path(cfg, spec)
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
        jobs.append(Job(spec.to_dict(), "__calibration__", str(folder), limits.as_dict(), isolation))

    results: dict[str, dict] = {}

    def done(job: Job, outcome: Result):
        name, result = job.assignment, outcome.to_dict()
        results[name] = result
        unsealed, failing = {}, []
        for nbname, entry in result["notebooks"].items():
            bad = [g for g, (s, m) in entry["scores"].items() if s is None or s < m]
            unsealed[nbname] = bad
            failing += [f"{nbname}:{g}" for g in bad]
        rep = {"digest": AssignmentSpec.from_dict(job.spec).digest(), "limits": limits.as_dict(),
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
        fresh = [j.assignment for j in jobs]
        for name in fresh:
            if name not in results:
                raise CalibrationError(f"calibration of {name} returned no result (the grading worker failed)")
            check_calibration(name, results[name], report[name], sealed=True)
        # Test cells graded in the kernel instead: the solution must pass them there.
        verify = []
        for name in fresh:
            if any(report[name]["unsealed"].values()):
                spec = apply_calibration(AssignmentSpec.from_dict(specs[name].to_dict()), report[name])
                folder = next(j.folder for j in jobs if j.assignment == name)
                verify.append(Job(spec.to_dict(), "__calibration__", folder, limits.as_dict(), isolation))
        sealed_reports = {name: report[name] for name in fresh}
        if verify:
            run(verify)
            for job in verify:
                name = job.assignment
                check_calibration(name, results[name], report[name], sealed=False)
                sealed_reports[name]["verified_score"] = report[name]["score"]
                report[name] = sealed_reports[name]
        for name in fresh:
            path = calibration_path(cfg, specs[name])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report[name], indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, rep in report.items():
        specs[name] = apply_calibration(specs[name], rep)
        n_bad = sum(len(v) for v in rep["unsealed"].values())
        n_all = sum(len(nb.grade_ids) for nb in specs[name].notebooks)
        msg = (f"  {name}: {n_all - n_bad}/{n_all} test cells sealed; the solution scores "
               f"{rep['score']:g}/{rep['max_score']:g} sealed")
        if n_bad:
            msg += ("\n    graded in the student's kernel instead (not tamper-proof; make these tests "
                    "sealable): " + ", ".join(g for v in rep["unsealed"].values() for g in v))
        log(msg)
    return report


def cell_errors(entry: dict, cells: list[str]) -> list[str]:
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


def check_calibration(name: str, result: dict, rep: dict, sealed: bool) -> None:
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
        errors = cell_errors(entry, bad)
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


def apply_calibration(spec: AssignmentSpec, rep: dict) -> AssignmentSpec:
    for nb in spec.notebooks:
        nb.unsealed = list(rep.get("unsealed", {}).get(nb.name, []))
        nb.benign_violations = list(rep.get("benign_violations", {}).get(nb.name, []))
    return spec
