"""``python -m autograder export``: the gradebook as CSV, LMS grade files, a per-exercise summary and a plot.

Writes into ``--out`` (default ``<course>/exports/``), for the assignments handed out (a due date in
the gradebook, or at least one submission; ``export NAME ...`` names them instead), so assignments
released but never handed out count in no total:

``grades.csv``
    one row per student and assignment: the raw score, the late penalty, the score (raw minus
    penalty, as ``nbgrader export`` computes it), max score, percent, submission time, due date
    (with the student's extension), seconds late, whether a notebook is flagged for review or needs
    manual grading, whether the student is on the roster, the LMS user id, and whether the LMS marked
    the submission late (``lms_late``: Canvas's ``LATE`` in the file name);
``grades_wide.csv``
    one row per student, one column per assignment (after penalties), and the course total;
``canvas.csv``
    Canvas's gradebook import format (``Student, ID, SIS User ID, SIS Login ID, Section``, then one
    column per assignment, and a ``Points Possible`` row): ``ID`` is the Canvas user id ``collect``
    read from the download (or the roster's ``lms_user_id``); with a Canvas gradebook export as the
    roster, each assignment's column has that export's header (``01_backprop (501)``: Canvas fills an
    existing column only when the header carries its assignment id) and ``SIS User ID`` and
    ``Section`` are the roster's;
``moodle_<assignment>.csv``
    Moodle's assignment grading worksheet (``Identifier`` is ``Participant <id>``, the id in Moodle's
    download folder names; ``Grade``; and ``Last modified (grade)``, the export's time, which Moodle's
    importer requires; *Assignment > Upload grading worksheet*), for the assignments collected from
    Moodle;
``exercises.csv``
    per assignment and exercise (``ex1``, ``ex2`` ... from the cell ids): points, submissions, mean,
    median, min, max, and the share of students with full and with zero marks (raw scores);
``review.csv``
    what a human should look at, one row per reason: every review flag of a graded submission (its
    code, cell and message, from ``autograded/<student>/<assignment>/grading.json``), every pair of
    students whose answers to an exercise match (``similar_answers``, with the other student and the
    similarity score and the group of students with nearly the same answer it belongs to, from
    ``autograded/.similarity/<assignment>.json``; one row a pair), a submission flagged in the
    gradebook by hand (``flagged_in_gradebook``), and
    every file ``collect`` refused (``quarantined``, with its reason, from ``submitted/.collect.csv``),
    and every late submission that got no penalty or that the LMS marked late (``late``, saying why:
    no penalty method, the grace period, no due date);
    text that a spreadsheet would run as a formula is quoted;
``score_distribution.png``
    a histogram of students' course totals (percent) and a box plot per assignment.

Deadlines are applied at every export, from nbgrader's own settings: the assignment's due date in the
gradebook (``nbgrader db assignment add NAME --duedate=...``), the penalty of nbgrader's
``LateSubmissionPlugin.penalty_method`` (or the plugin ``AssignLatePenalties.plugin_class`` names), read
from nbgrader's config search path as nbgrader reads it (``/etc/jupyter``, ``~/.jupyter``, the course's
``nbgrader_config.py``), a grace period ``c.Deadlines.grace_minutes``, and per-student extensions from
the gradebook or ``extensions.csv`` in the course folder (``c.Deadlines.extensions_file``; columns
``student, assignment, extension`` such as ``2d``, ``36h``, ``90m``, or ``due`` for a new due date). The
penalties are written back to the gradebook, so ``nbgrader export`` and the formgrader give the same
scores. Everything else is read from the gradebook, so hand grades entered in the formgrader are
included.
"""
from __future__ import annotations

import csv
import json
import re
import statistics
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .gradebook import course_dir

__all__ = ["collect_rows", "review_rows", "export_all", "apply_deadlines", "read_extensions",]


def _exercise(grade_id: str) -> str:
    m = re.match(r"^(ex\d+)_", grade_id or "")
    return m.group(1) if m else grade_id


def _setting(cfg, key: str, default):
    try:
        section = cfg["Deadlines"]
        return section[key] if key in section else default
    except KeyError:
        return default


def _penalty_method(cfg) -> str:
    """nbgrader's late penalty method as configured ("none" unless a config sets one; "plugin" when
    ``AssignLatePenalties.plugin_class`` names another plugin)."""
    from nbgrader.preprocessors import AssignLatePenalties

    pre = AssignLatePenalties(config=cfg)
    pre.init_plugin()
    return str(getattr(pre.plugin_inst, "penalty_method", "plugin"))


