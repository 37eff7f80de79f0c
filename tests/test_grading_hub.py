"""The course on a JupyterHub-style nbgrader exchange, end to end on a real notebook (01_backprop).

A temporary course folder is laid out as a fresh clone (the course's two ``nbgrader_config.py`` files,
``solutions/01_backprop/``, no ``.nbgrader/``); a system-wide nbgrader config (``JUPYTER_CONFIG_PATH``,
as ``/etc/jupyter`` on a hub) names the course, the shared exchange and the "zero" late penalty. Every
step is the command the docs give, each in its own process, as the instructor or as a student (its own
home folder and user name):

stock ``nbgrader generate_assignment --force`` and ``db assignment add --duedate``, ``release_assignment``;
students ``fetch_assignment`` and ``submit`` (with ``--student``, since every user here is one login; one
solves it, one hands in the untouched notebook, one solves it after the due date); ``roster``;
``nbgrader collect``; ``python -m autograder grade`` and ``feedback``; ``nbgrader release_feedback`` and
the students' ``fetch_feedback``; ``python -m autograder export`` with an extension and the penalty,
compared with stock ``nbgrader export``.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.xdist_group("grading")

REPO = Path(__file__).resolve().parents[1]
NAME = "01_backprop"
BIN = Path(sys.executable).parent


class Hub:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.course = tmp / "course"
        self.exchange = tmp / "srv" / "exchange"
        self.etc = tmp / "etc" / "jupyter"

    def env(self, user: str) -> dict:
        home = self.tmp / "home" / user
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NBGRADER_", "JUPYTER_"))}
        env.update(HOME=str(home), USER=user, LOGNAME=user, JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
                   JUPYTER_CONFIG_PATH=str(self.etc), JUPYTER_DATA_DIR=str(home / ".local" / "jupyter"),
                   JUPYTER_RUNTIME_DIR=str(home / ".local" / "runtime"),
                   PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""))
        return env

    def run(self, user: str, *cmd: str, cwd: Path | None = None, ok: bool = True) -> subprocess.CompletedProcess:
        if cmd[0] == "nbgrader":
            cmd = (str(BIN / "nbgrader"),) + cmd[1:]
        elif cmd[0] == "autograder":
            cmd = (sys.executable, "-m", "autograder") + cmd[1:]
        proc = subprocess.run(cmd, cwd=cwd or (self.tmp / "home" / user), env=self.env(user), text=True,
                              capture_output=True, timeout=900)
        if ok:
            assert proc.returncode == 0, \
                f"{user}: {' '.join(cmd)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def instructor(self, *cmd: str, **kw) -> subprocess.CompletedProcess:
        return self.run("instructor", *cmd, cwd=kw.pop("cwd", self.course), **kw)


def _solve(student_nb: Path, solution_nb: Path) -> None:
    """Answer every exercise with the instructor's solution (markers dropped), as a good student would."""
    sol = nbformat.read(str(solution_nb), as_version=4)
    answers = {}
    for cell in sol.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade"):
            answers[meta["grade_id"]] = "\n".join(line for line in cell.source.splitlines()
                                                  if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    nb = nbformat.read(str(student_nb), as_version=4)
    filled = 0
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
            filled += 1
    assert filled == len(answers) > 0
    nbformat.write(nb, str(student_nb))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp("hub"))
    # a fresh clone: configs, the solution, the released notebook, and no .nbgrader/
    (h.course / "autograder").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", h.course / "nbgrader_config.py")
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", h.course / "autograder" / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / NAME, h.course / "solutions" / NAME)
    shutil.copytree(REPO / "notebooks" / NAME, h.course / "notebooks" / NAME)
    h.exchange.mkdir(parents=True)
    os.chmod(h.exchange, 0o1777)
    h.etc.mkdir(parents=True)
    (h.etc / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        'c.CourseDirectory.course_id = "dlnlp"\n'
        f'c.Exchange.root = "{h.exchange}"\n'
        'c.LateSubmissionPlugin.penalty_method = "zero"\n')
    return h


