"""Submissions that reach the grader through a link instead of a file of their own.

``collect`` refuses links (``tests/test_grading_collect.py``), but a submission folder can also be made
by hand (``cp -a`` of a GitHub Classroom clone) or by other tools. A link to the course's solution, as
the notebook itself or as a folder holding it, must earn nothing: the grader never follows a link out
of the submission folder.
"""
from __future__ import annotations

import os

from .cases import NOTEBOOK, Case, Ctx


def _linked_notebook(ctx: Ctx) -> None:
    ctx.folder.mkdir(parents=True, exist_ok=True)
    os.symlink(ctx.solution, ctx.folder / f"{NOTEBOOK}.ipynb")


def _linked_folder(ctx: Ctx) -> None:
    ctx.folder.mkdir(parents=True, exist_ok=True)
    os.symlink(ctx.solution.parent, ctx.folder / "work")


CASES = [
    Case("linked_solution", "the notebook is a symbolic link to the course's solution notebook",
         _linked_notebook, 0, flags=("linked_file",), review=True),
    Case("linked_solution_folder", "no notebook; a folder link to the course's solution folder beside it",
         _linked_folder, 0, flags=("missing_notebook",), review=True),
]
