"""The solutions-to-notebooks pipeline: structure, in sync, no leak (autograde and mutants: their own files).

Each check runs per assignment so that a failure names the notebook, and so that pytest-xdist can
spread the assignments over workers.
"""
from __future__ import annotations

import filecmp

import pytest

from autograder import pipeline
from autograder.course import NOTEBOOKS, assignments, read, release_path, source_path
from autograder.release import release

NAMES = assignments()


def test_course_has_assignments():
    assert NAMES, "no assignments found in solutions/"


def test_release_folder_matches_solutions():
    released = sorted(p.name for p in NOTEBOOKS.iterdir() if p.is_dir())
    assert released == NAMES, (f"notebooks/ holds {released} but solutions/ holds {NAMES}: "
                               "run `python -m autograder release`")


@pytest.mark.parametrize("name", NAMES)
def test_structure(name):
    problems = pipeline.structure_problems(read(source_path(name)))
    assert not problems, f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", NAMES)
def test_in_sync(name, tmp_path):
    """Regenerating the student notebook reproduces notebooks/ exactly (files and bytes)."""
    release([name], into=tmp_path / "release", db_url=f"sqlite:///{tmp_path / 'gradebook.db'}")
    fresh, committed = tmp_path / "release" / name, NOTEBOOKS / name
    cmp = filecmp.dircmp(fresh, committed)
    assert not cmp.left_only and not cmp.right_only, (
        f"{name}: files differ (only fresh: {cmp.left_only}, only committed: {cmp.right_only}); "
        "run `python -m autograder release`")
    for f in sorted((fresh).rglob("*")):
        if f.is_file():
            other = committed / f.relative_to(fresh)
            assert f.read_bytes() == other.read_bytes(), (
                f"{other.relative_to(NOTEBOOKS.parent)} is not what `python -m autograder release {name}` "
                "generates: it was edited by hand or solutions/ changed since")


@pytest.mark.parametrize("name", NAMES)
def test_no_leak(name):
    found = pipeline.leaks(read(source_path(name)), read(release_path(name)))
    assert not found, f"{name}: the student notebook contains solution or hidden-test code: {found[:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_student_view(name):
    """The student notebook carries no test-suite markers and names the kernel as JupyterLab does."""
    from autograder.release_filters import KERNELSPEC, MARKER

    nb = read(release_path(name))
    marked = [i + 1 for i, c in enumerate(nb.cells) if MARKER in c.source]
    assert not marked, f"{name}: cells {marked} still show {MARKER!r} to the learner"
    assert dict(nb.metadata.kernelspec) == KERNELSPEC, (
        f"{name}: kernelspec {dict(nb.metadata.kernelspec)} makes JupyterLab mark a fresh notebook modified")
