"""The grader against adversarial submissions (``tests/adversarial/cases.py``), graded in one batch.

Each case must get its correct grade (zero for every cheat) or be flagged for review, no case may
stop the batch, and no case may change another student's grade, the gradebook, or another student's
files. The batch also exercises the whole instructor path: calibration, grading with two workers,
the gradebook record, resuming, feedback without hidden tests, and the export.
"""
from __future__ import annotations

import ctypes
import json
import os
import time

import pytest
from adversarial.cases import CASES, NOTEBOOK, Ctx
from adversarial.support import ASSIGNMENT, Listener, make_course

from autograder.grading.batch.feedback import generate_all, hidden_lines
from autograder.grading.batch.gradebook import assignment_spec, course_dir
from autograder.grading.batch.grading import grade_all
from autograder.grading.model import Limits

pytestmark = pytest.mark.xdist_group("grading")

PR_SET_CHILD_SUBREAPER = 36

# The suite runs at the strongest isolation the machine offers; GRADER_ISOLATION=landlock or process
# forces a weaker level (every case must still get its grade there).
ISOLATION = os.environ.get("GRADER_ISOLATION", "auto")

LIMITS = Limits(cell_timeout=6, notebook_timeout=150, memory_mb=1536, threads=1, file_size_mb=64)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    # Orphans of the grader's processes are re-parented to this process (Linux >= 3.4), so that
    # test_no_process_outlives_the_batch can find them among its descendants.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    tmp = tmp_path_factory.mktemp("adversarial")
    root = tmp / "course"
    cfg = make_course(root)
    listener = Listener()
    canary = root / "private" / "canary.txt"
    canary.parent.mkdir()
    canary.write_text("canary")
    ctxs = {}
    for case in CASES:
        ctx = Ctx(released=root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
                  folder=root / "submitted" / case.name / ASSIGNMENT, gradebook=root / ".nbgrader" / "gradebook.db",
                  solution=root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", course_root=root,
                  canary=canary, port=listener.port)
        case.make(ctx)
        ctxs[case.name] = ctx
    log: list[str] = []
    start = time.perf_counter()
    summary = grade_all(cfg, workers=2, limits=LIMITS, isolation=ISOLATION, log=log.append)
    seconds = time.perf_counter() - start
    results = {}
    for path in (root / "autograded").glob(f"*/{ASSIGNMENT}/grading.json"):
        rec = json.loads(path.read_text())
        nb_path = path.parent / f"{NOTEBOOK}.ipynb"
        rec["notebooks"][NOTEBOOK]["autograded"] = nb_path.read_text() if nb_path.exists() else None
        results[rec["student"]] = rec
    yield {"cfg": cfg, "root": root, "results": results, "summary": summary, "log": log, "ctxs": ctxs,
           "listener": listener, "seconds": seconds}
    listener.close()


def _codes(rec: dict) -> set[str]:
    return {f["code"] for e in rec["notebooks"].values() for f in e["flags"]}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gets_its_grade(batch, case):
    rec = batch["results"].get(case.name)
    assert rec is not None, f"{case.name} was not graded:\n" + "\n".join(batch["log"])
    detail = json.dumps({k: v for k, v in rec["notebooks"][NOTEBOOK].items() if k != "autograded"}, indent=1)[:4000]
    assert rec["score"] == case.score, f"{case.name} ({case.what}): {rec['score']} != {case.score}\n{detail}"
    assert rec["max_score"] == 100, f"{case.name}: the maximum score changed to {rec['max_score']}"
    missing = set(case.flags) - _codes(rec)
    assert not missing, f"{case.name}: flags {missing} were not raised; got {_codes(rec)}"
    if case.review is not None:
        assert rec["needs_review"] == case.review, f"{case.name}: needs_review={rec['needs_review']}\n{detail}"
    assert not {"grader_error", "grader_crash", "job_timeout"} & _codes(rec), detail
    if case.check is not None:
        case.check(rec, batch["ctxs"][case.name])


def test_batch_completed(batch):
    assert batch["summary"]["graded"] == len(CASES), "\n".join(batch["log"])
    print(f"graded {len(CASES)} adversarial submissions in {batch['seconds']:.0f} s "
          f"(isolation: {batch['summary']['isolation']})")


def test_every_test_cell_is_sealed(batch):
    report = json.loads((batch["root"] / "autograded" / ".calibration" / f"{ASSIGNMENT}.json").read_text())
    assert report["unsealed"] == {NOTEBOOK: []}
    assert report["score"] == report["max_score"] == 100


def test_gradebook_holds_the_grades(batch):
    from nbgrader.api import Gradebook

    cd = course_dir(batch["cfg"])
    with Gradebook(cd.db_url) as gb:
        for name, rec in batch["results"].items():
            sub = gb.find_submission(ASSIGNMENT, name)
            assert sub.score == rec["score"], name
            assert sub.max_score == 100
            assert any(nb.flagged for nb in sub.notebooks) == rec["needs_review"], name
        assert {s.id for s in gb.students} == {c.name for c in CASES}


