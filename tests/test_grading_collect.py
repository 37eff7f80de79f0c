"""``collect``: LMS downloads (Canvas, Moodle, Blackboard, nbgrader, GitHub Classroom, plain folders)
into nbgrader's ``submitted/`` layout, with timestamps, identification by content, and safe unzipping;
and the ways a student could turn it against others: names that imitate another LMS's prefix, links,
archives that escape or explode. Identity comes only from the names the LMS writes, a refused file is
quarantined with its reason, and everyone else is still collected."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from adversarial.support import ASSIGNMENT, make_course

from autograder.grading.batch import archives
from autograder.grading.batch import collect as collect_mod
from autograder.grading.batch.archives import extract
from autograder.grading.batch.collect import collect, safe_id
from autograder.grading.batch.gradebook import load_config

pytestmark = pytest.mark.xdist_group("grading")
QUIET = dict(log=lambda *a: None)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("collect") / "course"
    make_course(root)
    released = (root / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    return root, released


@pytest.fixture
def course(pristine, tmp_path):
    """A course of its own for each test (a copy of a released one, gradebook included)."""
    src, released = pristine
    root = tmp_path / "course"
    shutil.copytree(src, root, symlinks=True)
    return load_config(root), root, released


def _zip(path: Path, entries: dict[str, bytes], when: dict[str, tuple] | None = None,
         links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(when or {}).get(name, (2024, 5, 1, 12, 0, 0)))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 1, 12, 0, 0))
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _stamp(root: Path, student: str) -> datetime:
    text = (root / "submitted" / student / ASSIGNMENT / "timestamp.txt").read_text()
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=timezone.utc)


def _mark(nb: bytes, text: str) -> bytes:
    return nb.replace(b"YOUR CODE HERE", text.encode())


def _report(root: Path) -> list[dict]:
    with open(root / "submitted" / ".collect.csv", newline="") as f:
        return list(csv.DictReader(f))


def _students(root: Path) -> set[str]:
    return {p.name for p in (root / "submitted").iterdir() if p.is_dir() and not p.name.startswith(".")}


def test_canvas_zip(course, tmp_path):
    cfg, root, nb = course
    z = _zip(tmp_path / "canvas.zip", {
        "alice_12345_67890_fx_ops.ipynb": nb,
        "bob_222_111_fx_ops.ipynb": nb,
        "bob_LATE_222_333_fx_ops-1.ipynb": _mark(nb, "second try"),
        "carol_444_555_my_homework.ipynb": nb,          # renamed: recognised by its cells
        "readme.txt": b"not a notebook",
    }, when={"bob_222_111_fx_ops.ipynb": (2024, 5, 1, 9, 0, 0),
             "bob_LATE_222_333_fx_ops-1.ipynb": (2024, 5, 2, 9, 0, 0)})
    result = collect(cfg, z, **QUIET)
    assert set(result["students"]) == {"alice", "bob", "carol"}
    sub = root / "submitted"
    assert b"second try" in (sub / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes(), "the latest wins"
    assert _stamp(root, "bob") == datetime(2024, 5, 2, 9, 0, tzinfo=timezone.utc)
    meta = json.loads((sub / "carol" / ASSIGNMENT / "collect.json").read_text())[ASSIGNMENT]
    assert meta["renamed"] and meta["identified_by"] == "content"
    assert meta["original_name"].endswith("my_homework.ipynb")
    assert meta["layout"] == "canvas" and meta["lms_user_id"] == "444"
    # Canvas's user id goes to the gradebook, for the grade file Canvas imports
    from nbgrader.api import Gradebook
    with Gradebook(cfg.CourseDirectory.db_url) as gb:
        assert gb.find_student("alice").lms_user_id == "12345"
    rows = {r["student"]: r for r in _report(root) if r["status"] == "collected"}
    assert rows["alice"]["lms_user_id"] == "12345" and "marked late" in rows["bob"]["notes"]


def test_moodle_blackboard_nbgrader_and_nested_zips(course, tmp_path):
    cfg, root, nb = course
    inner = _zip(tmp_path / "george.zip", {"fx_ops.ipynb": nb})
    z = _zip(tmp_path / "mixed.zip", {
        "Dan Brown_998_assignsubmission_file_/fx_ops.ipynb": nb,
        "fx_ops_erin_attempt_2024-05-03-10-30-00_fx_ops.ipynb": nb,
        "frank/fx_ops/fx_ops.ipynb": nb,
        "frank/fx_ops/timestamp.txt": b"2024-04-30 08:00:00.000000 UTC",
        "george.zip": inner.read_bytes(),
    })
    collect(cfg, z, **QUIET)
    sub = root / "submitted"
    assert _students(root) == {"Dan_Brown", "erin", "frank", "george"}
    for student in ("Dan_Brown", "erin", "frank", "george"):
        assert (sub / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists(), student
    assert _stamp(root, "erin") == datetime(2024, 5, 3, 10, 30, tzinfo=timezone.utc)
    assert _stamp(root, "frank") == datetime(2024, 4, 30, 8, 0, tzinfo=timezone.utc)
    assert json.loads((sub / "Dan_Brown" / ASSIGNMENT / "collect.json").read_text())[ASSIGNMENT]["lms_user_id"] == "998"


def test_folder_with_a_custom_pattern_and_an_unmatched_file(course, tmp_path):
    cfg, root, nb = course
    src = tmp_path / "github"
    (src / "fx-ops-hannah" / "work").mkdir(parents=True)
    (src / "fx-ops-hannah" / "work" / "fx_ops.ipynb").write_bytes(nb)
    (src / "fx-ops-ivan").mkdir()
    (src / "fx-ops-ivan" / "essay.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    result = collect(cfg, src, prefix="fx-ops", **QUIET)
    assert (root / "submitted" / "hannah" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    assert any("essay.ipynb" in u for u in result["unmatched"])
    result = collect(cfg, src, pattern=r"fx-ops-(?P<student>[a-z]+)/", **QUIET)
    assert "hannah" in result["students"]


def test_a_canvas_file_named_like_a_blackboard_attempt_stays_its_senders(course, tmp_path):
    """Mallory uploads ``x_doejohn_attempt_2099-12-31-23-59-59_fx_ops.ipynb``; Canvas prefixes it with
    her own name and ids. It must neither replace doejohn's submission nor block his later one."""
    cfg, root, nb = course
    z = _zip(tmp_path / "canvas1.zip", {
        "doejohn_11_21_fx_ops.ipynb": _mark(nb, "john first"),
        "mallory_13_23_x_doejohn_attempt_2099-12-31-23-59-59_fx_ops.ipynb": _mark(nb, "mallory"),
    })
    collect(cfg, z, **QUIET)
    sub = root / "submitted"
    assert _students(root) == {"doejohn", "mallory"}
    assert b"john first" in (sub / "doejohn" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert b"mallory" in (sub / "mallory" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert _stamp(root, "mallory").year == 2024, "a time in the student's file name is not the submission's"
    # the same upload alone in a download (no other Canvas names to outvote it)
    z = _zip(tmp_path / "canvas2.zip", {
        "mallory_13_24_x_doejohn_attempt_2099-12-31-23-59-59_fx_ops.ipynb": _mark(nb, "mallory again")})
    collect(cfg, z, **QUIET)
    assert _students(root) == {"doejohn", "mallory"}
    # doejohn's resubmission later that week still counts
    z = _zip(tmp_path / "canvas3.zip", {"doejohn_11_22_fx_ops.ipynb": _mark(nb, "john second")},
             when={"doejohn_11_22_fx_ops.ipynb": (2024, 5, 3, 12, 0, 0)})
    collect(cfg, z, **QUIET)
    assert b"john second" in (sub / "doejohn" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    # and a Blackboard download whose student tail imitates Canvas or Moodle
    z = _zip(tmp_path / "bb.zip", {
        "HW1_zoe_attempt_2024-05-01-10-00-00_alice_1_2_fx_ops.ipynb": _mark(nb, "zoe"),
        "HW1_yan_attempt_2024-05-01-10-00-00_Carol Jones_7_assignsubmission_file_fx_ops.ipynb": _mark(nb, "yan"),
    })
    collect(cfg, z, **QUIET)
    assert b"zoe" in (sub / "zoe" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert b"yan" in (sub / "yan" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert not (sub / "alice").exists() and not (sub / "Carol_Jones").exists()


def test_a_file_named_like_moodles_prefix_inside_a_students_folder_is_that_students(course, tmp_path):
    cfg, root, nb = course
    z = _zip(tmp_path / "folders.zip", {
        "carol/fx_ops.ipynb": _mark(nb, "carol's own"),
        "bob/carol_7_assignsubmission_file_fx_ops.ipynb": _mark(nb, "bob's"),
    }, when={"bob/carol_7_assignsubmission_file_fx_ops.ipynb": (2024, 6, 1, 0, 0, 0)})
    collect(cfg, z, **QUIET)
    sub = root / "submitted"
    assert _students(root) == {"bob", "carol"}
    assert b"carol's own" in (sub / "carol" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert b"bob's" in (sub / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    # the same in GitHub Classroom repositories
    src = tmp_path / "gh"
    (src / "fx-ops-bob").mkdir(parents=True)
    (src / "fx-ops-bob" / "Carol Jones_7_assignsubmission_file_fx_ops.ipynb").write_bytes(_mark(nb, "bob gh"))
    collect(cfg, src, prefix="fx-ops", **QUIET)
    assert b"bob gh" in (sub / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert not (sub / "Carol_Jones").exists()


def test_links_are_refused_never_followed(course, tmp_path):
    """A GitHub Classroom repository with a link to the course's solution (a file link and a folder
    link), and a zip entry with a link's mode bits: none is copied, each is quarantined with its reason."""
    cfg, root, nb = course
    solution = root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    src = tmp_path / "gh"
    (src / "fx-ops-eve").mkdir(parents=True)
    os.symlink(solution, src / "fx-ops-eve" / "fx_ops.ipynb")
    (src / "fx-ops-finn").mkdir()
    os.symlink(solution.parent, src / "fx-ops-finn" / "work")
    (src / "fx-ops-gus").mkdir()
    (src / "fx-ops-gus" / "fx_ops.ipynb").write_bytes(_mark(nb, "gus"))
    result = collect(cfg, src, prefix="fx-ops", **QUIET)
    assert _students(root) == {"gus"}
    reasons = {o: r for o, r in result["quarantined"]}
    assert "symbolic link" in reasons["fx-ops-eve/fx_ops.ipynb"]
    assert "symbolic link" in reasons["fx-ops-finn/work"]
    quarantined = [r for r in _report(root) if r["status"] == "quarantined"]
    assert {r["origin"] for r in quarantined} == {"fx-ops-eve/fx_ops.ipynb", "fx-ops-finn/work"}

    z = _zip(tmp_path / "links.zip", {"hal_31_41_fx_ops.ipynb": _mark(nb, "hal")},
             links={"ivy_32_42_fx_ops.ipynb": str(solution), "ivy_32_43_work/fx_ops.ipynb": "../../solutions"})
    result = collect(cfg, z, **QUIET)
    assert "hal" in result["students"] and not (root / "submitted" / "ivy").exists()
    assert sum("symbolic link" in r for _, r in result["quarantined"]) == 2


def test_a_bad_inner_zip_is_quarantined_and_everyone_else_collected(course, tmp_path, monkeypatch):
    cfg, root, nb = course
    escape = _zip(tmp_path / "escape.zip", {"../../../escaped.ipynb": nb, "fx_ops.ipynb": nb})
    # 6 x 100 MiB of zeros in 0.6 MB: more than one student's archive may expand to
    zeros = b"\0" * (100 << 20)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("fx_ops.ipynb", nb)
        for i in range(6):
            zf.writestr(f"data/{i}.bin", zeros)
    del zeros
    assert bomb.stat().st_size < 2 << 20
    z = _zip(tmp_path / "canvas.zip", {
        "alice_1_2_fx_ops.ipynb": nb,
        "mallory_3_4_work.zip": escape.read_bytes(),
        "oscar_5_6_work.zip": bomb.read_bytes(),
        "peggy_7_8_work.zip": b"PK\x03\x04 this is no zip",
        "quinn_9_10_work.zip": _zip(tmp_path / "q.zip", {"fx_ops.ipynb": _mark(nb, "quinn")}).read_bytes(),
    })
    result = collect(cfg, z, **QUIET)
    assert _students(root) == {"alice", "quinn"}, result
    reasons = dict(result["quarantined"])
    assert "unsafe path" in reasons["mallory_3_4_work.zip"]
    assert "expands" in reasons["oscar_5_6_work.zip"]
    assert "cannot be read" in reasons["peggy_7_8_work.zip"]
    kept = sorted(p.name for p in (root / "submitted" / ".quarantine").iterdir())
    assert len(kept) == 3 and all(k.endswith("_work.zip") for k in kept), kept
    assert not list(tmp_path.parent.glob("**/escaped.ipynb"))
    assert b"quinn" in (root / "submitted" / "quinn" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()


def test_an_oversized_file_in_a_students_zip(course, tmp_path, monkeypatch):
    """A file over the size limit (lowered here) inside a student's zip: that zip is refused."""
    cfg, root, nb = course
    monkeypatch.setattr(archives, "MAX_FILE", 1 << 20)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("fx_ops.ipynb", nb)
        zf.writestr("big.bin", b"\0" * (3 << 20))
    z = _zip(tmp_path / "c.zip", {"rex_1_2_work.zip": inner.getvalue(), "sam_3_4_fx_ops.ipynb": nb})
    result = collect(cfg, z, **QUIET)
    assert _students(root) == {"sam"}
    assert "larger than" in dict(result["quarantined"])["rex_1_2_work.zip"]


def test_the_students_own_zip_does_not_set_the_time(course, tmp_path):
    cfg, root, nb = course
    inner = _zip(tmp_path / "i.zip", {"fx_ops.ipynb": nb}, when={"fx_ops.ipynb": (2099, 12, 31, 23, 59, 58)})
    z = _zip(tmp_path / "c.zip", {"tess_1_2_work.zip": inner.read_bytes()},
             when={"tess_1_2_work.zip": (2024, 5, 1, 12, 0, 0)})
    collect(cfg, z, **QUIET)
    assert _stamp(root, "tess") == datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def test_an_unsafe_entry_of_the_download_itself_is_left_out(course, tmp_path):
    cfg, root, nb = course
    z = _zip(tmp_path / "c.zip", {"../../escaped.ipynb": nb, "/abs.ipynb": nb, "uma_1_2_fx_ops.ipynb": nb})
    result = collect(cfg, z, **QUIET)
    assert _students(root) == {"uma"}
    assert sum("unsafe path" in r for _, r in result["quarantined"]) == 2
    assert not (tmp_path.parent / "escaped.ipynb").exists()
    with pytest.raises(ValueError):
        extract(z, tmp_path / "out")          # without a quarantine list an unsafe entry raises
    assert not (tmp_path.parent / "escaped.ipynb").exists()


def test_two_canvas_students_with_one_name_and_the_roster(course, tmp_path):
    cfg, root, nb = course
    from nbgrader.api import Gradebook
    with Gradebook(cfg.CourseDirectory.db_url) as gb:
        gb.update_or_create_student("s1001", first_name="John", last_name="Doe", lms_user_id="501")
        gb.update_or_create_student("s1002", first_name="Jane", last_name="Roe", lms_user_id="502")
    z = _zip(tmp_path / "c.zip", {
        "doejohn_501_1_fx_ops.ipynb": _mark(nb, "john"),     # the roster knows user 501
        "leewin_601_2_fx_ops.ipynb": _mark(nb, "win 601"),   # two students named Win Lee, not on the roster
        "leewin_602_3_fx_ops.ipynb": _mark(nb, "win 602"),
    })
    result = collect(cfg, z, **QUIET)
    sub = root / "submitted"
    assert _students(root) == {"s1001", "leewin_601", "leewin_602"}
    assert b"john" in (sub / "s1001" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert b"win 602" in (sub / "leewin_602" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert set(result["not_on_roster"]) == {"leewin_601", "leewin_602"}


def test_student_ids_are_safe():
    assert safe_id("Dan Brown") == "Dan_Brown"
    assert safe_id("../../etc") == "etc"
    assert safe_id("a+b@c") == "a_b_c"


def test_a_notebook_too_large_or_too_nested_to_parse_is_quarantined_unparsed(course, tmp_path, monkeypatch):
    """A notebook over the grader's 20 MiB, one that opens millions of JSON objects in a few MB, one
    nested 200,000 deep, and a zip entry that inflates to 30 MiB are refused with their reasons before
    any of them is parsed, whether they come in the download, in a student's own zip or in a folder;
    everyone else is collected."""
    cfg, root, nb = course
    parsed: list[int] = []

    class Counting:
        def __getattr__(self, name):
            return getattr(json, name)

        @staticmethod
        def loads(text, *a, **k):
            parsed.append(len(text))
            return json.loads(text, *a, **k)

    monkeypatch.setattr(collect_mod, "json", Counting())
    text = nb.decode()
    wide = text.replace('"metadata": {', '"metadata": {"x": [' + "{}," * 1_000_000 + "{}], ", 1).encode()
    deep = text.replace('"metadata": {', '"metadata": {"x": ' + "[" * 200_000 + "]" * 200_000 + ", ", 1).encode()
    huge = text.replace('"metadata": {', '"metadata": {"x": "' + " " * (30 << 20) + '", ', 1).encode()
    assert len(wide) < 4 << 20 and len(huge) > 30 << 20
    own = _zip(tmp_path / "own.zip", {"fx_ops.ipynb": deep})
    z = _zip(tmp_path / "canvas.zip", {
        "alice_1_2_fx_ops.ipynb": nb,
        "walt_3_4_fx_ops.ipynb": wide,
        "dora_5_6_work.zip": own.read_bytes(),
        "hugo_7_8_fx_ops.ipynb": huge,
        "bob_9_10_fx_ops.ipynb": _mark(nb, "bob"),
    })
    assert z.stat().st_size < 1 << 20
    result = collect(cfg, z, **QUIET)
    assert _students(root) == {"alice", "bob"}, result
    reasons = dict(result["quarantined"])
    assert "JSON arrays and objects, more than the 500000" in reasons["walt_3_4_fx_ops.ipynb"], reasons
    assert "levels deep, more than the 64" in reasons["dora_5_6_work/fx_ops.ipynb"], reasons
    assert "larger than 20 MiB" in reasons["hugo_7_8_fx_ops.ipynb"], reasons
    assert parsed and max(parsed) < 2 * len(nb), parsed       # only alice's and bob's were parsed
    rows = [r for r in _report(root) if r["status"] == "quarantined"]
    assert {r["student"] for r in rows} == {"walt", "dora", ""}, rows     # hugo's never left the zip
    kept = sorted(p.name for p in (root / "submitted" / ".quarantine").iterdir())
    assert len(kept) == 2 and all(k.endswith("fx_ops.ipynb") for k in kept), kept

    # the same from a folder: a 21 MiB file is refused by its size, unread
    folder = tmp_path / "folders"
    for student, data in {"carol": nb, "hank": text.replace('"metadata": {', '"metadata": {"x": "' + " " * (21 << 20)
                                                                             + '", ', 1).encode()}.items():
        (folder / student).mkdir(parents=True)
        (folder / student / "fx_ops.ipynb").write_bytes(data)
    parsed.clear()
    result = collect(cfg, folder, **QUIET)
    assert "carol" in _students(root) and "hank" not in _students(root)
    assert "21.0 MiB, more than the 20 MiB" in dict(result["quarantined"])["hank/fx_ops.ipynb"]
    assert max(parsed) < 2 * len(nb)


def test_the_course_notebooks_are_far_within_the_parsing_limits():
    """Every solution and released notebook of the course nests and branches far less than what
    collect and the grader refuse to parse, and the skeleton count agrees with the parsed JSON."""
    from autograder.grading.notebook.jsonlimits import MAX_CONTAINERS, MAX_DEPTH, refusal, skeleton_stats

    repo = Path(__file__).resolve().parents[1]
    paths = sorted(repo.glob("solutions/*/*.ipynb")) + sorted(repo.glob("notebooks/*/*.ipynb"))
    assert len(paths) >= 20, paths

    def count(obj, depth=1):
        if isinstance(obj, dict):
            sub = [count(v, depth + 1) for v in obj.values()]
        elif isinstance(obj, list):
            sub = [count(v, depth + 1) for v in obj]
        else:
            return 0, depth - 1
        return 1 + sum(s[0] for s in sub), max([depth] + [s[1] for s in sub])

    for p in paths:
        raw = p.read_bytes()
        opened, depth = skeleton_stats(raw)
        assert (opened, depth) == count(json.loads(raw)), p
        assert depth <= MAX_DEPTH // 4 and opened <= MAX_CONTAINERS // 100, (p, opened, depth)
        assert refusal(raw) is None


CANVAS_ROSTER = ("Student,ID,SIS User ID,SIS Login ID,Section,01_backprop (501),fx_ops (502)\n"
                 "    Points Possible,,,,,100,100\n"
                 '"Liddell, Alice",101,S-0001,alice,Section A,,\n'
                 '"Student, Test",999,,,,,\n'
                 '"Nobody, Ann",108,,,Section B,,\n')


def test_the_roster_names_every_row_it_skips(course, tmp_path):
    from autograder.grading.batch.roster import import_roster, read_canvas_roster

    cfg, root, _ = course
    path = tmp_path / "students.csv"
    path.write_text(CANVAS_ROSTER)
    lines = []
    result = import_roster(cfg, path, log=lines.append)
    assert result["students"] == ["alice"]
    text = "\n".join(lines)
    assert "'Student, Test' is Canvas's test student" in text, text
    assert "'Nobody, Ann' has no student id" in text, text
    assert "Points Possible" not in text
    # what canvas.csv gives back and the gradebook has no field for
    kept = read_canvas_roster(cfg)
    assert kept["students"]["alice"] == {"sis_user_id": "S-0001", "section": "Section A"}
    assert kept["assignments"] == {"01_backprop": "01_backprop (501)", "fx_ops": "fx_ops (502)"}


def test_the_readmes_roster_name_is_ignored_by_git():
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    for name in ("students.csv", "roster.csv"):
        assert subprocess.run(["git", "check-ignore", "-q", name], cwd=repo).returncode == 0, name


def test_the_lms_prefix_is_not_a_rename(course, tmp_path):
    """Canvas's ``name_userid_submissionid_`` (and its ``-1`` of a resubmission) is the LMS's, not the
    student's: only a file the student named otherwise is a renamed notebook; Canvas's LATE is kept."""
    cfg, root, nb = course
    z = _zip(tmp_path / "canvas.zip", {
        "alice_12345_67890_fx_ops.ipynb": nb,
        "bob_LATE_222_333_fx_ops-1.ipynb": nb,
        "carol_444_555_my_homework.ipynb": nb,
    })
    collect(cfg, z, **QUIET)
    meta = {s: json.loads((root / "submitted" / s / ASSIGNMENT / "collect.json").read_text())[ASSIGNMENT]
            for s in ("alice", "bob", "carol")}
    assert {s: m["renamed"] for s, m in meta.items()} == {"alice": False, "bob": False, "carol": True}, meta
    assert meta["carol"]["original_name"] == "my_homework.ipynb"
    assert meta["bob"]["lms_late"] is True and meta["alice"]["lms_late"] is False


def test_every_collects_record_is_kept(course, tmp_path):
    """A second download collected later appends its rows to ``.collect.csv``: the first one's stay."""
    cfg, root, nb = course
    collect(cfg, _zip(tmp_path / "first.zip", {"alice_1_2_fx_ops.ipynb": nb}), **QUIET)
    collect(cfg, _zip(tmp_path / "second.zip", {"bob_3_4_fx_ops.ipynb": nb}), **QUIET)
    rows = _report(root)
    assert [(r["student"], r["origin"]) for r in rows] == [("alice", "alice_1_2_fx_ops.ipynb"),
                                                          ("bob", "bob_3_4_fx_ops.ipynb")], rows
    assert (root / "submitted" / ".collect.csv").read_text().count("student,assignment,notebook") == 1
def test_a_file_in_a_repository_never_claims_the_time_or_the_name(course, tmp_path):
    """GitHub Classroom repositories hold only what the student committed: a ``timestamp.txt`` laid out
    as nbgrader's (any time, in any folder of the repository) decides nothing, the students are named
    by the repository prefix the instructor gives, and an honest and a backdating student get the
    same time."""
    cfg, root, nb = course
    src = tmp_path / "classroom"
    for user, claim in (("alice", "2000-01-01 00:00:00.000000 UTC"), ("bob", None)):
        repo = src / f"hw-{user}" / ASSIGNMENT
        repo.mkdir(parents=True)
        (repo / f"{ASSIGNMENT}.ipynb").write_bytes(_mark(nb, user))
        if claim:
            (repo / "timestamp.txt").write_text(claim)
            (src / f"hw-{user}" / "timestamp.txt").write_text(claim)
    collect(cfg, src, prefix="hw", **QUIET)
    assert _students(root) == {"alice", "bob"}
    assert _stamp(root, "alice") == _stamp(root, "bob")
    assert _stamp(root, "alice").year > 2000


def test_a_file_that_cannot_be_kept_or_stored_is_quarantined_and_the_class_collected(course, tmp_path):
    """One student's archive with a name as long as the LMS allows (a quarantine copy would exceed the
    file system's name limit) and one whose name cannot be a folder: each is quarantined with its reason,
    everyone else is collected."""
    cfg, root, nb = course
    long_zip = "mallory_3_4_" + "w" * 228 + ".zip"
    z = _zip(tmp_path / "canvas.zip", {
        "alice_1_2_fx_ops.ipynb": nb,
        long_zip: b"PK\x03\x04 this is no zip",
        "trudy_5_6_" + "x" * 240 + ".ipynb": nb,
    })
    result = collect(cfg, z, **QUIET)
    assert "alice" in _students(root)
    reasons = dict(result["quarantined"])
    assert "cannot be read" in reasons[long_zip]