_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(w|d|h|m|min|minutes?|hours?|days?|weeks?)\s*$", re.I)


def _span(text: str) -> timedelta:
    m = _SPAN.match(text or "")
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 2d, 36h, 90m)")
    n, unit = float(m.group(1)), m.group(2).lower()
    unit = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "min": "minutes"}.get(unit, unit)
    unit = unit if unit.endswith("s") else unit + "s"
    return timedelta(**{unit: n})


def _utc(d: datetime | None) -> datetime | None:
    if d is None:
        return None
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d.astimezone(timezone.utc)


def read_extensions(cfg) -> dict[tuple[str, str], tuple[timedelta | None, datetime | None]]:
    """``(student, assignment) -> (extension, new due date)`` from the course's extensions file."""
    from .collect import parse_ts

    cd = course_dir(cfg)
    path = Path(_setting(cfg, "extensions_file", "extensions.csv"))
    path = path if path.is_absolute() else Path(cd.root) / path
    out = {}
    if not path.is_file():
        return out
    with path.open(newline="", encoding="utf-8-sig") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            student, assignment = row.get("student", ""), row.get("assignment", "")
            if not student or not assignment:
                raise ValueError(f"{path}:{n}: a row needs a student and an assignment")
            ext = _span(row["extension"]) if row.get("extension") else None
            due = parse_ts(row["due"]) if row.get("due") else None
            if row.get("due") and due is None:
                raise ValueError(f"{path}:{n}: not a date: {row['due']!r}")
            out[(student, assignment)] = (ext, due)
    return out


def apply_deadlines(cfg, log=print) -> dict[tuple[str, str], dict]:
    """Recompute every submission's late penalty in the gradebook (see the module docstring)."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties

    cd = course_dir(cfg)
    grace = timedelta(minutes=float(_setting(cfg, "grace_minutes", 0) or 0))
    extensions = read_extensions(cfg)
    pre = AssignLatePenalties(config=cfg)
    pre.init_plugin()
    plugin = pre.plugin_inst
    plugin.log.setLevel("WARNING")
    out: dict[tuple[str, str], dict] = {}
    with Gradebook(cd.db_url, cd.course_id) as gb:
        for a in gb.assignments:
            for sub in a.submissions:
                student = sub.student.id
                ext, due = extensions.get((student, a.name), (None, None))
                if due is not None and a.duedate is not None:
                    ext = due - _utc(a.duedate)
                elif due is not None:
                    ext = None
                if ext is not None and sub.extension != ext:
                    sub.extension = ext
                deadline = _utc(due) or (_utc(a.duedate) + (sub.extension or timedelta()) if a.duedate else None)
                ts = _utc(sub.timestamp)
                late = max(0.0, (ts - deadline).total_seconds()) if ts and deadline else 0.0
                counted = late if late > grace.total_seconds() else 0.0
                for nb in sub.notebooks:
                    penalty = None
                    if counted > 0:
                        penalty = plugin.late_submission_penalty(student, nb.score, counted)
                        if penalty is not None:
                            penalty = min(max(0.0, float(penalty)), float(nb.score))
                    nb.late_submission_penalty = penalty
                out[(student, a.name)] = {"duedate": deadline, "seconds_late": late, "late": counted > 0}
        gb.db.commit()
    return out


def _lms_ids(cfg) -> dict[tuple[str, str], dict]:
    """``(student, assignment) -> {layout, lms_user_id}`` as ``collect`` recorded them."""
    cd = course_dir(cfg)
    base = Path(cd.root) / cd.submitted_directory
    out = {}
    for meta in base.glob("*/*/collect.json"):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        for entry in data.values():
            if isinstance(entry, dict) and entry.get("lms_user_id"):
                key = (meta.parent.parent.name, meta.parent.name)
                late = bool(entry.get("lms_late")) or bool((out.get(key) or {}).get("lms_late"))
                out[key] = {"layout": entry.get("layout"), "lms_user_id": str(entry["lms_user_id"]),
                            "lms_late": late}
    return out


def handed_out(cfg, names: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(assignments to export, assignments left out): those named, else those handed out, i.e. with a
    due date in the gradebook or with at least one submission (a release alone hands nothing out)."""
    from nbgrader.api import Gradebook

    from ...release import handed_out as handed_out_in

    cd = course_dir(cfg)
    with Gradebook(cd.db_url, cd.course_id) as gb:
        out = handed_out_in(gb)
        every = {a.name: a.name in out for a in gb.assignments}
    if names:
        unknown = sorted(set(names) - set(every))
        if unknown:
            raise SystemExit(f"not in the gradebook: {', '.join(unknown)}")
        chosen = sorted(set(names))
    else:
        chosen = sorted(a for a, out in every.items() if out)
    return chosen, sorted(set(every) - set(chosen))


