"""Checks of the solutions-to-notebooks pipeline, used by the test suite.

:func:`grade_solution_and_blank` builds a throw-away nbgrader course in a temporary folder, releases
one assignment there, submits the instructor's solution (as student ``solution``) and the untouched
student notebook (as student ``blank``), runs stock ``nbgrader autograde`` on both, as an instructor
would from a shell, and returns their scores from the gradebook.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import ROOT, SOLUTIONS, nbmeta, read


@dataclass
class Grade:
    score: float
    max_score: float
    cells: dict[str, float] = field(default_factory=dict)  # grade_id -> score


# Variables that the test run sets for itself and that a shell running nbgrader would not have.
_TEST_ONLY_ENV = ("MPLBACKEND", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NBGRADER_EXECUTION", "NBGRADER_DB_URL",
                  "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_VERSION")


def stock_env() -> dict[str, str]:
    """The environment of a shell with the course's virtual environment activated: this interpreter's
    ``bin`` first on ``PATH``, and none of the variables the test run sets for itself."""
    env = {k: v for k, v in os.environ.items() if k not in _TEST_ONLY_ENV}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def grade_solution_and_blank(name: str, workdir: Path, timeout: int = 300) -> dict[str, Grade]:
    """Autograde the solution and the blank student notebook of ``name`` with the ``nbgrader`` command
    line; see the module docstring.

    The course folder ``workdir`` holds only a ``nbgrader_config.py`` that loads the course's settings
    (with ``Execute.timeout = timeout``), the assignment's source folder, and what nbgrader writes. The
    commands run in their own processes with :func:`stock_env`, so the kernels see what they see when an
    instructor runs nbgrader. ``IgnorePattern`` is left at nbgrader's default (off): a test cell that
    writes anything to stderr scores 0, as in any course whose configuration keeps stderr, so a grade
    never depends on the course's pattern.
    """
    from nbgrader.api import Gradebook

    workdir = Path(workdir).resolve()
    db_url = f"sqlite:///{workdir / 'gradebook.db'}"
    shutil.copytree(SOLUTIONS / name, workdir / "source" / name,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    (workdir / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(ROOT / 'autograder' / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(workdir)!r}\n"
        "c.CourseDirectory.source_directory = 'source'\n"
        "c.CourseDirectory.release_directory = 'release'\n"
        f"c.CourseDirectory.db_url = {db_url!r}\n"
        f"c.Exchange.root = {str(workdir / 'exchange')!r}\n"
        f"c.Execute.timeout = {int(timeout)}\n"
        "c.IgnorePattern.enabled = False\n")
    env = stock_env()

    def nbgrader(*args: str) -> None:
        done = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), *args], cwd=workdir, env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                               f"{done.stderr[-3000:]}")

    nbgrader("generate_assignment", name, "--force")
    for student, origin in (("solution", workdir / "source" / name), ("blank", workdir / "release" / name)):
        shutil.copytree(origin, workdir / "submitted" / student / name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    nbgrader("autograde", name)
    grades: dict[str, Grade] = {}
    with Gradebook(db_url) as gb:
        for student in ("solution", "blank"):
            sub = gb.find_submission(name, student)
            nb_sub = sub.notebooks[0]
            cells = {g.name: float(g.score) for g in nb_sub.grades if g.cell.cell_type == "code"}
            grades[student] = Grade(float(sub.score), float(sub.max_score), cells)
    return grades


def stderr_of_cells(name: str, workdir: Path, student: str) -> dict[str, str]:
    """The stderr each graded cell wrote when ``student``'s notebook was autograded in ``workdir`` (by
    :func:`grade_solution_and_blank`), by grade_id: what zeroes a cell when stderr is kept."""
    path = Path(workdir) / "autograded" / student / name / f"{name}.ipynb"
    out = {}
    for cell in nbformat.read(str(path), as_version=4).cells:
        text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                       if o.get("output_type") == "stream" and o.get("name") == "stderr")
        if text and nbmeta(cell).get("grade"):
            out[nbmeta(cell).get("grade_id")] = text
    return out


# --- leak detection -------------------------------------------------------------------------------

_REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


def secret_lines(source_nb) -> set[str]:
    """Lines of solution and hidden-test regions that appear nowhere else in the source notebook
    (so finding one in a student notebook means it leaked). Short lines and comments are skipped."""
    secret, public = set(), set()
    for cell in source_nb.cells:
        text = cell.source
        for _, body in _REGION.findall(text):
            secret.update(line.strip() for line in body.splitlines())
        outside = _REGION.sub("", text)
        public.update(line.strip() for line in outside.splitlines())
    return {line for line in secret - public
            if len(line) >= 12 and not line.startswith("#") and line not in {"pass", "return None"}}


def leaks(source_nb, student_nb) -> list[str]:
    """Secret lines of ``source_nb`` found in ``student_nb`` (sources and outputs), plus any marker."""
    text = nbformat.writes(student_nb)
    found = [m for m in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS") if m in text]
    student_lines = {line.strip() for c in student_nb.cells for line in c.source.splitlines()}
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
