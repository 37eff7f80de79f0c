"""The instructor's path through the command line, as the README gives it: a class list is imported,
an LMS zip is collected (with a submission that links to the solution, which is refused), graded with
two workers, turned into feedback pages and exported with the deadline, a "zero" late penalty from the
user's nbgrader config, a grace period and an extension; the grade files Canvas imports carry the LMS
ids; and a student checks a notebook before submitting. A grader that cannot start a kernel stops at
calibration with the cause. Each command runs as ``python -m autograder ...`` in its own process."""
from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from adversarial.cases import CORRECT, NOTEBOOK, WRONG, _answers, mixed
from adversarial.support import ASSIGNMENT, make_course

pytestmark = pytest.mark.xdist_group("grading")

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str, ok: bool = True, config: Path | None = None, cmd: list[str] | None = None,
         cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_DB_URL", "JUPYTER_CONFIG_PATH")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if config is not None:
        env["JUPYTER_CONFIG_DIR"] = str(config)          # the user's ~/.jupyter
    proc = subprocess.run((cmd or [sys.executable, "-m", "autograder"]) + list(args), cwd=cwd, env=env,
                          text=True, capture_output=True, timeout=600)
    if ok:
        assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _notebook(released: Path, answers: dict[str, str]) -> bytes:
    nb = nbformat.read(str(released), as_version=4)
    _answers(nb, answers)
    return nbformat.writes(nb).encode()


def _config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text("c = get_config()\n" + text)
    return folder


def _grades(course) -> dict[str, dict]:
    with open(course["root"] / "exports" / "grades.csv", newline="") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    root = tmp / "course"
    make_course(root)
    released = root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    solution = root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    # A Canvas download: <name>_<userid>_<submissionid>_<file>; dana's file was renamed by the LMS;
    # eve's is a link to the course's solution (a zip entry with a link's mode bits).
    z = tmp / "submissions.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, answers in (("alice_101_201_fx_ops.ipynb", CORRECT),
                              ("bob_LATE_102_202_fx_ops.ipynb", WRONG),         # Canvas marked it late
                              ("carol_103_203_fx_ops.ipynb", mixed(ex3_affine=WRONG["ex3_affine"])),
                              ("dana_104_204_homework-1.ipynb", CORRECT)):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 5, 1, 12, 0, 0)), _notebook(released, answers))
        link = zipfile.ZipInfo("eve_105_205_fx_ops.ipynb", date_time=(2024, 5, 1, 12, 0, 0))
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(solution))
        zf.writestr("notes.txt", "not a notebook")
    # the class list, as Canvas exports it: Canvas user ids and SIS logins; frank submits nothing
    roster = tmp / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,fx_ops (502)\n"
                      "    Points Possible,,,,,100\n"
                      '"Liddell, Alice",101,S-101,alice,A,\n"Builder, Bob",102,,bob,A,\n'
                      '"Jones, Carol",103,,carol,B,\n"Smith, Frank",106,,frank,A,\n"Student, Test",107,,,,\n')
    return {"root": root, "zip": z, "released": released, "tmp": tmp, "roster": roster}


