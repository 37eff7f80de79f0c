"""Regenerate the student notebooks (``notebooks/``) from the solutions (``solutions/``).

``python -m autograder release [NAME ...] [--into DIR] [--due DATE]`` runs nbgrader's
``generate_assignment`` for each assignment (all by default): solutions become stubs, hidden tests are
removed, outputs cleared.

The gradebook (the one in ``.nbgrader/`` unless ``--db`` says) holds only the assignments handed out: those
with a due date there (``--due``, or ``nbgrader db assignment add NAME --duedate=...``) or with a submission.
nbgrader's formgrader sums every assignment in the gradebook into each student's total, so a course that
recorded all its notebooks would show a student out of every notebook's points. The source cells of an
assignment handed out (hidden tests included) are recorded when it is released; the others are generated
with a scratch gradebook, and a row of theirs left by an earlier release (cells only: no due date, no
submission) is removed. ``grade`` records an assignment when its first submissions arrive
(:func:`record`).

It never loses a learner's work: a notebook in the folder it regenerates that holds edits (outputs, an
answer that is no longer the starter code, a notebook the release does not write) is first copied into
``work/`` (learners work there; ``python -m autograder start``), under a name that is free.
"""
from __future__ import annotations

import argparse
import copy
import shutil
import tempfile
from pathlib import Path

import nbformat
from traitlets.config.loader import PyFileConfigLoader

from .course import NOTEBOOKS, ROOT, assignments, venv_on_path


def load_config(release_dir: Path | None = None, db_url: str | None = None, **overrides):
    """The course's nbgrader configuration, optionally with another release folder or gradebook."""
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    if release_dir is not None:
        cfg.CourseDirectory.release_directory = str(Path(release_dir).resolve())
    if db_url is not None:
        cfg.CourseDirectory.db_url = db_url
    for key, value in overrides.items():
        section, attr = key.split(".")
        setattr(cfg[section], attr, value)
    return cfg


def handed_out(gb) -> set[str]:
    """The assignments of the open Gradebook ``gb`` handed out: with a due date or a submission."""
    return {a.name for a in gb.assignments if a.duedate is not None or len(a.submissions) > 0}


def _sort_gradebook(cfg, names: list[str], due: str | None, log=print) -> set[str]:
    """Give each of ``names`` the due date ``due`` (when given), drop the rows of those not handed out,
    and return the names handed out."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    cd = CourseDirectory(config=cfg)
    with venv_on_path(), Gradebook(cd.db_url, cd.course_id) as gb:
        for name in names if due else []:
            gb.update_or_create_assignment(name, duedate=due)
        out = handed_out(gb)
        for a in [a.name for a in gb.assignments if a.name in names and a.name not in out]:
            gb.remove_assignment(a)
            log(f"{a}: out of the gradebook until it is handed out (a due date, or its first submission)")
    return out


def release(names: list[str] | None = None, into: Path | None = None, db_url: str | None = None,
            work: Path | None = None, log=print, due: str | None = None) -> list[Path]:
    """Generate the student version of each assignment in ``names`` (default: all) into ``into``
    (default: ``notebooks/``); return the paths of the notebooks written. Learner work found in
    ``into`` is copied into ``work`` first (default: ``work/`` beside ``into``). With ``due`` (a date
    nbgrader reads, e.g. ``"2025-03-01 23:59:00 UTC"``) each assignment is handed out with that due
    date; only the assignments handed out are recorded in the gradebook (see the module docstring)."""
    from nbgrader.apps import NbGraderAPI

    names = names or assignments()
    into = Path(into) if into is not None else NOTEBOOKS
    work = Path(work) if work is not None else into.parent / "work"
    if db_url is None:
        (ROOT / ".nbgrader").mkdir(exist_ok=True)
    cfg = load_config(into, db_url)
    out = _sort_gradebook(cfg, names, due, log)
    scratch = tempfile.TemporaryDirectory(prefix="release-db-")
    try:
        return _generate(names, into, work, out, NbGraderAPI(config=cfg),
                         NbGraderAPI(config=load_config(into, f"sqlite:///{scratch.name}/gradebook.db")), log)
    finally:
        scratch.cleanup()


def _generate(names, into, work, out, api_course, api_scratch, log) -> list[Path]:
    from .workspace import rescue

    written = []
    for name in names:
        api = api_course if name in out else api_scratch
        target = into / name
        with tempfile.TemporaryDirectory(prefix="release-old-") as old:
            previous = Path(old) / name
            if target.exists():
                shutil.move(str(target), previous)
            try:
                with venv_on_path():
                    result = api.generate_assignment(name, force=True, create=True)
                if not result["success"]:
                    why = result.get("error") or result.get("log")
                    raise RuntimeError(f"generate_assignment {name} failed:\n{why}")
            except BaseException:
                if previous.exists():
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.move(str(previous), target)
                raise
            fresh = nbformat.read(str(target / f"{name}.ipynb"), as_version=4)
            rescue(previous, f"{name}.ipynb", fresh, work=work, log=log, origin=target)
        written.append(target / f"{name}.ipynb")
    return written


def record(cfg, names: list[str], log=print) -> list[str]:
    """Record in ``cfg``'s gradebook each assignment of ``names`` that it does not hold yet, or holds
    without notebooks (a due date set before the release), as ``generate_assignment`` records it; the
    student version goes to a scratch folder, so the release folder is not touched. Returns the names
    recorded."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cd = CourseDirectory(config=cfg)
    missing = []
    with venv_on_path(), Gradebook(cd.db_url, cd.course_id) as gb:
        for name in names:
            try:
                if gb.find_assignment(name).notebooks:
                    continue
            except MissingEntry:
                pass
            missing.append(name)
    source = Path(cd.root) / cd.source_directory
    missing = [n for n in missing if (source / n).is_dir()]
    with tempfile.TemporaryDirectory(prefix="record-") as scratch:
        c = copy.deepcopy(cfg)
        c.CourseDirectory.release_directory = scratch
        api = NbGraderAPI(config=c)
        for name in missing:
            with venv_on_path():
                result = api.generate_assignment(name, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(f"generate_assignment {name} failed:\n{result.get('error') or result.get('log')}")
            log(f"{name}: recorded in the gradebook (handed out: it has submissions)")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="assignments (default: all)")
    parser.add_argument("--into", type=Path, default=None, help="release folder (default: notebooks/)")
    parser.add_argument("--db", default=None, help="gradebook URL (default: .nbgrader/gradebook.db)")
    parser.add_argument("--due", default=None, metavar="DATE",
                        help='hand the assignments out with this due date, e.g. "2025-03-01 23:59:00 UTC"')
    args = parser.parse_args(argv)
    if args.due and not args.names:
        parser.error("--due needs the assignments it hands out, by name")
    for path in release(args.names or None, args.into, args.db, due=args.due):
        print(f"released {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0
