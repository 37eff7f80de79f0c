"""``collect``: LMS downloads (Canvas, Moodle, Blackboard, nbgrader, GitHub Classroom, plain folders)
into nbgrader's ``submitted/`` layout, with timestamps, identification by content, and safe unzipping."""
from __future__ import annotations

import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from adversarial.support import ASSIGNMENT, make_course
from autograder.grading.collect import _extract, collect, safe_id

pytestmark = pytest.mark.xdist_group("grading")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("collect") / "course"
    cfg = make_course(root)
    released = (root / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    return cfg, root, released


def _zip(path: Path, entries: dict[str, bytes], when: dict[str, tuple] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(when or {}).get(name, (2024, 5, 1, 12, 0, 0)))
            zf.writestr(info, data)
    return path


def _stamp(root: Path, student: str) -> datetime:
    text = (root / "submitted" / student / ASSIGNMENT / "timestamp.txt").read_text()
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=timezone.utc)


def test_canvas_zip(course, tmp_path):
    cfg, root, nb = course
    z = _zip(tmp_path / "canvas.zip", {
        "alice_12345_67890_fx_ops.ipynb": nb,
        "bob_222_111_fx_ops.ipynb": nb,
        "bob_LATE_222_333_fx_ops-1.ipynb": nb.replace(b"YOUR CODE HERE", b"second try"),
        "carol_444_555_my_homework.ipynb": nb,          # renamed: recognised by its cells
        "readme.txt": b"not a notebook",
    }, when={"bob_222_111_fx_ops.ipynb": (2024, 5, 1, 9, 0, 0), "bob_LATE_222_333_fx_ops-1.ipynb": (2024, 5, 2, 9, 0, 0)})
    result = collect(cfg, z, log=lambda *a: None)
    assert {"alice", "bob", "carol"} <= set(result["students"])
    sub = root / "submitted"
    assert b"second try" in (sub / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes(), "the latest wins"
    assert _stamp(root, "bob") == datetime(2024, 5, 2, 9, 0, tzinfo=timezone.utc)
    meta = json.loads((sub / "carol" / ASSIGNMENT / "collect.json").read_text())[ASSIGNMENT]
    assert meta["renamed"] and meta["identified_by"] == "content" and meta["original_name"].endswith("my_homework.ipynb")
    assert (sub / ".collect.csv").exists()


def test_moodle_blackboard_nbgrader_and_nested_zips(course, tmp_path):
    cfg, root, nb = course
    inner = tmp_path / "george.zip"
    _zip(inner, {"fx_ops.ipynb": nb})
    z = _zip(tmp_path / "mixed.zip", {
        "Dan Brown_998_assignsubmission_file_/fx_ops.ipynb": nb,
        "fx_ops_erin_attempt_2024-05-03-10-30-00_fx_ops.ipynb": nb,
        "frank/fx_ops/fx_ops.ipynb": nb,
        "frank/fx_ops/timestamp.txt": b"2024-04-30 08:00:00.000000 UTC",
        "george.zip": inner.read_bytes(),
    })
    collect(cfg, z, log=lambda *a: None)
    sub = root / "submitted"
    for student in ("Dan_Brown", "erin", "frank", "george"):
        assert (sub / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists(), student
    assert _stamp(root, "erin") == datetime(2024, 5, 3, 10, 30, tzinfo=timezone.utc)
    assert _stamp(root, "frank") == datetime(2024, 4, 30, 8, 0, tzinfo=timezone.utc)


def test_folder_with_a_custom_pattern_and_an_unmatched_file(course, tmp_path):
    cfg, root, nb = course
    src = tmp_path / "github"
    (src / "fx-ops-hannah" / "work").mkdir(parents=True)
    (src / "fx-ops-hannah" / "work" / "fx_ops.ipynb").write_bytes(nb)
    (src / "fx-ops-ivan").mkdir()
    (src / "fx-ops-ivan" / "essay.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    result = collect(cfg, src, prefix="fx-ops", log=lambda *a: None)
    assert (root / "submitted" / "hannah" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    assert any("essay.ipynb" in u for u in result["unmatched"])
    result = collect(cfg, src, pattern=r"fx-ops-(?P<student>[a-z]+)/", log=lambda *a: None)
    assert "hannah" in result["students"]


def test_a_zip_cannot_write_outside_its_folder(tmp_path):
    z = _zip(tmp_path / "evil.zip", {"../../escaped.ipynb": b"{}"})
    with pytest.raises(ValueError):
        _extract(z, tmp_path / "out", [0])
    assert not (tmp_path.parent / "escaped.ipynb").exists()


def test_student_ids_are_safe():
    assert safe_id("Dan Brown") == "Dan_Brown"
    assert safe_id("../../etc") == "etc"
    assert safe_id("a+b@c") == "a_b_c"
