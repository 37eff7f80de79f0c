"""``python -m autograder roster FILE.csv``: the class list into nbgrader's gradebook.

Each row becomes a gradebook student (nbgrader's ``Student``: id, first and last name, email, LMS user
id), so that a student who submitted nothing gets 0 in ``export`` and a submitter who is not on the list
is flagged by ``collect`` and ``export``. The columns are nbgrader's own (``id, first_name, last_name,
email, lms_user_id``, as ``nbgrader db student import`` reads them) or those of a Canvas gradebook
export (``Student`` as ``Last, First``, ``ID`` = the Canvas user id, ``SIS Login ID`` = the student
id); the header decides. With a Canvas user id on the roster, ``collect`` files each Canvas submission
under the roster's id, whatever name Canvas gave the file.
"""
from __future__ import annotations

import csv
from pathlib import Path

from .collect import safe_id
from .gradebook import course_dir

__all__ = ["read_roster", "import_roster",]

_ALIASES = {
    "id": ("id", "student_id", "student id", "username", "sis login id", "login", "login id"),
    "first_name": ("first_name", "first name", "firstname", "given name"),
    "last_name": ("last_name", "last name", "lastname", "surname", "family name"),
    "email": ("email", "email address", "e-mail"),
    "lms_user_id": ("lms_user_id", "lms user id", "canvas user id"),
}


def read_roster(path: Path) -> list[dict]:
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
    for row in rows:
        sid = (row.get(cols["id"]) or "").strip()
        if not sid or sid.lower() == "points possible" or (canvas and (row.get(header["student"]) or "").strip()
                                                            .lower().startswith("points possible")):
            continue
        rec = {k: (row.get(c) or "").strip() or None for k, c in cols.items() if k != "id"}
        if canvas and not (rec.get("first_name") or rec.get("last_name")):
            last, _, first = (row.get(header["student"]) or "").partition(",")
            rec["last_name"], rec["first_name"] = last.strip() or None, first.strip() or None
        out.append({"id": safe_id(sid), **rec})
    return out


def import_roster(cfg, path: Path, log=print) -> dict:
    from nbgrader.api import Gradebook

    cd = course_dir(cfg)
    students = read_roster(path)
    with Gradebook(cd.db_url, cd.course_id) as gb:
        before = {s.id for s in gb.students}
        for s in students:
            gb.update_or_create_student(s["id"], **{k: v for k, v in s.items() if k != "id" and v is not None})
        listed = {s["id"] for s in students}
        extra = sorted(before - listed)
    log(f"roster: {len(students)} student(s) in the gradebook ({len(listed - before)} new)"
        + (f"; in the gradebook but not on this roster: {', '.join(extra)}" if extra else ""))
    return {"students": sorted(listed), "not_on_roster": extra}


