"""``python -m autograder collect SOURCE``: turn a folder or an LMS zip into nbgrader's ``submitted/``.

``SOURCE`` is a folder or a ``.zip`` (zips inside it are opened too, one level deep). Recognised layouts,
read from the *top-level* name of each entry, which the LMS writes (what a student named a file is
never more than the tail after that prefix, or a file inside the student's own folder):

=====================  ====================================================================
nbgrader               ``<student>/<assignment>/*.ipynb`` (with ``timestamp.txt``), or an exchange
                       inbound folder ``<student>+<assignment>+<timestamp>[+...]/*.ipynb``
Canvas                 ``<name>[_LATE]_<userid>_<submissionid>_<file>`` (``file-1.ipynb`` for a resubmission)
Moodle                 ``<First Last>_<id>_assignsubmission_file_/<file>`` or the same prefix on a flat file
Blackboard             ``<Assignment>_<user>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``
GitHub Classroom       ``<assignment-prefix>-<user>/**.ipynb`` (``--prefix`` gives the prefix)
per-student folders    ``<student>/**.ipynb``
flat files             ``<student>.ipynb`` or ``<student>_<anything>.ipynb``
=====================  ====================================================================

When a name fits several layouts (a Canvas file whose tail, chosen by the student, looks like a
Blackboard or Moodle name), the reading with the shortest prefix is the LMS's: the LMS writes its
prefix first, and a longer reading would take part of the student's file name for it. A custom layout can
be given as a regular expression
with named groups ``student`` (and optionally ``assignment``) matched against each file's path inside
``SOURCE`` (``--pattern``).

The LMS's user id (Canvas user id, Moodle participant id, Blackboard or GitHub user name) is kept in
``collect.json`` and, for Canvas, in the gradebook's ``lms_user_id``, so ``export`` can write grade
files the LMS imports. When the gradebook already knows a student with that LMS id (a roster import),
the submission goes to that student; a submitter the roster does not list is collected and flagged.

Which assignment a notebook belongs to is decided by its content: the nbgrader cell ids it holds,
compared with the gradebook's record of every assignment; the file name is only a fallback. So a
notebook renamed by the student or the LMS still lands where it belongs, under its proper name (the
original name is kept in ``collect.json`` and the grader notes it). The submission time comes from
the layout (Blackboard names, nbgrader ``timestamp.txt`` and exchange folders) or the LMS's zip entry,
never from a student's own inner zip or repository (a GitHub Classroom repository is dated when it is
collected: nothing in it was written by anyone but the student); when a student submitted more than
once, the latest submission wins.

Nothing a student sends can reach beyond its own submission: symbolic links (in folders, and zip
entries with a link's mode bits) are refused and never followed; a zip entry with an absolute or
``..`` path, an archive that expands beyond its size limit, or an unreadable archive is refused, and
so is a notebook that the grader would not parse (over :data:`MAX_NOTEBOOK`, or JSON that nests or
branches beyond a notebook's, :mod:`.jsonlimits`), decided on its bytes before any parsing. A
refused file is copied (when it is a plain file) to ``submitted/.quarantine/`` and listed with its
reason in ``submitted/.collect.csv``; every other submission is collected as usual.

``submitted/.collect.csv`` keeps the record of every ``collect``: each run appends its rows (a second
download of the same assignment does not erase the first one's). Whether a file was renamed is judged
on the student's own file name, after the LMS's prefix (and Canvas's ``-1`` of a resubmission); a
Canvas ``LATE`` marker is kept in ``collect.json`` (``lms_late``) for the grade files.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from .archives import MAX_FILE, MAX_NOTEBOOK, MAX_UNZIPPED, Quarantined, Refused, extract, kept_name, safe_id

__all__ = ["Submission", "scan", "collect", "safe_id"]

TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"
QUARANTINE = ".quarantine"

_CANVAS = re.compile(r"^(?P<student>[^_/]+?)_(?P<late>LATE_)?(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
_MOODLE = re.compile(r"^(?P<student>.+?)_(?P<uid>\d+)_assign(?:submission|feedback)_[a-z]+_(?P<file>.*)$")
_BLACKBOARD = re.compile(r"^(?P<assignment>.+?)_(?P<student>[^_]+)_attempt_"
                         r"(?P<ts>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:_(?P<file>.+))?$")
_EXCHANGE = re.compile(r"^(?P<student>[^+]+)\+(?P<assignment>[^+]+)\+(?P<ts>[^+]+)(?:\+.*)?$")
# most specific first: the order breaks ties between layouts that name equally many entries
_LAYOUTS = ("nbgrader-exchange", "nbgrader", "moodle", "canvas", "blackboard", "github-classroom")


@dataclass
class Submission:
    student: str
    path: Path                       # the notebook file
    assignment: str | None = None    # when the layout says
    timestamp: datetime | None = None
    origin: str = ""                 # the file's path inside SOURCE
    layout: str = ""
    lms_user_id: str | None = None   # the LMS's own id of the student
    notes: list[str] = field(default_factory=list)
    own_name: str | None = None      # the student's own file name, without the LMS's prefix
    lms_late: bool = False           # the LMS marked it late (Canvas's LATE_)


def _mtime(p: Path) -> datetime:
    return datetime.fromtimestamp(p.lstat().st_mtime, tz=timezone.utc)


def _walk(root: Path, quarantine: list[Quarantined]) -> list[Path]:
    """Every notebook under ``root``, never following a link; links and odd files are refused."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        for name in list(dirnames):
            p = d / name
            if name.startswith(".") or name == "__MACOSX":
                dirnames.remove(name)
            elif p.is_symlink():
                dirnames.remove(name)
                quarantine.append(Quarantined(p.relative_to(root).as_posix(),
                                              "a symbolic link to a folder (refused, never followed)"))
        for name in filenames:
            p = d / name
            if name.startswith("."):
                continue
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                quarantine.append(Quarantined(rel, "a symbolic link (refused, never followed)"))
            elif not name.lower().endswith(".ipynb"):
                continue
            elif not stat.S_ISREG(st.st_mode):
                quarantine.append(Quarantined(rel, "not a regular file"))
            elif st.st_size > MAX_FILE:
                quarantine.append(Quarantined(rel, f"larger than {MAX_FILE >> 20} MiB"))
            else:
                found.append(p)
    return sorted(found)


