"""nbgrader's course directory and gradebook: the record of every grade.

:func:`assignment_spec` reads what the grader needs from the gradebook (the cells ``generate_assignment``
recorded, hidden tests included) into a plain :class:`~.engine.AssignmentSpec`, so that grading jobs
never open the database. :func:`record_result` writes a job's result back the way ``nbgrader
autograde`` does (nbgrader's own ``SaveAutoGrades`` and ``AssignLatePenalties``), marks notebooks that
need review as *flagged*, and stores the autograded notebook where nbgrader's formgrader and
``generate_feedback`` look for it. The database is SQLite by default; ``--db`` (or ``NBGRADER_DB_URL``)
selects another one, e.g. ``postgresql://user@host/course``.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from ..model import AssignmentSpec, NotebookSpec, assignment_of, cell_record

__all__ = ["load_config", "course_dir", "assignment_spec", "record_result", "write_outputs",
           "submissions", "result_path", "read_timestamp"]


def site_config():
    """The nbgrader configuration found on nbgrader's own search path (``nbgrader --paths``: the
    user's ``~/.jupyter``, ``{sys.prefix}/etc/jupyter``, ``/etc/jupyter``, ``JUPYTER_CONFIG_DIR`` and
    ``JUPYTER_CONFIG_PATH``), merged with the same precedence nbgrader gives it."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

    from ...course import ROOT

    cfg = Config()
    for folder in reversed(jupyter_config_path()):          # the first folder has the last word
        for loader, name in ((PyFileConfigLoader, "nbgrader_config.py"),
                             (JSONFileConfigLoader, "nbgrader_config.json")):
            path = Path(folder) / name
            if path.is_file() and path.resolve() != (ROOT / name).resolve():
                try:
                    cfg.merge(loader(name, path=str(folder)).load_config())
                except Exception as e:          # nbgrader, too, warns and goes on without it
                    print(f"warning: {path} not loaded ({type(e).__name__}: {e})", file=sys.stderr)
    return cfg


def db_url(db: str | None) -> str | None:
    """The gradebook URL ``--db`` names. A URL with a password does not belong on a command line (every
    process that can read /proc sees it): give the name of a file that holds the URL instead, or set
    ``NBGRADER_DB_URL`` in the environment."""
    if db and "://" not in db and Path(db).is_file():
        return Path(db).read_text(encoding="utf-8").strip() or None
    return db


def load_config(root: str | Path | None = None, db: str | None = None):
    """The course's nbgrader configuration as nbgrader sees it: the system-wide and user configs
    (:func:`site_config`), then the course's ``nbgrader_config.py``; optionally for another course
    root or gradebook."""
    from ...release import load_config as _load

    db = db_url(db)
    cfg = site_config()
    exchange_set = "Exchange" in cfg and "root" in cfg.Exchange
    cfg.merge(_load(db_url=db))
    if root is not None:
        root = Path(root).resolve()
        cfg.CourseDirectory.root = str(root)
        if not exchange_set:
            from ...course import ensure_exchange

            cfg.Exchange.root = str(root / ".nbgrader" / "exchange")
            ensure_exchange(cfg.Exchange.root)
        if db is None and not os.environ.get("NBGRADER_DB_URL"):
            # the same place as the course's own configuration (autograder/nbgrader_config.py)
            (root / ".nbgrader").mkdir(parents=True, exist_ok=True)
            cfg.CourseDirectory.db_url = f"sqlite:///{root / '.nbgrader' / 'gradebook.db'}"
    return cfg


def course_dir(cfg):
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=cfg)


def _source_order(path: Path) -> list[str]:
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:
        return []
    out = []
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid:
            out.append(gid)
    return out


def assignment_spec(cfg, assignment: str, mode: str = "grade") -> AssignmentSpec:
    """The gradebook's record of ``assignment`` as an :class:`AssignmentSpec`."""
    from nbgrader.api import Gradebook

    cd = course_dir(cfg)
    source_dir = Path(cd.format_path(cd.source_directory, ".", assignment))
    release_dir = Path(cd.format_path(cd.release_directory, ".", assignment))
    notebooks = []
    with Gradebook(cd.db_url, cd.course_id) as gb:
        a = gb.find_assignment(assignment)
        for nb in sorted(a.notebooks, key=lambda n: n.name):
            cells: dict[str, dict] = {}
            for sc in nb.source_cells:
                cells[sc.name] = cell_record(sc.cell_type, sc.source, locked=sc.locked, checksum=sc.checksum)
            for gc in nb.grade_cells:
                cells.setdefault(gc.name, cell_record(gc.cell_type, "", locked=True))
                cells[gc.name].update(grade=True, points=float(gc.max_score))
            for sc in nb.solution_cells:
                if sc.name in cells:
                    cells[sc.name]["solution"] = True
            for tc in nb.task_cells:
                if tc.name in cells:
                    cells[tc.name].update(task=True, points=float(tc.max_score))
            src_path = source_dir / f"{nb.name}.ipynb"
            order = [g for g in _source_order(src_path) if g in cells]
            order += [g for g in cells if g not in order]
            kernelspec = json.loads(nb.kernelspec) if nb.kernelspec else None
            notebooks.append(NotebookSpec(nb.name, str(src_path), cells, order, kernelspec))
    ignore = None
    if cfg.IgnorePattern.get("enabled", False):
        ignore = cfg.IgnorePattern.get("pattern", None)
    return assignment_of(notebooks, assignment, source_dir, release_dir if release_dir.is_dir() else None, mode,
                         ignore_pattern=ignore, max_lines=int(cfg.LimitOutput.get("max_lines", 1000)),
                         max_traceback=int(cfg.LimitOutput.get("max_traceback", 100)))


