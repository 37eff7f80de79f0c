"""Regenerate the student notebooks (``notebooks/``) from the solutions (``solutions/``).

``python -m autograder release [NAME ...] [--into DIR]`` runs nbgrader's ``generate_assignment`` for
each assignment (all by default): solutions become stubs, hidden tests are removed, outputs cleared,
and the source cells are recorded in the gradebook (the one in ``.nbgrader/`` unless ``--db`` says).

It never loses a learner's work: a notebook in the folder it regenerates that holds edits (outputs, an
answer that is no longer the starter code, a notebook the release does not write) is first copied into
``work/`` (learners work there; ``python -m autograder start``), under a name that is free.
"""
from __future__ import annotations

import argparse
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


def release(names: list[str] | None = None, into: Path | None = None, db_url: str | None = None,
            work: Path | None = None, log=print) -> list[Path]:
    """Generate the student version of each assignment in ``names`` (default: all) into ``into``
    (default: ``notebooks/``); return the paths of the notebooks written. Learner work found in
    ``into`` is copied into ``work`` first (default: ``work/`` beside ``into``)."""
    from nbgrader.apps import NbGraderAPI

    from .workspace import rescue

    names = names or assignments()
    into = Path(into) if into is not None else NOTEBOOKS
    work = Path(work) if work is not None else into.parent / "work"
    if db_url is None:
        (ROOT / ".nbgrader").mkdir(exist_ok=True)
    api = NbGraderAPI(config=load_config(into, db_url))
    written = []
    for name in names:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="assignments (default: all)")
    parser.add_argument("--into", type=Path, default=None, help="release folder (default: notebooks/)")
    parser.add_argument("--db", default=None, help="gradebook URL (default: .nbgrader/gradebook.db)")
    args = parser.parse_args(argv)
    for path in release(args.names or None, args.into, args.db):
        print(f"released {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0