def _candidates(top: str, is_dir: bool, parts: tuple[str, ...], root: Path, known: set[str],
                prefix: str | None) -> dict[str, dict]:
    """Every layout the LMS-written top-level name ``top`` fits, with what it says."""
    out: dict[str, dict] = {}
    name = top[:-4] if top.lower().endswith(".zip") else top      # an extracted inner zip
    if is_dir:
        m = _EXCHANGE.match(name)
        if m:
            out["nbgrader-exchange"] = {"student": m.group("student"), "assignment": m.group("assignment"),
                                        "timestamp": parse_ts(m.group("ts")), "uid": m.group("student"),
                                        "prefix": len(name)}
        if len(parts) >= 3 and parts[1] in known:
            out["nbgrader"] = {"student": name, "assignment": parts[1], "uid": None, "prefix": len(name)}
        if prefix and name.startswith(prefix + "-") and len(name) > len(prefix) + 1:
            user = name[len(prefix) + 1:]
            out["github-classroom"] = {"student": user, "uid": user, "prefix": len(name)}
    m = _MOODLE.match(name)
    if m:
        out["moodle"] = {"student": m.group("student"), "uid": m.group("uid"), "prefix": m.start("file")}
    m = _CANVAS.match(name)
    if m:
        out["canvas"] = {"student": m.group("student"), "uid": m.group("uid"), "late": bool(m.group("late")),
                         "prefix": m.start("file")}
    m = _BLACKBOARD.match(name)
    if m:
        out["blackboard"] = {"student": m.group("student"), "uid": m.group("student"),
                             "timestamp": datetime.strptime(m.group("ts"), "%Y-%m-%d-%H-%M-%S")
                             .replace(tzinfo=timezone.utc),
                             "prefix": m.start("file") if m.group("file") else len(name)}
    return out