def collect_rows(cfg, deadlines: dict | None = None, only: list[str] | None = None
                 ) -> tuple[list[dict], list[dict], dict[str, dict]]:
    """(per submission rows, per grade-cell rows, students) from the gradebook, for the assignments
    ``only`` (default: every assignment handed out, :func:`handed_out`)."""
    from nbgrader.api import Gradebook, MissingEntry

    cd = course_dir(cfg)
    deadlines = deadlines or {}
    only = set(only if only is not None else handed_out(cfg)[0])
    subs, cells, people = [], [], {}
    with Gradebook(cd.db_url, cd.course_id) as gb:
        assignments = sorted((a for a in gb.assignments if a.name in only), key=lambda a: a.name)
        roster = any(s.first_name or s.last_name or s.email for s in gb.students)
        for student in sorted(gb.students, key=lambda s: s.id):
            people[student.id] = {"first_name": student.first_name or "", "last_name": student.last_name or "",
                                  "email": student.email or "", "lms_user_id": student.lms_user_id or "",
                                  "on_roster": (bool(student.first_name or student.last_name or student.email)
                                                if roster else None)}
            for a in assignments:
                base = {"student": student.id, "assignment": a.name, "max_score": float(a.max_score),
                        "duedate": str(_utc(a.duedate) or ""), "seconds_late": 0.0,
                        "on_roster": people[student.id]["on_roster"]}
                try:
                    sub = gb.find_submission(a.name, student.id)
                except MissingEntry:
                    subs.append(dict(base, submitted=False, raw_score=0.0, score=0.0, timestamp="",
                                     late_penalty=0.0, flagged=False, needs_manual_grade=False))
                    continue
                info = deadlines.get((student.id, a.name), {})
                penalty = float(sub.late_submission_penalty or 0.0)
                raw = float(sub.score)
                subs.append(dict(base, submitted=True, raw_score=raw, score=max(0.0, raw - penalty),
                                 max_score=float(sub.max_score), timestamp=str(sub.timestamp or ""),
                                 late_penalty=penalty, duedate=str(info.get("duedate") or base["duedate"]),
                                 seconds_late=float(info.get("seconds_late", sub.total_seconds_late or 0.0)),
                                 flagged=any(nb.flagged for nb in sub.notebooks),
                                 needs_manual_grade=bool(sub.needs_manual_grade)))
                for nb in sub.notebooks:
                    for g in nb.grades:
                        cells.append({"student": student.id, "assignment": a.name, "notebook": nb.name,
                                      "grade_id": g.name, "exercise": _exercise(g.name),
                                      "score": float(g.score or 0.0), "max_score": float(g.max_score or 0.0)})
    return subs, cells, people


def _flag(v) -> str:
    return "" if v is None else str(int(bool(v)))