def submissions(cfg, assignments: list[str] | None = None,
                students: list[str] | None = None) -> list[tuple[str, str, Path]]:
    """(student, assignment, folder) of every submission in ``submitted/``."""
    cd = course_dir(cfg)
    root = Path(cd.root) / cd.submitted_directory
    out = []
    if not root.is_dir():
        return out
    for sdir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if students and sdir.name not in students:
            continue
        for adir in sorted(p for p in sdir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if assignments and adir.name not in assignments:
                continue
            out.append((sdir.name, adir.name, adir))
    return out


def read_timestamp(folder: Path) -> str | None:
    p = folder / "timestamp.txt"
    try:
        return p.read_text().strip() or None
    except OSError:
        return None


def result_path(cfg, student: str, assignment: str) -> Path:
    cd = course_dir(cfg)
    return Path(cd.format_path(cd.autograded_directory, student, assignment)) / "grading.json"


def write_outputs(cfg, result: dict) -> Path:
    """The autograded notebooks and the result record under ``autograded/<student>/<assignment>/``.

    The notebooks are written neutralised (:mod:`.neutralise`): nothing a student's outputs, Markdown or
    metadata hold can run in the browser of whoever opens them (formgrader, JupyterLab, feedback). The
    scores in the record and the gradebook come from the notebooks as graded."""
    from ..notebook.neutralise import neutralise_text

    cd = course_dir(cfg)
    dest = Path(cd.format_path(cd.autograded_directory, result["student"], result["assignment"]))
    dest.mkdir(parents=True, exist_ok=True)
    release = Path(cd.format_path(cd.release_directory, ".", result["assignment"]))
    for name, entry in result["notebooks"].items():
        text = entry.get("autograded")
        if text:
            target = dest / f"{name}.ipynb"
            try:
                target.write_text(neutralise_text(text, released_markdown(release / f"{name}.ipynb")))
            except Exception as e:              # never leave an unneutralised copy behind
                target.unlink(missing_ok=True)
                entry.setdefault("flags", []).append({
                    "code": "unneutralisable", "level": "review",
                    "message": f"the graded notebook could not be made safe to open and was not written ({e})"})
    if result.get("timestamp"):
        (dest / "timestamp.txt").write_text(result["timestamp"])
    slim = dict(result)
    slim["notebooks"] = {k: {kk: vv for kk, vv in v.items() if kk != "autograded"}
                         for k, v in result["notebooks"].items()}
    (dest / "grading.json").write_text(json.dumps(slim, indent=1, sort_keys=True))
    return dest


def released_markdown(path: Path) -> set[str]:
    """The Markdown cells of a released notebook: the instructor's text, kept as it is when a graded
    copy is neutralised."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:
        return set()
    return {c.source.strip() for c in nb.cells if c.cell_type == "markdown"}


def record_result(cfg, result: dict) -> None:
    """Write a job's scores into the gradebook as ``nbgrader autograde`` would."""
    import warnings

    warnings.filterwarnings("ignore", message=".*not in session.*")     # harmless SQLAlchemy noise
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

    cd = course_dir(cfg)
    student, assignment = result["student"], result["assignment"]
    with Gradebook(cd.db_url, cd.course_id) as gb:
        gb.update_or_create_student(student)
        kwargs = {"timestamp": result["timestamp"]} if result.get("timestamp") else {}
        gb.update_or_create_submission(assignment, student, **kwargs)
    resources_base = {"assignment": assignment, "student": student, "db_url": cd.db_url}
    for name, entry in result["notebooks"].items():
        text = entry.get("autograded")
        if text:
            nb = nbformat.reads(text, as_version=4)
            resources = {"nbgrader": dict(resources_base, notebook=name)}
            SaveAutoGrades(config=cfg).preprocess(nb, resources)
        with Gradebook(cd.db_url, cd.course_id) as gb:
            try:
                sub_nb = gb.find_submission_notebook(name, assignment, student)
            except MissingEntry:
                continue
            present = set()
            if text:
                for cell in nbformat.reads(text, as_version=4).cells:
                    gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
                    if gid:
                        present.add(gid)
            for grade in sub_nb.grades:
                if grade.name not in present:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            sub_nb.flagged = any(f.get("level") == "review" for f in entry.get("flags", []))
            gb.db.commit()
        if text:
            try:
                AssignLatePenalties(config=cfg).preprocess(nb, {"nbgrader": dict(resources_base, notebook=name)})
            except Exception:
                pass


def utc_now_string() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")

