"""Grading one submission: an independent job from a submission folder to a result record.

:func:`grade_submission` takes an :class:`AssignmentSpec` (plain data: the gradebook's record of the
assignment's cells, the instructor's notebook, the files handed to students) and one student's
submission folder, and returns a JSON-serialisable record: the autograded notebook(s), the score of
every graded cell, flags for review and timings. It does not touch the gradebook, so it can run in a
process pool here or on another machine; the caller records results (:mod:`.batch.gradebook`).

For each notebook:

1. the file is found (also under a wrong name, recognised by its nbgrader cell ids) and read
   (an empty, truncated or old-format file gets a clear flag);
2. it is sanitised with nbgrader's own preprocessors against the gradebook's record: outputs cleared,
   duplicate ids removed, locked and test cells restored to their recorded source (hidden tests come
   back), points and cell types reset, deleted test cells re-inserted (:mod:`.notebook.sanitize`);
3. a *student kernel* (:mod:`.inside.kernel`, confined by :mod:`.inside.confine` and
   :mod:`.host.isolation`; the reference answers not graded yet left out, :mod:`.host.withheld`) runs
   every cell except the test cells, in order, each within the cell time limit, the whole within the
   notebook limit, under a memory cap; a kernel that dies is restarted and the cells that ran before are replayed;
4. each test cell runs in a *tester* forked from a zygote that ran the instructor's notebook: the test
   sees the student's names as proxies (:mod:`.channel`) and decides pass or fail in its own process
   (:mod:`.host.run` drives both);
5. scores follow nbgrader's rules (``utils.determine_grade``: an error scores 0, a number is partial
   credit) after the course's ``IgnorePattern`` and ``LimitOutput``.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from .host import isolation as sandbox
from .host.run import NotebookRun
from .model import INFO, AssignmentSpec, Flag, Limits, Result
from .notebook.answers import reference_flags
from .notebook.read import find_notebook_file, read_submission
from .notebook.sanitize import sanitize
from .notebook.score import score_notebook, zero_scores


# ============================================================================ the job
def grade_submission(assignment: AssignmentSpec | dict, student: str, submission_dir: str | Path,
                     limits: Limits | dict | None = None, isolation: str = "auto",
                     timestamp: str | None = None) -> dict:
    """Grade one student's submission of one assignment; return the result record (see module doc)."""
    if isinstance(assignment, dict):
        assignment = AssignmentSpec.from_dict(assignment)
    if isinstance(limits, dict):
        limits = Limits(**limits)
    limits = limits or Limits()
    folder = Path(submission_dir)
    iso = sandbox.detect(isolation)
    started = time.time()
    t0 = time.perf_counter()
    result = Result(student, assignment.name, timestamp=timestamp, isolation=iso.level,
                    isolation_detail=iso.describe(), started=started)
    if iso.warnings and iso.level == "process":
        result.flags.append(Flag("weak_isolation", iso.warnings[-1], level=INFO))
    taken: set[str] = set()
    for spec in assignment.notebooks:
        entry = {"name": spec.name, "flags": [], "scores": {}, "file": None, "cells": [], "timings": {}}
        result.notebooks[spec.name] = entry
        path, flags = find_notebook_file(folder, spec, taken) if folder.is_dir() else \
            (None, [Flag("missing_notebook", f"no submission folder {folder}")])
        entry["flags"] += flags
        if path is None:
            entry["scores"] = zero_scores(spec)
            continue
        taken.add(path.name)
        entry["file"] = str(path.relative_to(folder)) if path.is_relative_to(folder) else path.name
        try:
            collected = json.loads((folder / "collect.json").read_text()).get(spec.name, {})
        except (OSError, ValueError, AttributeError):
            collected = {}
        if collected.get("renamed"):
            entry["flags"].append(Flag("renamed_notebook", f"submitted as {collected.get('original_name')!r}; "
                                                           f"recognised as {spec.name}.ipynb by "
                                                           f"{collected.get('identified_by', 'its cells')}",
                                       level=INFO))
        nb, flags = read_submission(path, limits.notebook_mb << 20, limits.max_cells)
        entry["flags"] += flags
        if nb is None:
            entry["scores"] = zero_scores(spec)
            continue
        try:
            nb, flags = sanitize(nb, spec, assignment.name)
            entry["flags"] += flags
            entry["flags"] += reference_flags(nb, spec)
        except Exception as e:
            entry["flags"].append(Flag("unsanitizable", f"the notebook could not be prepared for grading: "
                                                        f"{type(e).__name__}: {e}"))
            entry["scores"] = zero_scores(spec)
            continue
        tmp = Path(tempfile.mkdtemp(prefix="ag-sub-"))
        run = NotebookRun(nb, spec, assignment, limits, iso, tmp, folder)
        try:
            run.run()
        except Exception as e:       # a grader failure must not stop the batch: flag and move on
            import traceback
            run.flags.append(Flag("grader_error", f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"))
            run.fail_rest(0, "not graded: the grader failed on this notebook")
        finally:
            run.close()
            shutil.rmtree(tmp, ignore_errors=True)
        entry["flags"] += run.flags
        entry["cells"] = run.cell_log
        entry["timings"] = {k: round(v, 3) for k, v in run.timings.items()}
        if run.kernel is not None:
            entry["applied"] = run.kernel.applied
        entry["scores"] = score_notebook(nb, spec, assignment)
        entry["unsealed"] = list(spec.unsealed)
        entry["violations"] = list(run.violations)
        entry["autograded"] = nbformat.writes(nb)
    result.total()
    result.seconds = round(time.perf_counter() - t0, 3)
    return result.to_dict()
