"""Checks of the solutions-to-notebooks pipeline, used by the test suite.

:func:`grade_solution_and_blank` builds a throw-away nbgrader course in a temporary folder, releases
one assignment there, submits the instructor's solution (as student ``solution``) and the untouched
student notebook (as student ``blank``), runs real ``nbgrader autograde`` on both, and returns their
scores from the gradebook.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import SOLUTIONS, nbmeta, read, venv_on_path
from .release import load_config


@dataclass
class Grade:
    score: float
    max_score: float
    cells: dict[str, float] = field(default_factory=dict)  # grade_id -> score


def grade_solution_and_blank(name: str, workdir: Path) -> dict[str, Grade]:
    """Autograde the solution and the blank student notebook of ``name``; see the module docstring."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    workdir = Path(workdir).resolve()
    db_url = f"sqlite:///{workdir / 'gradebook.db'}"
    cfg = load_config(workdir / "release", db_url)
    cfg.CourseDirectory.root = str(workdir)
    cfg.CourseDirectory.source_directory = str(SOLUTIONS)
    api = NbGraderAPI(config=cfg)
    with venv_on_path():
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(result.get("error") or result.get("log"))
        for student, origin in (("solution", SOLUTIONS / name), ("blank", workdir / "release" / name)):
            dest = workdir / "submitted" / student / name
            shutil.copytree(origin, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
            result = api.autograde(name, student, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(f"autograde of {student} failed:\n{result.get('error') or result.get('log')}")
    grades: dict[str, Grade] = {}
    with Gradebook(db_url) as gb:
        for student in ("solution", "blank"):
            sub = gb.find_submission(name, student)
            nb_sub = sub.notebooks[0]
            cells = {g.name: float(g.score) for g in nb_sub.grades if g.cell.type == "code"}
            grades[student] = Grade(float(sub.score), float(sub.max_score), cells)
    return grades


# --- leak detection -------------------------------------------------------------------------------

_REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


def secret_lines(source_nb) -> set[str]:
    """Lines of solution and hidden-test regions that appear nowhere else in the source notebook
    (so finding one in a student notebook means it leaked). Short lines and comments are skipped."""
    secret, public = set(), set()
    for cell in source_nb.cells:
        text = cell.source
        for _, body in _REGION.findall(text):
            secret.update(l.strip() for l in body.splitlines())
        outside = _REGION.sub("", text)
        public.update(l.strip() for l in outside.splitlines())
    return {l for l in secret - public
            if len(l) >= 12 and not l.startswith("#") and l not in {"pass", "return None"}}


def leaks(source_nb, student_nb) -> list[str]:
    """Secret lines of ``source_nb`` found in ``student_nb`` (sources and outputs), plus any marker."""
    text = nbformat.writes(student_nb)
    found = [m for m in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS") if m in text]
    student_lines = {l.strip() for c in student_nb.cells for l in c.source.splitlines()}
    found += sorted(secret_lines(source_nb) & student_lines)
    return found


def structure_problems(nb) -> list[str]:
    """Violations of the exercise contract in ``docs/authoring.md``."""
    from .course import exercises

    problems = []
    exs = exercises(nb)
    if not 5 <= len(exs) <= 8:
        problems.append(f"{len(exs)} exercises; the course wants 5 to 8")
    total = sum(e.points for e in exs.values())
    if total != 100:
        problems.append(f"exercises are worth {total:g} points in all, not 100")
    for key, ex in exs.items():
        ids = [nbmeta(nb.cells[i])["grade_id"] for i in ex.test_indices]
        vis = [i for i in ex.test_indices if nbmeta(nb.cells[i])["grade_id"].endswith("_visible")]
        hid = [i for i in ex.test_indices if nbmeta(nb.cells[i])["grade_id"].endswith("_hidden")]
        if not vis or not hid:
            problems.append(f"{key}: needs a _visible and a _hidden test cell; has {ids}")
            continue
        pv = sum(float(nbmeta(nb.cells[i]).get("points", 0)) for i in vis)
        ph = sum(float(nbmeta(nb.cells[i]).get("points", 0)) for i in hid)
        if ph <= pv:
            problems.append(f"{key}: hidden tests ({ph:g} pts) must carry more points than visible ones ({pv:g})")
        for i in hid:
            if "### BEGIN HIDDEN TESTS" not in nb.cells[i].source:
                problems.append(f"{key}: hidden cell {nbmeta(nb.cells[i])['grade_id']} has no hidden-test region")
        sol = nb.cells[ex.solution_index].source
        if "### BEGIN SOLUTION" not in sol:
            problems.append(f"{key}: solution cell has no solution region")
    for cell in nb.cells:
        meta = nbmeta(cell)
        if meta.get("grade") and not meta.get("locked"):
            problems.append(f"{meta.get('grade_id')}: graded test cells must be locked")
    if not any("용어" in c.source for c in nb.cells if c.cell_type == "markdown"):
        problems.append("no 용어 (terms) box")
    return problems


def read_source(name: str):
    return read(SOLUTIONS / name / f"{name}.ipynb")
