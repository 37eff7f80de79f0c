"""``python -m autograder roster FILE.csv``: the class list into nbgrader's gradebook.

Each row becomes a gradebook student (nbgrader's ``Student``: id, first and last name, email, LMS user
id), so that a student who submitted nothing gets 0 in ``export`` and a submitter who is not on the list
is flagged by ``collect`` and ``export``. The columns are nbgrader's own (``id, first_name, last_name,
email, lms_user_id``, as ``nbgrader db student import`` reads them) or those of a Canvas gradebook
export (``Student`` as ``Last, First``, ``ID`` = the Canvas user id, ``SIS Login ID`` = the student
id); the header decides. With a Canvas user id on the roster, ``collect`` files each Canvas submission
under the roster's id, whatever name Canvas gave the file.

Rows that are not students are skipped, and each is named: Canvas's ``Points Possible`` row, its test
student (``Student, Test``, the account *Student View* uses) and rows without a student id. From a
Canvas export, what ``canvas.csv`` must give back and the gradebook has no field for is kept beside the
gradebook (``.nbgrader/canvas_roster.json``): each student's ``SIS User ID`` and ``Section``, and each
assignment's column header (``01_backprop (501)``: Canvas fills an existing column only under its
header with the assignment id).
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from .collect import safe_id
from .gradebook import course_dir

__all__ = ["CANVAS_ROSTER", "canvas_columns", "import_roster", "read_canvas_roster", "read_roster"]

CANVAS_ROSTER = "canvas_roster.json"     # in the gradebook's folder .nbgrader/
_CANVAS_FIXED = {"student", "id", "sis user id", "sis login id", "section", "integration id", "root account"}

_ALIASES = {
    "id": ("id", "student_id", "student id", "username", "sis login id", "login", "login id"),
    "first_name": ("first_name", "first name", "firstname", "given name"),
    "last_name": ("last_name", "last name", "lastname", "surname", "family name"),
    "email": ("email", "email address", "e-mail"),
    "lms_user_id": ("lms_user_id", "lms user id", "canvas user id"),
}


def read_roster(path: Path, skipped: list[str] | None = None) -> list[dict]:
    """The students of the roster ``path``; each row that is not a student is described in ``skipped``."""
    skipped = skipped if skipped is not None else []
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return []
    header = {(k or "").strip().lower(): k for k in rows[0]}
    canvas = "sis login id" in header and "student" in header
    cols = {}
    for key, names in _ALIASES.items():
        for n in names:
            if n in header and not (canvas and key == "id" and n == "id"):
                cols[key] = header[n]
                break
    if canvas and "id" in header:
        cols["lms_user_id"] = header["id"]
    if "id" not in cols:
        raise SystemExit(f"{path}: no student id column (id, student_id, username or SIS Login ID)")
    out = []
    for n, row in enumerate(rows, start=2):
        sid = (row.get(cols["id"]) or "").strip()
        shown = (row.get(header["student"]) or "").strip() if canvas else sid
        if sid.lower() == "points possible" or shown.lower().startswith("points possible"):
            continue          # Canvas's row of each assignment's points, not a person
        if canvas and shown.lower().replace(" ", "") in ("student,test", "teststudent"):
            skipped.append(f"line {n}: {shown!r} is Canvas's test student (Student View), not a member of the class")
            continue
        if not sid:
            skipped.append(f"line {n}: {shown or 'a row'!r} has no student id"
                           + (" (SIS Login ID)" if canvas else ""))
            continue
        rec = {k: (row.get(c) or "").strip() or None for k, c in cols.items() if k != "id"}
        if canvas and not (rec.get("first_name") or rec.get("last_name")):
            last, _, first = (row.get(header["student"]) or "").partition(",")
            rec["last_name"], rec["first_name"] = last.strip() or None, first.strip() or None
        out.append({"id": safe_id(sid), **rec})
    return out


def canvas_columns(path: Path) -> dict:
    """From a Canvas gradebook export: ``{"students": {id: {"sis_user_id", "section"}}, "assignments":
    {name: header}}``, where ``name`` is the header without Canvas's `` (assignment id)``. Empty when the
    file is not a Canvas export."""
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    header = {(k or "").strip().lower(): k for k in (rows[0] if rows else {})}
    if not ("sis login id" in header and "student" in header):
        return {}
    students = {}
    for row in rows:
        sid = (row.get(header["sis login id"]) or "").strip()
        if sid:
            students[safe_id(sid)] = {"sis_user_id": (row.get(header.get("sis user id", "")) or "").strip(),
                                      "section": (row.get(header.get("section", "")) or "").strip()}
    assignments = {}
    for low, original in header.items():
        if low in _CANVAS_FIXED or "(" not in original:
            continue
        m = re.match(r"^(.*\S)\s*\((\d+)\)$", original.strip())
        if m:
            assignments[m.group(1)] = original.strip()
    return {"students": students, "assignments": assignments}


def read_canvas_roster(cfg) -> dict:
    """What :func:`import_roster` kept of a Canvas export (empty without one)."""
    cd = course_dir(cfg)
    try:
        return json.loads((Path(cd.root) / ".nbgrader" / CANVAS_ROSTER).read_text())
    except (OSError, ValueError):
        return {}


def import_roster(cfg, path: Path, log=print) -> dict:
    from nbgrader.api import Gradebook

    cd = course_dir(cfg)
    skipped: list[str] = []
    students = read_roster(path, skipped)
    for line in skipped:
        log(f"roster: skipped {line}")
    canvas = canvas_columns(path)
    if canvas:
        folder = Path(cd.root) / ".nbgrader"
        folder.mkdir(exist_ok=True)
        (folder / CANVAS_ROSTER).write_text(json.dumps(canvas, indent=1, sort_keys=True) + "\n")
    with Gradebook(cd.db_url, cd.course_id) as gb:
        before = {s.id for s in gb.students}
        for s in students:
            gb.update_or_create_student(s["id"], **{k: v for k, v in s.items() if k != "id" and v is not None})
        listed = {s["id"] for s in students}
        extra = sorted(before - listed)
    log(f"roster: {len(students)} student(s) in the gradebook ({len(listed - before)} new)"
        + (f"; in the gradebook but not on this roster: {', '.join(extra)}" if extra else ""))
    return {"students": sorted(listed), "not_on_roster": extra, "skipped": skipped}