def scan(root: Path, zip_times: dict[str, datetime] | None = None, pattern: str | None = None,
         prefix: str | None = None, known_assignments: set[str] | None = None,
         quarantine: list[Quarantined] | None = None) -> list[Submission]:
    """Find the notebooks under ``root`` and who submitted them (see the module docstring)."""
    zip_times = zip_times or {}
    collected_at = datetime.now(timezone.utc)
    known = known_assignments or set()
    quarantine = quarantine if quarantine is not None else []
    rx = re.compile(pattern) if pattern else None
    base = root
    walked: list[Quarantined] = []
    notebooks = _walk(base, walked)
    for q in walked:
        q.origin = (base / q.origin).relative_to(root).as_posix()
        q.student = ""
    quarantine += walked

    entries: dict[str, dict[str, dict]] = {}
    for nb in notebooks:
        parts = nb.relative_to(base).parts
        if parts[0] not in entries:
            entries[parts[0]] = _candidates(parts[0], len(parts) > 1, parts, base, known, prefix)
    votes = {lay: sum(lay in c for c in entries.values()) for lay in _LAYOUTS}

    out: list[Submission] = []
    for nb in notebooks:
        parts = nb.relative_to(base).parts
        relstr = nb.relative_to(root).as_posix()
        ts = zip_times.get(relstr)
        sub = None
        if rx is not None:
            m = rx.search(relstr)
            if m and m.groupdict().get("student"):
                sub = Submission(safe_id(m.group("student")), nb, m.groupdict().get("assignment"), layout="pattern")
        if sub is None:
            cands = entries[parts[0]]
            if cands:
                # The LMS's prefix comes first and ends where the student's own file name starts, so
                # of two readings the one with the shorter prefix is the LMS's (a longer one would be
                # made of the student's file name); then the download's prevailing layout.
                lay = min(cands, key=lambda k: (cands[k]["prefix"], -votes[k], _LAYOUTS.index(k)))
                if "github-classroom" in cands:     # the instructor named the repositories' prefix
                    lay = "github-classroom"
                c = cands[lay]
                sub = Submission(safe_id(c["student"]), nb, c.get("assignment"), c.get("timestamp"), layout=lay,
                                 lms_user_id=c.get("uid"))
                if len(parts) == 1 and c["prefix"] < len(parts[0]):
                    own = parts[0][c["prefix"]:]
                    # Canvas numbers a resubmitted file: homework.ipynb becomes homework-1.ipynb
                    sub.own_name = re.sub(r"-\d+(\.ipynb)$", r"\1", own) if lay == "canvas" else own
                if lay == "github-classroom":
                    # a repository holds only what the student committed (their timestamp.txt, commit
                    # dates): the time is when it was collected, the same for the whole class
                    sub.timestamp = collected_at
                if lay == "nbgrader":
                    stamp = base / parts[0] / parts[1] / "timestamp.txt"
                    if stamp.is_file() and not stamp.is_symlink():
                        sub.timestamp = parse_ts(stamp.read_text(errors="replace")[:100])
                if c.get("late"):
                    sub.lms_late = True
                    sub.notes.append("marked late by Canvas")
                if len(cands) > 1:
                    sub.notes.append(f"name read as {lay} (the download's layout), not as "
                                     + ", ".join(k for k in cands if k != lay))
        if sub is None and len(parts) >= 2:
            sub = Submission(safe_id(parts[0]), nb, parts[1] if len(parts) >= 3 and parts[1] in known else None,
                             layout="folders")
        if sub is None:
            stem = nb.stem
            student = stem.split("_")[0] if "_" in stem else stem
            sub = Submission(safe_id(student), nb, layout="flat")
        sub.origin = relstr
        if sub.timestamp is None:
            sub.timestamp = ts or _mtime(nb)
        out.append(sub)
    return out


