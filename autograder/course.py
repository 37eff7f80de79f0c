"""Where the course's notebooks are, and how their exercises are laid out.

An exercise ``k`` is the cells whose nbgrader ``grade_id`` starts with ``exk_``: one solution cell
and its graded test cells (see ``docs/authoring.md``).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
ASSIGNMENT_RE = re.compile(r"^\d\d_[a-z0-9_]+$")


def assignments() -> list[str]:
    """Names of the course's assignments (``NN_slug``), in order."""
    return sorted(p.name for p in SOLUTIONS.iterdir()
                  if p.is_dir() and ASSIGNMENT_RE.match(p.name) and (p / f"{p.name}.ipynb").exists())


def ensure_exchange(path: Path | str) -> None:
    """Make nbgrader's exchange folder ``path`` as nbgrader makes it (every user may write, sticky), so
    that nbgrader's commands and JupyterLab's Assignments tab find it; quietly nothing where it cannot."""
    path = Path(path)
    if path.is_dir():
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o1777)
    except OSError:
        pass


def source_path(name: str) -> Path:
    return SOLUTIONS / name / f"{name}.ipynb"


def release_path(name: str) -> Path:
    return NOTEBOOKS / name / f"{name}.ipynb"


def nbmeta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def exercise_of(grade_id: str) -> str | None:
    """``"ex3_attention_hidden"`` -> ``"ex3"``; ``None`` for ids outside the convention."""
    m = re.match(r"^(ex\d+)_", grade_id or "")
    return m.group(1) if m else None


@dataclass
class Exercise:
    key: str                  # "ex3"
    solution_index: int       # index of the solution cell in the notebook
    solution_id: str          # its grade_id
    test_indices: list[int]   # graded test cells, in order
    points: float


def exercises(nb) -> dict[str, Exercise]:
    """The notebook's exercises by key, in order of appearance."""
    out: dict[str, Exercise] = {}
    for i, cell in enumerate(nb.cells):
        meta = nbmeta(cell)
        key = exercise_of(meta.get("grade_id", ""))
        if key is None:
            continue
        if meta.get("solution") and not meta.get("grade"):
            if key in out:
                raise ValueError(f"exercise {key} has two solution cells ({out[key].solution_id}, {meta['grade_id']})")
            out[key] = Exercise(key, i, meta["grade_id"], [], 0.0)
        elif meta.get("grade") and cell.cell_type == "code":
            if key not in out:
                raise ValueError(f"test cell {meta['grade_id']} comes before the solution cell of {key}")
            out[key].test_indices.append(i)
            out[key].points += float(meta.get("points", 0))
    return out


def read(path: Path):
    return nbformat.read(str(path), as_version=4)


def venv_env(*, shared_cores: bool = True, **extra: str) -> dict[str, str]:
    """The current environment with this interpreter's ``bin`` first on ``PATH`` (nbgrader starts
    ``alembic`` and kernels by name).

    ``shared_cores``: the kernel will share the cores with other kernels (tests and mutants run in
    parallel). OpenMP threads that spin while they wait then slow small models down by 10-50x, so they
    wait passively. A notebook run alone, as a learner's JupyterLab runs it, keeps OpenMP's default:
    passive waiting makes its many small operations up to twice as slow on an idle machine (one epoch
    of notebook 08's Transformer: 3.3 s spinning, 6.2 s passive, on 2 cores). A policy set in the
    environment is kept either way.
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if shared_cores:
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.update(extra)
    return env


@contextlib.contextmanager
def venv_on_path():
    """Put this interpreter's ``bin`` first on ``PATH`` for the duration (nbgrader runs ``alembic``
    by name when it creates a gradebook)."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + old
    try:
        yield
    finally:
        os.environ["PATH"] = old