def export_all(cfg, out: Path | None = None, log=print, assignments: list[str] | None = None) -> dict[str, Path]:
    """Write every export file (see the module docstring) for ``assignments`` (default: every
    assignment handed out: with a due date or a submission)."""
    cd = course_dir(cfg)
    out = Path(out) if out else Path(cd.root) / "exports"
    out.mkdir(parents=True, exist_ok=True)
    deadlines = apply_deadlines(cfg, log)
    chosen, left_out = handed_out(cfg, assignments)
    if left_out:
        log(f"  exporting {', '.join(chosen) or 'no assignment'}; left out (not handed out: no due date and no "
            f"submission{'' if not assignments else ', or not named'}): {', '.join(left_out)}")
    subs, cells, people = collect_rows(cfg, deadlines, chosen)
    lms = _lms_ids(cfg)
    penalizing = _penalty_method(cfg) != "none"
    paths = {}

    p = out / "grades.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "submitted", "raw_score", "late_penalty", "score", "max_score",
                    "percent", "timestamp", "duedate", "seconds_late", "flagged", "needs_manual_grade",
                    "on_roster", "lms_user_id", "lms_late"])
        for r in subs:
            pct = 100 * r["score"] / r["max_score"] if r["max_score"] else 0.0
            got = lms.get((r["student"], r["assignment"])) or {}
            uid = got.get("lms_user_id") or people[r["student"]]["lms_user_id"]
            r["lms_late"] = bool(got.get("lms_late"))
            w.writerow([r["student"], r["assignment"], int(r["submitted"]), f"{r['raw_score']:g}",
                        f"{r['late_penalty']:g}", f"{r['score']:g}", f"{r['max_score']:g}", f"{pct:.1f}",
                        r["timestamp"], r["duedate"], f"{r['seconds_late']:.0f}", int(r["flagged"]),
                        int(r["needs_manual_grade"]), _flag(r["on_roster"]), uid, int(r["lms_late"])])
    paths["grades"] = p

    assignments = sorted({r["assignment"] for r in subs})
    students = sorted({r["student"] for r in subs})
    table = {(r["student"], r["assignment"]): r for r in subs}
    p = out / "grades_wide.csv"
    totals = {}
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student"] + assignments + ["total", "max_total", "percent"])
        for s in students:
            row = [table[(s, a)]["score"] for a in assignments]
            mx = sum(table[(s, a)]["max_score"] for a in assignments)
            tot = sum(row)
            totals[s] = 100 * tot / mx if mx else 0.0
            w.writerow([s] + [f"{v:g}" for v in row] + [f"{tot:g}", f"{mx:g}", f"{totals[s]:.1f}"])
    paths["grades_wide"] = p

    paths.update(_lms_files(out, subs, people, lms, assignments, students, log, cfg))

    # per exercise: each student's points summed over the exercise's test cells
    per_student: dict[tuple, float] = {}
    cell_max: dict[tuple, float] = {}
    for c in cells:
        key = (c["assignment"], c["exercise"], c["student"])
        per_student[key] = per_student.get(key, 0.0) + c["score"]
        cell_max[(c["assignment"], c["exercise"], c["grade_id"])] = c["max_score"]
    maxes: dict[tuple, float] = {}
    for (a, ex, _), m in cell_max.items():
        maxes[(a, ex)] = maxes.get((a, ex), 0.0) + m
    groups: dict[tuple, list[float]] = {}
    for (a, ex, _), v in per_student.items():
        groups.setdefault((a, ex), []).append(v)
    p = out / "exercises.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "exercise", "max_points", "submissions", "mean", "median", "min", "max",
                    "full_marks_pct", "zero_pct"])
        for (a, ex) in sorted(groups):
            vals = groups[(a, ex)]
            m = maxes[(a, ex)]
            w.writerow([a, ex, f"{m:g}", len(vals), f"{statistics.mean(vals):.2f}", f"{statistics.median(vals):.2f}",
                        f"{min(vals):g}", f"{max(vals):g}",
                        f"{100 * sum(v >= m for v in vals) / len(vals):.1f}",
                        f"{100 * sum(v == 0 for v in vals) / len(vals):.1f}"])
    paths["exercises"] = p

    p = out / "review.csv"
    reviews = review_rows(cfg, subs, penalizing)
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(REVIEW_HEADER)
        w.writerows([_cell(r.get(k, "")) for k in REVIEW_HEADER] for r in reviews)
    paths["review"] = p

    p = out / "score_distribution.png"
    _plot(totals, subs, assignments, p)
    paths["plot"] = p
    late = sum(1 for r in subs if r["late_penalty"] > 0)
    unpenalised = [r for r in subs if r["submitted"] and r["late_penalty"] == 0
                   and (r["seconds_late"] > 0 or r.get("lms_late"))]
    missing = sum(1 for r in subs if not r["submitted"])
    off = sorted({r["student"] for r in subs if r["on_roster"] is False})
    log(f"exported {len(students)} student(s) x {len(assignments)} assignment(s) to {out}"
        + f"; {late} late penalt{'y' if late == 1 else 'ies'} applied; {missing} missing submission(s) count 0")
    if unpenalised:
        why = ("no late penalty method is set (c.LateSubmissionPlugin.penalty_method)" if not penalizing
               else "within the grace period, or no due date in the gradebook")
        log(f"  {len(unpenalised)} late submission(s) without a penalty ({why}): "
            + ", ".join(f"{r['student']}/{r['assignment']}" for r in unpenalised))
    if off:
        log(f"  not on the roster (check them before importing into the LMS): {', '.join(off)}")
    if reviews:
        kinds: dict[str, int] = {}
        for r in reviews:
            kinds[r["reason"]] = kinds.get(r["reason"], 0) + 1
        pairs = kinds.get("similar_answers", 0)
        groups = len({(r["assignment"], r["cell"], r["group"]) for r in reviews if r["reason"] == "similar_answers"})
        log(f"  to review: {len({(r['student'], r['assignment']) for r in reviews if r['student']})} submission(s)"
            + (f", {groups} group(s) of similar answers ({pairs} pair(s))" if pairs else "")
            + (f", {kinds['quarantined']} file(s) refused by collect" if kinds.get("quarantined") else "")
            + f" (see {out / 'review.csv'})")
    return paths