def test_no_connection_reached_the_test_server(batch):
    assert batch["listener"].accepted == 0


def _descendants(root_pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [root_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def test_no_process_outlives_the_batch(batch):
    """No kernel, tester or zygote of the batch is left running. The test process is a child
    subreaper (see the fixture), so a process orphaned by the grader would be one of its descendants;
    processes of tests running beside it on other pytest workers are not."""
    stray = []
    for pid in _descendants(os.getpid()):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")[:120]
        except OSError:
            continue
        if "/ag-sub-" in cwd or "/ag-tester-" in cwd or "/ag-kz-" in cwd or "autograder.grading" in cmdline:
            stray.append((pid, cwd, cmdline))
    assert not stray, stray


def test_grading_another_student_alone_gives_the_same_grade(batch):
    """A student's grade does not depend on who was graded beside them."""
    log: list[str] = []
    summary = grade_all(batch["cfg"], students=["correct", "partial"], workers=1, limits=LIMITS,
                        isolation=ISOLATION, force=True, log=log.append)
    assert summary["graded"] == 2, log
    for name in ("correct", "partial"):
        rec = json.loads((batch["root"] / "autograded" / name / ASSIGNMENT / "grading.json").read_text())
        assert rec["score"] == batch["results"][name]["score"]


def test_a_result_of_another_engine_version_is_regraded(batch, monkeypatch):
    """Resuming skips a submission only when its files, assignment, limits, isolation and the engine's
    version are those it was graded with: a result of an older engine is graded again."""
    from autograder.grading import model
    from autograder.grading.batch import calibration, grading

    root = batch["root"]
    report = json.loads((root / "autograded" / ".calibration" / f"{ASSIGNMENT}.json").read_text())
    spec = calibration.apply_calibration(assignment_spec(batch["cfg"], ASSIGNMENT), report)
    folder = root / "submitted" / "partial" / ASSIGNMENT
    level = batch["summary"]["isolation"]
    stored = batch["results"]["partial"]["input_hash"]
    assert grading.input_hash(folder, spec, LIMITS, level) == stored
    monkeypatch.setattr(grading, "ENGINE_VERSION", "1.0")
    monkeypatch.setattr(model, "ENGINE_VERSION", "1.0")
    assert grading.input_hash(folder, spec, LIMITS, level) != stored


def test_resume_skips_graded_submissions(batch):
    log: list[str] = []
    summary = grade_all(batch["cfg"], workers=2, limits=LIMITS, isolation=ISOLATION, log=log.append)
    assert summary["graded"] == 0 and summary["skipped"] == len(CASES), log


def test_feedback_never_shows_hidden_tests(batch):
    cfg = batch["cfg"]
    pages = generate_all(cfg, log=lambda *a: None)
    assert len(pages) == len(CASES)
    spec = assignment_spec(cfg, ASSIGNMENT).notebooks[0]
    secret = hidden_lines(spec)
    assert secret, "the fixture has hidden tests"
    for page in pages:
        text = page.read_text()
        for line in secret:
            assert line not in text, f"{page}: hidden test line {line!r} in the feedback"
        assert "Score:" in text
    correct = (batch["root"] / "feedback" / "correct" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "100 / 100" in correct and "Hidden tests passed." in correct


def test_export_writes_the_gradebook(batch):
    import csv

    from autograder.grading.batch.export import export_all

    paths = export_all(batch["cfg"], log=lambda *a: None)
    rows = list(csv.DictReader(paths["grades"].open()))
    assert len(rows) == len(CASES)
    by_student = {r["student"]: float(r["score"]) for r in rows}
    assert by_student["correct"] == 100 and by_student["wrong"] == 0 and by_student["partial"] == 35
    ex = {r["exercise"]: r for r in csv.DictReader(paths["exercises"].open())}
    assert set(ex) == {"ex1", "ex2", "ex3", "ex4"}
    assert float(ex["ex3"]["max_points"]) == 35
    assert paths["plot"].stat().st_size > 5000
    wide = list(csv.DictReader(paths["grades_wide"].open()))
    assert {r["student"] for r in wide} == {c.name for c in CASES}
    # every review flag of every graded submission is listed for the instructor, with its message
    listed = {(r["student"], r["reason"], r["message"]) for r in csv.DictReader(paths["review"].open())}
    expected = {(name, f["code"], f["message"][:2000]) for name, rec in batch["results"].items()
                for e in rec["notebooks"].values() for f in e["flags"] if f["level"] == "review"}
    assert expected and expected <= listed, sorted(expected - listed)[:5]
    assert {name for name, rec in batch["results"].items() if rec["needs_review"]} == \
        {s for s, reason, _ in listed if reason != "similar_answers"}