def parse_ts(text: str) -> datetime | None:
    text = text.strip()
    for fmt in (TS_FORMAT, "%Y-%m-%d %H:%M:%S.%f %Z", "%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S.%f",
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d-%H-%M-%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return d if d.tzinfo else d.replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def read_notebook_bytes(path: Path) -> bytes:
    """A submitted notebook's bytes, when it may be parsed: ``Refused`` (with the reason) for a file
    over :data:`MAX_NOTEBOOK` or whose JSON nests or branches beyond what a notebook does
    (:mod:`.jsonlimits`), decided before any parsing. Links are not followed."""
    from ..notebook.jsonlimits import refusal

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise Refused(f"cannot be opened without following a link ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Refused("not a regular file")
        if st.st_size > MAX_NOTEBOOK:
            raise Refused(f"the notebook is {st.st_size / 2 ** 20:.1f} MiB, more than the {MAX_NOTEBOOK >> 20} MiB "
                          "a notebook may have (the grader would not read it); it was not parsed")
        raw = f.read(MAX_NOTEBOOK + 1)
    if len(raw) > MAX_NOTEBOOK:
        raise Refused(f"the notebook grew beyond {MAX_NOTEBOOK >> 20} MiB while it was read")
    why = refusal(raw)
    if why:
        raise Refused(f"{why}; it was not parsed")
    return raw


def identify(path: Path, catalogue: dict[str, dict[str, set[str]]],
             raw: bytes | None = None) -> tuple[str | None, str | None, str]:
    """(assignment, notebook name, how) for a notebook file (``raw``: its bytes, checked by
    :func:`read_notebook_bytes`): by its nbgrader ids, else by its name."""
    ids: set[str] = set()
    try:
        if raw is None:
            raw = read_notebook_bytes(path)
        data = json.loads(raw.decode("utf-8", errors="replace"))
        cells = data.get("cells") or [c for ws in data.get("worksheets", []) for c in ws.get("cells", [])]
        for c in cells:
            gid = ((c.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")
            if isinstance(gid, str):
                ids.add(gid)
    except Exception:
        pass
    best, best_n = (None, None), 0
    for a, nbs in catalogue.items():
        for nb_name, nb_ids in nbs.items():
            n = len(ids & nb_ids)
            if n > best_n:
                best, best_n = (a, nb_name), n
    if best_n:
        return best[0], best[1], "content"
    stem = re.sub(r"[-_ ]?\(?\d+\)?$", "", path.stem).lower()        # file-1, file (2)
    norm = lambda s: re.sub(r"[^a-z0-9]", "", s.lower())  # noqa: E731
    for a, nbs in sorted(catalogue.items(), key=lambda kv: -len(kv[0])):
        for nb_name in nbs:
            if norm(nb_name) and (norm(nb_name) in norm(stem) or norm(stem).endswith(norm(nb_name))):
                return a, nb_name, "file name"
    return None, None, "unmatched"


def catalogue_from_gradebook(cfg) -> dict[str, dict[str, set[str]]]:
    """Each assignment's notebooks and their cell ids: from the gradebook, and for an assignment it does
    not hold yet (none is recorded before it is handed out), from the released notebooks."""
    from nbgrader.api import Gradebook

    from .gradebook import course_dir

    cd = course_dir(cfg)
    out: dict[str, dict[str, set[str]]] = {}
    with Gradebook(cd.db_url, cd.course_id) as gb:
        for a in gb.assignments:
            out[a.name] = {nb.name: {c.name for c in nb.source_cells} for nb in a.notebooks}
    release = Path(cd.root) / cd.release_directory
    for folder in sorted(release.iterdir()) if release.is_dir() else []:
        if folder.is_dir() and not folder.name.startswith(".") and not out.get(folder.name):
            nbs = {p.stem: _cell_ids(p) for p in sorted(folder.glob("*.ipynb"))}
            if nbs:
                out[folder.name] = nbs
    return out


def _cell_ids(path: Path) -> set[str]:
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:
        return set()
    return {gid for c in nb.cells if (gid := (c.metadata.get("nbgrader") or {}).get("grade_id"))}


def _students(cfg) -> tuple[dict[str, object], bool]:
    """The gradebook's students (id -> (lms_user_id)) and whether a roster with names was imported."""
    from nbgrader.api import Gradebook

    from .gradebook import course_dir

    cd = course_dir(cfg)
    with Gradebook(cd.db_url, cd.course_id) as gb:
        rows = {s.id: s.lms_user_id for s in gb.students}
        roster = any(s.first_name or s.last_name or s.email for s in gb.students)
    return rows, roster


def _resolve_identities(found: list[Submission], known: dict[str, str | None]) -> None:
    """Map LMS ids to the gradebook's students; keep two people with one name apart."""
    by_lms = {(v or ""): k for k, v in known.items() if v}
    names: dict[str, set[str]] = {}
    for sub in found:
        if sub.layout in ("canvas", "moodle") and sub.lms_user_id:
            names.setdefault(sub.student, set()).add(sub.lms_user_id)
    for sub in found:
        if sub.layout not in ("canvas", "moodle") or not sub.lms_user_id:
            continue
        if sub.layout == "canvas" and sub.lms_user_id in by_lms:
            if by_lms[sub.lms_user_id] != sub.student:
                sub.notes.append(f"{sub.student!r} is {by_lms[sub.lms_user_id]!r} in the gradebook (same LMS id)")
            sub.student = by_lms[sub.lms_user_id]
            continue
        taken = known.get(sub.student)
        clash = len(names.get(sub.student, ())) > 1 or (sub.layout == "canvas" and taken and taken != sub.lms_user_id)
        if clash:
            new = safe_id(f"{sub.student}_{sub.lms_user_id}")
            sub.notes.append(f"another student is also named {sub.student!r}: collected as {new!r}")
            sub.student = new


def _record_lms_ids(cfg, ids: dict[str, str]) -> None:
    """Keep each Canvas student's user id in the gradebook (nbgrader's ``Student.lms_user_id``)."""
    if not ids:
        return
    from nbgrader.api import Gradebook

    from .gradebook import course_dir

    cd = course_dir(cfg)
    with Gradebook(cd.db_url, cd.course_id) as gb:
        for student, uid in ids.items():
            try:
                s = gb.find_student(student)
                if not s.lms_user_id:
                    s.lms_user_id = uid
                    gb.db.commit()
            except Exception:
                gb.db.rollback()
                gb.update_or_create_student(student, lms_user_id=uid)


HEADER = ["student", "assignment", "notebook", "origin", "layout", "identified_by", "timestamp", "status",
          "lms_user_id", "notes"]


def collect(cfg, source: Path, pattern: str | None = None, prefix: str | None = None, force: bool = False,
            log=print) -> dict:
    from .gradebook import course_dir

    cd = course_dir(cfg)
    catalogue = catalogue_from_gradebook(cfg)
    base = Path(cd.root) / cd.submitted_directory
    qdir = base / QUARANTINE
    quarantine: list[Quarantined] = []
    tmp = None
    zip_times: dict[str, datetime] = {}
    source = Path(source)
    if source.is_file() and zipfile.is_zipfile(source):
        tmp = Path(tempfile.mkdtemp(prefix="ag-collect-"))
        try:
            zip_times = extract(source, tmp, [MAX_UNZIPPED], quarantine, qdir)
        except ValueError as e:
            quarantine.append(Quarantined(source.name, str(e)))
        root = tmp
    elif source.is_dir():
        root = source
    else:
        raise SystemExit(f"{source} is neither a folder nor a zip file")
    try:
        found = scan(root, zip_times, pattern, prefix, set(catalogue), quarantine)
        known, has_roster = _students(cfg)
        _resolve_identities(found, known)
        chosen: dict[tuple[str, str, str], tuple[Submission, str]] = {}
        unmatched = []
        for sub in found:
            try:
                raw = read_notebook_bytes(sub.path)
            except Refused as e:
                quarantine.append(Quarantined(sub.origin, str(e), _keep(sub.path, qdir, len(quarantine)),
                                              student=sub.student))
                continue
            a, nb_name, how = identify(sub.path, catalogue, raw)
            del raw
            if sub.assignment in catalogue and (a is None or how != "content"):
                a = sub.assignment
                nb_name = nb_name if nb_name in catalogue[a] else sorted(catalogue[a])[0]
            if a is None:
                unmatched.append(sub)
                continue
            if has_roster and sub.student not in known:
                sub.notes.append("not on the roster")
            key = (sub.student, a, nb_name)
            prev = chosen.get(key)
            if prev is None or (sub.timestamp or datetime.min.replace(tzinfo=timezone.utc)) > \
                    (prev[0].timestamp or datetime.min.replace(tzinfo=timezone.utc)):
                if prev is not None:
                    sub.notes.append(f"replaces an earlier submission ({prev[0].origin})")
                chosen[key] = (sub, how)
        rows, written = [], 0
        canvas_ids: dict[str, str] = {}
        for (student, a, nb_name), (sub, how) in sorted(chosen.items()):
            dest = base / student / a
            target = dest / f"{nb_name}.ipynb"
            stamp = dest / "timestamp.txt"
            row = [student, a, nb_name, sub.origin, sub.layout, how, sub.timestamp]
            if target.exists() and not force and stamp.exists():
                old = parse_ts(stamp.read_text())
                if old and sub.timestamp and old >= sub.timestamp:
                    rows.append(row + ["kept newer existing", sub.lms_user_id or "", "; ".join(sub.notes)])
                    continue
            try:
                dest.mkdir(parents=True, exist_ok=True)
                _copy_regular(sub.path, target)
            except Refused as e:
                quarantine.append(Quarantined(sub.origin, str(e), student=student))
                continue
            except OSError as e:                 # this file alone is not collected; the class is
                quarantine.append(Quarantined(sub.origin, f"could not be stored ({e.strerror or e})",
                                              _keep(sub.path, qdir, len(quarantine)), student=student))
                continue
            ts = sub.timestamp or datetime.now(timezone.utc)
            stamp.write_text(ts.strftime(TS_FORMAT))
            meta_path = dest / "collect.json"
            try:
                meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
            except ValueError:
                meta = {}
            own = sub.own_name or sub.path.name
            meta[nb_name] = {"original_name": own, "origin": sub.origin, "layout": sub.layout,
                             "identified_by": how, "renamed": own != f"{nb_name}.ipynb",
                             "lms_user_id": sub.lms_user_id, "lms_late": sub.lms_late, "notes": sub.notes}
            meta_path.write_text(json.dumps(meta, indent=1))
            if sub.layout == "canvas" and sub.lms_user_id:
                canvas_ids[student] = sub.lms_user_id
            written += 1
            row[6] = ts
            rows.append(row + ["collected", sub.lms_user_id or "", "; ".join(sub.notes)])
        _record_lms_ids(cfg, canvas_ids)
        report = base / ".collect.csv"
        base.mkdir(parents=True, exist_ok=True)
        new = not report.is_file() or report.stat().st_size == 0
        with report.open("a", newline="") as f:       # every collect's record is kept
            w = csv.writer(f)
            if new:
                w.writerow(HEADER)
            w.writerows(rows)
            for sub in unmatched:
                w.writerow([sub.student, "", "", sub.origin, sub.layout, "unmatched", sub.timestamp, "unmatched",
                            sub.lms_user_id or "", "no assignment matched (not a notebook of this course?)"])
            for q in quarantine:
                kept = f"; kept as {q.path.relative_to(base)}" if q.path is not None else ""
                w.writerow([q.student, "", "", q.origin, "", "", "", "quarantined", "", q.reason + kept])
        students = {r[0] for r in rows}
        not_listed = sorted({r[0] for r in rows if "not on the roster" in r[-1]})
        log(f"collected {written} notebook(s) from {len(students)} student(s) into {base}"
            + (f"; {len(unmatched)} file(s) matched no assignment" if unmatched else "")
            + (f"; {len(quarantine)} file(s) refused and quarantined" if quarantine else "")
            + (f" (see {report})" if unmatched or quarantine else ""))
        for q in quarantine:
            log(f"  quarantined {q.origin}: {q.reason}")
        if not_listed:
            log(f"  not on the roster: {', '.join(not_listed)}")
        return {"written": written, "students": sorted(students), "unmatched": [s.origin for s in unmatched],
                "rows": rows, "quarantined": [(q.origin, q.reason) for q in quarantine], "not_on_roster": not_listed}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _keep(path: Path, qdir: Path, n: int) -> Path | None:
    """A copy of a refused plain file in the quarantine folder (``None`` when it cannot be kept)."""
    kept = qdir / kept_name(n, path.name)
    try:
        qdir.mkdir(parents=True, exist_ok=True)
        _copy_regular(path, kept)
    except (Refused, OSError):
        kept.unlink(missing_ok=True)
        return None
    return kept


def _copy_regular(src: Path, dst: Path) -> None:
    """Copy a regular file without following a link at ``src`` (checked on the open file itself)."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise Refused(f"cannot be opened without following a link ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Refused("not a regular file")
        if st.st_size > MAX_FILE:
            raise Refused(f"larger than {MAX_FILE >> 20} MiB")
        tmp = dst.with_name(dst.name + ".part")
        with open(tmp, "wb") as out:
            shutil.copyfileobj(f, out, 1 << 20)
        os.replace(tmp, dst)