REVIEW_HEADER = ["student", "assignment", "notebook", "reason", "cell", "other_student", "similarity", "group",
                 "message"]


def _cell(value) -> str:
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @`` or control character would make
    a student's file name or message a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") else text


def review_rows(cfg, subs: list[dict] | None = None, penalizing: bool | None = None) -> list[dict]:
    """The rows of ``review.csv`` (see the module docstring), by student and assignment."""
    from .gradebook import result_path
    from .grading import similarity_path

    if subs is None:
        subs = collect_rows(cfg)[0]
    if penalizing is None:
        penalizing = _penalty_method(cfg) != "none"
    lms = _lms_ids(cfg)
    rows: list[dict] = []
    for r in subs:
        if not r["submitted"]:
            continue
        student, a = r["student"], r["assignment"]
        lms_late = bool((lms.get((student, a)) or {}).get("lms_late"))
        if lms_late or (r["seconds_late"] > 0 and r["late_penalty"] == 0):
            said = ("Canvas marked it late" if lms_late
                    else f"submitted {r['seconds_late'] / 3600:.1f} h after the due date")
            if r["late_penalty"] > 0:
                what = f"a late penalty of {r['late_penalty']:g} points was applied"
            elif not penalizing:
                what = "no penalty: no late penalty method is set (c.LateSubmissionPlugin.penalty_method)"
            elif r["seconds_late"] > 0:
                what = "no penalty (within the grace period)"
            else:
                what = "no penalty: by the gradebook's due date (or its absence) it is on time"
            rows.append({"student": student, "assignment": a, "reason": "late", "message": f"{said}; {what}"})
        try:
            rec = json.loads(result_path(cfg, student, a).read_text())
        except (OSError, ValueError):
            rec = {}
        found = 0
        notebooks = rec.get("notebooks") if isinstance(rec.get("notebooks"), dict) else {}
        flags = [("", f) for f in rec.get("flags") or []] + \
            [(nb, f) for nb, e in notebooks.items() if isinstance(e, dict) for f in e.get("flags") or []]
        for nb, f in flags:
            if isinstance(f, dict) and f.get("level") == "review":
                found += 1
                rows.append({"student": student, "assignment": a, "notebook": nb, "reason": f.get("code", ""),
                             "cell": f.get("cell", ""), "message": str(f.get("message", ""))[:2000]})
        if r["flagged"] and not found:
            rows.append({"student": student, "assignment": a, "reason": "flagged_in_gradebook",
                         "message": "flagged in the gradebook (formgrader)"})
    for a in sorted({r["assignment"] for r in subs}):
        try:
            report = json.loads(similarity_path(cfg, a).read_text())
        except (OSError, ValueError):
            continue
        from ..notebook.similarity import clusters

        pairs = [p for p in report.get("pairs") or [] if len(p.get("students") or []) == 2]
        groups = report.get("clusters") or clusters(pairs)
        for pair in pairs:      # one row a pair, with the group it belongs to
            me, other = pair["students"]
            group = next((c for c in groups if c.get("exercise") == pair.get("exercise")
                          and c.get("notebook", "") == pair.get("notebook", "") and me in c.get("students", [])), None)
            size = len(group["students"]) if group else 2
            rows.append({"student": me, "assignment": a, "notebook": pair.get("notebook", ""),
                         "reason": "similar_answers", "cell": pair.get("exercise", ""), "other_student": other,
                         "similarity": f"{float(pair.get('score', 0)):.3f}",
                         "group": ", ".join(group["students"]) if group else f"{me}, {other}",
                         "message": f"{me} and {other} answered {pair.get('exercise')} nearly the same way "
                                    f"(similarity {float(pair.get('score', 0)):.2f}, {pair.get('tokens')} tokens "
                                    f"in common)" + (f"; one of a group of {size} students" if size > 2 else "")})
    cd = course_dir(cfg)
    try:
        with open(Path(cd.root) / cd.submitted_directory / ".collect.csv", newline="") as f:
            seen = set()
            for q in csv.DictReader(f):        # every collect's rows: each refusal once
                key = (q.get("student"), q.get("origin"), q.get("notes"))
                if q.get("status") == "quarantined" and key not in seen:
                    seen.add(key)
                    rows.append({"student": q.get("student", ""), "assignment": q.get("assignment", ""),
                                 "reason": "quarantined", "message": f"{q.get('origin', '')}: {q.get('notes', '')}"})
    except OSError:
        pass
    order = {"quarantined": 2, "similar_answers": 1}
    rows.sort(key=lambda r: (r["student"] == "", r["student"], r["assignment"], order.get(r["reason"], 0)))
    return rows