def test_release_collect_grade_feedback_penalty_export_on_a_hub(hub):
    h = hub
    assert not (h.course / ".nbgrader").exists()
    # instructor: stock nbgrader generates and releases into the hub's exchange
    h.instructor("nbgrader", "generate_assignment", NAME, "--force")
    assert (h.course / ".nbgrader" / "gradebook.db").is_file()
    assert (h.course / "notebooks" / NAME / f"{NAME}.ipynb").is_file()
    due = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    h.instructor("nbgrader", "db", "assignment", "add", NAME, f"--duedate={due:%Y-%m-%d %H:%M:%S} UTC")
    h.instructor("nbgrader", "release_assignment", NAME)
    assert (h.exchange / "dlnlp" / "outbound" / NAME / f"{NAME}.ipynb").is_file()
    assert not (h.course / ".nbgrader" / "exchange").exists(), "the course config replaced the hub's exchange"

    # students: fetch, work, submit from their own home folders
    for student in ("alice", "bob", "carol"):
        h.run(student, "nbgrader", "fetch_assignment", NAME, "--course", "dlnlp")
        nb = h.tmp / "home" / student / NAME / f"{NAME}.ipynb"
        assert nb.is_file()
        if student != "bob":
            _solve(nb, h.course / "solutions" / NAME / f"{NAME}.ipynb")
        # on a hub the user name is the login's; here every "user" is one account, so it is given
        h.run(student, "nbgrader", "submit", NAME, "--course", "dlnlp", f"--student={student}")
    assert len(list((h.exchange / "dlnlp" / "inbound").iterdir())) == 3

    # the class list (dave submits nothing) and alice's extension
    roster = h.tmp / "roster.csv"
    roster.write_text("id,first_name,last_name,email,lms_user_id\n"
                      "alice,Alice,Liddell,alice@example.org,\nbob,Bob,Builder,bob@example.org,\n"
                      "carol,Carol,Jones,carol@example.org,\ndave,Dave,Doe,dave@example.org,\n")
    h.instructor("autograder", "roster", str(roster), "--root", str(h.course), cwd=REPO)
    (h.course / "extensions.csv").write_text(f"student,assignment,extension\nalice,{NAME},1d\n")

    h.instructor("nbgrader", "collect", NAME)
    for student in ("alice", "bob", "carol"):
        assert (h.course / "submitted" / student / NAME / f"{NAME}.ipynb").is_file()
        assert (h.course / "submitted" / student / NAME / "timestamp.txt").is_file()

    graded = h.instructor("autograder", "grade", NAME, "--root", str(h.course), "--workers", "2", cwd=REPO).stdout
    assert f"{NAME}: " in graded and "graded 3 submission(s)" in graded, graded

    h.instructor("autograder", "feedback", NAME, "--root", str(h.course), cwd=REPO)
    h.instructor("nbgrader", "release_feedback", NAME)
    for student in ("alice", "bob", "carol"):
        h.run(student, "nbgrader", "fetch_feedback", NAME, "--course", "dlnlp", f"--student={student}")
        pages = list((h.tmp / "home" / student / NAME / "feedback").glob(f"*/{NAME}.html"))
        assert len(pages) == 1, (student, pages)
        assert "BEGIN HIDDEN TESTS" not in pages[0].read_text(encoding="utf-8")

    h.instructor("autograder", "export", "--root", str(h.course), cwd=REPO)
    with open(h.course / "exports" / "grades.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    got = {s: (float(r["raw_score"]), float(r["late_penalty"]), float(r["score"]), r["submitted"])
           for s, r in rows.items()}
    assert got == {"alice": (100.0, 0.0, 100.0, "1"),      # on time with her extension
                   "bob": (0.0, 0.0, 0.0, "1"),            # the untouched notebook
                   "carol": (100.0, 100.0, 0.0, "1"),      # late: the hub's "zero" penalty
                   "dave": (0.0, 0.0, 0.0, "0")}, got      # on the roster, nothing submitted
    assert all(r["on_roster"] == "1" for r in rows.values())

    # stock nbgrader export on the same gradebook gives the same scores
    h.instructor("nbgrader", "export", f"--to={h.tmp / 'nbgrader_grades.csv'}")
    with open(h.tmp / "nbgrader_grades.csv", newline="") as f:
        stock = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert stock == {s: v[2] for s, v in got.items()}, stock
