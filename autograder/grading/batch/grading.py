"""``python -m autograder grade [ASSIGNMENT ...]``: grade every collected submission.

Reads ``submitted/<student>/<assignment>/`` (see ``collect``), grades each submission in its own
sandboxed kernel with N parallel workers, records the scores in nbgrader's gradebook (flagging
submissions that need a human look), and writes ``autograded/<student>/<assignment>/`` (the executed
notebook and ``grading.json``). Already graded submissions whose files did not change are skipped,
so an interrupted run resumes where it stopped (``--force`` regrades). A progress bar (tqdm, on
stderr) counts every notebook run, calibration included, with the time left at the rate so far.

Before the first student, each assignment is *calibrated*: the instructor's own notebook is graded
as a submission; a test cell that the solution cannot pass sealed is graded in the student's kernel
instead (as plain nbgrader does) and reported, so that its author can make it sealable. The solution
must then score full marks: when it does not (a kernel that cannot start, an environment that cannot
import the course, a limit too tight, a test the solution fails), no student is graded and ``grade``
exits with status 3 and the cause (the flags and the errors of the cells that lost points).
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from ..host import isolation as sandbox
from ..model import ENGINE_VERSION, AssignmentSpec, Job, Limits, Result
from .calibration import CalibrationError, calibrate, progress_bar, queued
from .gradebook import (
    assignment_spec,
    course_dir,
    read_timestamp,
    record_result,
    result_path,
    submissions,
    write_outputs,
)
from .pool import WorkerPool

__all__ = ["grade_all", "calibrate", "CalibrationError"]

# flags of the instructor's own notebook that mean the grader, not the tests, failed
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


def grade_all(cfg, assignments: list[str] | None = None, students: list[str] | None = None,
              workers: int = 2, limits: Limits | None = None, isolation: str = "auto", force: bool = False,
              do_calibrate: bool = True, log=print, progress=None, scheduler: str | None = None) -> dict:
    """Grade all submissions (see the module docstring); return a summary. ``progress``: show a
    :func:`.calibration.progress_bar` (``True``: on stderr; or a stream to write it to). With ``scheduler``
    (a Dask scheduler's address) the submissions are graded on its workers instead of the local pool."""
    limits = limits or Limits()
    bar = progress_bar(None if progress is True else progress) if progress else None
    if bar is not None and log is print:
        log = bar.write          # lines go above the bar
    iso = sandbox.detect(isolation)
    log(f"isolation: {iso.level} ({iso.describe()})")
    for w in iso.warnings:
        log(f"  {w}")
    subs = submissions(cfg, assignments, students)
    names = sorted({a for _, a, _ in subs})
    specs: dict[str, AssignmentSpec] = {}
    from ...release import record

    try:
        record(cfg, names, log)                 # handed out by their first submissions
    except Exception as e:
        log(f"could not record {', '.join(names)} in the gradebook ({type(e).__name__}: {e})")
    for a in names:
        try:
            specs[a] = assignment_spec(cfg, a)
        except Exception as e:
            log(f"skipping {a}: not in the gradebook ({type(e).__name__}: {e}); hand it out first "
                f"(python -m autograder release {a} --due DATE)")
    if scheduler:
        from .dask_pool import DaskPool

        log(f"grading on the workers of the Dask scheduler at {scheduler}")
        pool = DaskPool(scheduler, iso.level, Path(course_dir(cfg).root), log=log)
    else:
        pool = WorkerPool(workers)
    try:
        return _grade_with(pool, cfg, subs, specs, workers, limits, iso, force, do_calibrate, log, bar)
    finally:
        pool.close()
        if bar is not None:
            bar.close()


def _grade_with(pool, cfg, subs, specs, workers, limits, iso, force, do_calibrate, log, bar=None) -> dict:
    if do_calibrate and specs:
        calibrate(cfg, specs, limits, iso.level, workers, log=log, pool=pool, bar=bar)
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
        jobs.append(Job(specs[a].to_dict(), student, str(folder), limits.as_dict(), iso.level,
                        read_timestamp(folder), h))
    total = len(jobs)
    log(f"grading {total} submission(s) with {workers} worker(s)"
        + (f"; {skipped} already graded and unchanged (use --force to regrade)" if skipped else ""))
    if bar is not None:
        bar.set_description_str("grading", refresh=False)
        queued(bar, total)
    results: list[dict] = []
    start = time.perf_counter()

    def done(job: Job, outcome: Result):
        if outcome.input_hash is None:
            outcome.input_hash = job.input_hash
        result = outcome.to_dict()
        record_result(cfg, result)
        write_outputs(cfg, result)
        results.append(result)
        if bar is not None:
            bar.update(1)
        flags = sorted({f["code"] for e in result["notebooks"].values() for f in e["flags"] if f["level"] == "review"})
        log(f"[{len(results)}/{total}] {result['student']:<20} {result['assignment']:<16} "
            f"{result['score']:6.1f}/{result['max_score']:<5g} {result.get('seconds', 0):6.1f}s"
            + (f"  REVIEW: {', '.join(flags)}" if flags else ""))

    per_job = limits.notebook_timeout * max(1, max((len(s.notebooks) for s in specs.values()), default=1)) + 300
    if jobs:
        pool.run(jobs, done, lambda j: per_job)
    wall = time.perf_counter() - start
    groups = _similarity(cfg, subs, specs, log)
    flagged = [r for r in results if r.get("needs_review")]
    summary = {"graded": len(results), "skipped": skipped, "wall_seconds": wall, "workers": workers,
               "per_minute": len(results) / wall * 60 if wall > 0 and results else 0.0,
               "flagged": [(r["student"], r["assignment"]) for r in flagged], "isolation": iso.level,
               "similar_clusters": groups}
    if results:
        log(f"graded {len(results)} submission(s) in {wall:.1f} s ({summary['per_minute']:.1f} per minute); "
            f"{len(flagged)} flagged for review"
            + (f"; {len(groups)} group(s) of similar answers to review "
               f"({sum(len(c['students']) for c in groups)} answers)" if groups else ""))
    return summary


def similarity_path(cfg, assignment: str) -> Path:
    """Where ``grade`` keeps the pairs of students with matching answers of an assignment."""
    cd = course_dir(cfg)
    return Path(cd.root) / cd.autograded_directory / ".similarity" / f"{assignment}.json"


def _similarity(cfg, subs, specs: dict[str, AssignmentSpec], log) -> list[dict]:
    """Compare every student's answers with every other's, per assignment; keep the pairs and report
    the groups of students with nearly the same answer (one line a group); return the groups. Every
    collected submission of the assignment is compared, also when only some were graded now
    (``--student``), so the kept report always covers the whole class."""
    from ..notebook.similarity import assignment_report

    groups: list[dict] = []
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
        for c in report["clusters"][:50]:
            who = " and ".join(c["students"]) if len(c["students"]) == 2 else ", ".join(c["students"])
            log(f"REVIEW: similar answers to {a} {c['exercise']}: {who} ({len(c['students'])} students, "
                f"{c['pairs']} pair(s), similarity up to {c['max_score']:.2f})")
        if len(report["clusters"]) > 50:
            log(f"REVIEW: {len(report['clusters']) - 50} more groups of similar answers to {a} in {path}")
        groups += [dict(c, assignment=a) for c in report["clusters"]]
    return groups