def _lms_files(out: Path, subs: list[dict], people: dict[str, dict], lms: dict, assignments: list[str],
               students: list[str], log, cfg=None) -> dict[str, Path]:
    from .roster import read_canvas_roster

    paths = {}
    kept = read_canvas_roster(cfg) if cfg is not None else {}
    headers = kept.get("assignments") or {}
    extra = kept.get("students") or {}
    table = {(r["student"], r["assignment"]): r for r in subs}
    maxes = {a: max((r["max_score"] for r in subs if r["assignment"] == a), default=0.0) for a in assignments}

    def canvas_id(s):
        own = people[s]["lms_user_id"]
        if own:
            return own
        ids = {v["lms_user_id"] for (st, _), v in lms.items() if st == s and v.get("layout") == "canvas"}
        return ids.pop() if len(ids) == 1 else ""

    p = out / "canvas.csv"
    without = []
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        # Canvas fills an existing column only under its own header, "name (assignment id)", as in the
        # gradebook export the roster came from; a bare name creates a new column
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
                   + [headers.get(a, a) for a in assignments])
        w.writerow(["Points Possible", "", "", "", ""] + [f"{maxes[a]:g}" for a in assignments])
        for s in students:
            person = people[s]
            name = ", ".join(x for x in (person["last_name"], person["first_name"]) if x) or s
            uid = canvas_id(s)
            if not uid:
                without.append(s)
            more = extra.get(s) or {}
            w.writerow([name, uid, more.get("sis_user_id", ""), s, more.get("section", "")]
                       + [f"{table[(s, a)]['score']:g}" for a in assignments])
    paths["canvas"] = p
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    for a in assignments:
        rows = [(s, v["lms_user_id"]) for (s, aa), v in sorted(lms.items()) if aa == a and v.get("layout") == "moodle"]
        if not rows:
            continue
        p = out / f"moodle_{a}.csv"
        with p.open("w", newline="") as f:
            w = csv.writer(f)
            # Moodle's importer needs Identifier, Grade and "Last modified (grade)": a grade changed in
            # Moodle after that time is kept, not overwritten
            w.writerow(["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Last modified (grade)"])
            for s, uid in rows:
                person = people.get(s, {})
                name = " ".join(x for x in (person.get("first_name"), person.get("last_name")) if x) or s
                w.writerow([f"Participant {uid}", name, person.get("email", ""),
                            f"{table[(s, a)]['score']:.2f}", f"{table[(s, a)]['max_score']:.2f}", now])
        paths[f"moodle_{a}"] = p
    if without and len(without) < len(students):
        log(f"  canvas.csv: no Canvas user id for {', '.join(without)} (matched by SIS Login ID only)")
    return paths


def _plot(totals: dict[str, float], subs: list[dict], assignments: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    vals = list(totals.values())
    axes[0].hist(vals, bins=[i * 5 for i in range(21)], color="#4C72B0", edgecolor="white")
    axes[0].set_xlabel("course total (%)")
    axes[0].set_ylabel("students")
    if vals:
        axes[0].set_title(f"{len(vals)} students: median {statistics.median(vals):.1f}%")
    data = [[100 * r["score"] / r["max_score"] for r in subs if r["assignment"] == a and r["max_score"]]
            for a in assignments]
    if assignments:
        axes[1].boxplot(data, showmeans=True)
        axes[1].set_xticks(range(1, len(assignments) + 1))
        axes[1].set_xticklabels(assignments, rotation=45, ha="right", fontsize=8)
    axes[1].set_ylabel("score (%)")
    axes[1].set_title("per assignment")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