def test_collect_grade_feedback_export(course):
    from nbgrader.api import Gradebook

    root = str(course["root"])
    listed = _run("roster", str(course["roster"]), "--root", root).stdout
    assert "'Student, Test' is Canvas's test student" in listed, listed
    out = _run("collect", str(course["zip"]), "--root", root).stdout
    for student in ("alice", "bob", "carol", "dana"):
        assert (course["root"] / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists(), out
    assert not (course["root"] / "submitted" / "eve").exists(), out
    assert "quarantined eve_105_205_fx_ops.ipynb: a symbolic link" in out and "not on the roster: dana" in out, out

    graded = _run("grade", "--root", root, "--workers", "2", "--cell-timeout", "20").stdout
    assert "isolation:" in graded, graded
    # resumable: a second run grades nothing again
    again = _run("grade", "--root", root, "--workers", "2", "--cell-timeout", "20").stdout

    _run("feedback", "--root", root)
    pages = sorted(p.relative_to(course["root"] / "feedback").parts[0]
                   for p in (course["root"] / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert pages == ["alice", "bob", "carol", "dana"], pages

    with Gradebook(f"sqlite:///{course['root'] / '.nbgrader' / 'gradebook.db'}", "dlnlp") as gb:
        gb.update_or_create_assignment("zz_later")          # released, never handed out: no due date, no submission
    exported = _run("export", "--root", root).stdout
    exports = course["root"] / "exports"
    rows = _grades(course)
    scores = {s: float(r["score"]) for s, r in rows.items()}
    assert scores == {"alice": 100.0, "bob": 0.0, "carol": 65.0, "dana": 100.0, "frank": 0.0}, (scores, graded, again)
    assert rows["frank"]["submitted"] == "0" and rows["dana"]["on_roster"] == "0" and rows["alice"]["on_roster"] == "1"
    assert rows["alice"]["lms_user_id"] == "101" and rows["dana"]["lms_user_id"] == "104"
    assert (exports / "exercises.csv").exists() and (exports / "score_distribution.png").stat().st_size > 1000
    assert (exports / "grades_wide.csv").exists()
    assert "grading 0 submission(s)" in again and "4 already graded and unchanged" in again, again
    # Canvas's gradebook import: Student, ID (the Canvas user id), SIS ids, Section, one column per assignment
    with open(exports / "canvas.csv", newline="") as f:
        canvas = list(csv.reader(f))
    # under the header of the roster's gradebook export, so Canvas fills its own column; the assignment
    # never handed out is left out
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "fx_ops (502)"], canvas[0]
    assert canvas[1][0] == "Points Possible" and canvas[1][-1] == "100"
    by_id = {r[1]: r for r in canvas[2:]}
    assert by_id["101"][0] == "Liddell, Alice" and by_id["101"][-1] == "100" and by_id["106"][-1] == "0"
    assert by_id["101"][2] == "S-101" and by_id["101"][4] == "A" and by_id["103"][4] == "B"
    assert by_id["104"][3] == "dana"
    assert "left out (not handed out: no due date and no submission): zz_later" in exported, exported
    with open(exports / "grades_wide.csv", newline="") as f:
        assert next(csv.reader(f)) == ["student", ASSIGNMENT, "total", "max_total", "percent"]
    # Canvas's LATE marker, with no penalty method: in grades.csv, in review.csv and in the summary
    assert rows["bob"]["lms_late"] == "1" and rows["alice"]["lms_late"] == "0"
    with open(exports / "review.csv", newline="") as f:
        late = [r for r in csv.DictReader(f) if r["reason"] == "late"]
    assert [(r["student"], r["message"]) for r in late] == [
        ("bob", "Canvas marked it late; no penalty: no late penalty method is set "
                "(c.LateSubmissionPlugin.penalty_method)")], late
    assert "1 late submission(s) without a penalty (no late penalty method is set" in exported, exported
    # the LMS's prefix is not a rename: only dana's file had another name
    flags = {s: [f["code"] for e in json.loads((course["root"] / "autograded" / s / ASSIGNMENT / "grading.json")
                                               .read_text())["notebooks"].values() for f in e["flags"]]
             for s in ("alice", "bob", "carol", "dana")}
    assert [s for s, codes in flags.items() if "renamed_notebook" in codes] == ["dana"], flags


def test_deadlines_penalties_and_extensions_in_every_export(course):
    """Due date in the gradebook, nbgrader's "zero" penalty from the user's config, a grace period,
    and an extension for carol: the course's export and stock ``nbgrader export`` agree."""
    from nbgrader.api import Gradebook

    root = course["root"]
    db = f"sqlite:///{root / '.nbgrader' / 'gradebook.db'}"
    with Gradebook(db, "dlnlp") as gb:          # as `nbgrader db assignment add fx_ops --duedate=...`
        gb.update_or_create_assignment(ASSIGNMENT, duedate=datetime(2024, 5, 1, 11, 0, 0))
    (root / "extensions.csv").write_text("student,assignment,extension\ncarol,fx_ops,2h\n")
    zero = _config(course["tmp"] / "zero", 'c.LateSubmissionPlugin.penalty_method = "zero"\n'
                                            "c.Deadlines.grace_minutes = 30\n")
    _run("export", "--root", str(root), config=zero)
    rows = _grades(course)
    assert {s: float(r["score"]) for s, r in rows.items()} == \
        {"alice": 0.0, "bob": 0.0, "carol": 65.0, "dana": 0.0, "frank": 0.0}, rows
    assert float(rows["alice"]["raw_score"]) == 100 and float(rows["alice"]["late_penalty"]) == 100
    assert rows["alice"]["seconds_late"] == "3600" and rows["carol"]["seconds_late"] == "0"
    # stock nbgrader reads the same gradebook (the penalties were written back) and gives the same scores
    nb_csv = course["tmp"] / "nbgrader_grades.csv"
    _run("export", f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url={db}", f"--to={nb_csv}",
         config=zero, cmd=[str(Path(sys.executable).parent / "nbgrader")], cwd=course["tmp"])
    with open(nb_csv, newline="") as f:
        stock = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert stock == {s: float(r["score"]) for s, r in rows.items()}, stock
    # a grace period longer than the delay: no penalty, at the next export
    grace = _config(course["tmp"] / "grace", 'c.LateSubmissionPlugin.penalty_method = "zero"\n'
                                              "c.Deadlines.grace_minutes = 90\n")
    _run("export", "--root", str(root), config=grace)
    assert float(_grades(course)["alice"]["score"]) == 100


def test_a_grader_that_cannot_start_a_kernel_stops_at_calibration(course):
    """A kernel that cannot start (here: a memory cap too small to import the course) must not give
    every student 0 with exit status 0: calibration stops the batch and shows the kernel's error."""
    before = _grades(course)
    proc = _run("grade", "--root", str(course["root"]), "--force", "--workers", "1", "--memory", "40", ok=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    # the kernel either fails to start or, inside its control group's memory limit, dies on the first cell
    assert "calibration failed for fx_ops" in proc.stderr, proc.stderr
    assert "kernel_start_failed" in proc.stderr or "kernel_died" in proc.stderr, proc.stderr
    assert "Traceback" in proc.stderr or "error" in proc.stderr.lower(), proc.stderr     # the kernel's own words
    assert "grading 0 submission" not in proc.stdout and "[1/" not in proc.stdout, proc.stdout
    _run("export", "--root", str(course["root"]))
    assert {s: r["raw_score"] for s, r in _grades(course).items()} == {s: r["raw_score"] for s, r in before.items()}


def test_student_self_check(course, tmp_path):
    ready = tmp_path / f"{NOTEBOOK}.ipynb"
    ready.write_bytes(_notebook(course["released"], CORRECT))
    proc = _run("check", str(ready), "--release", str(course["released"]))
    assert "ready" in proc.stdout.lower(), proc.stdout

    broken = tmp_path / "broken" / f"{NOTEBOOK}.ipynb"
    broken.parent.mkdir()
    broken.write_bytes(_notebook(course["released"], CORRECT)[:500])
    proc = _run("check", str(broken), "--release", str(course["released"]), ok=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
