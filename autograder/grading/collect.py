"""``python -m autograder collect SOURCE``: turn a folder or an LMS zip into nbgrader's ``submitted/``.

``SOURCE`` is a folder or a ``.zip`` (zips inside it are opened too, one level deep). Recognised layouts:

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

A custom layout can be given as a regular expression with named groups ``student`` (and optionally
``assignment``) matched against each file's path inside ``SOURCE`` (``--pattern``).

Which assignment a notebook belongs to is decided by its content: the nbgrader cell ids it holds,
compared with the gradebook's record of every assignment; the file name is only a fallback. So a
notebook renamed by the student or the LMS still lands where it belongs, under its proper name (the
original name is kept in ``collect.json`` and the grader notes it). The submission time comes from
the layout (Blackboard names, nbgrader ``timestamp.txt``), else from the zip entry or the file's
modification time; when a student submitted more than once, the latest submission wins. Zip entries
that would escape the extraction folder, or that expand beyond the size limit, are refused.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["Submission", "scan", "collect", "main"]

MAX_UNZIPPED = 2 << 30
MAX_FILE = 200 << 20
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"

_CANVAS = re.compile(r"^(?P<student>[^_/]+?)(?:_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
_MOODLE = re.compile(r"^(?P<student>.+?)_(?P<uid>\d+)_assign(?:submission|feedback)_[a-z]+_(?P<file>.*)$")
_BLACKBOARD = re.compile(r"^(?P<assignment>.+?)_(?P<student>[^_]+)_attempt_(?P<ts>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:_(?P<file>.+))?$")
_EXCHANGE = re.compile(r"^(?P<student>[^+]+)\+(?P<assignment>[^+]+)\+(?P<ts>[^+]+)(?:\+.*)?$")


@dataclass
class Submission:
    student: str
    path: Path                       # the notebook file
    assignment: str | None = None    # when the layout says
    timestamp: datetime | None = None
    origin: str = ""                 # the file's path inside SOURCE
    layout: str = ""
    notes: list[str] = field(default_factory=list)


def safe_id(text: str) -> str:
    """A student id nbgrader accepts (letters, digits, ``_ . -``)."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip()).strip("._-")
    return s or "unknown"


def _extract(zpath: Path, dest: Path, budget: list[int], depth: int = 0) -> dict[str, datetime]:
    """Extract ``zpath`` safely; returns the zip timestamps of the extracted files (relative paths)."""
    times: dict[str, datetime] = {}
    with zipfile.ZipFile(zpath) as zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            if name.startswith("/") or ".." in name.split("/") or ":" in name.split("/")[0]:
                raise ValueError(f"zip entry {name!r} has an unsafe path; the zip was not extracted")
            if info.is_dir() or name.startswith("__MACOSX/") or "/." in "/" + name:
                continue
            target = (dest / name).resolve()
            if not str(target).startswith(str(dest.resolve()) + "/"):
                raise ValueError(f"zip entry {name!r} would be written outside the extraction folder")
            if info.file_size > MAX_FILE:
                continue
            budget[0] += info.file_size
            if budget[0] > MAX_UNZIPPED:
                raise ValueError("the zip expands beyond the size limit")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                copied = 0
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    copied += len(chunk)
                    if copied > MAX_FILE:
                        raise ValueError(f"zip entry {name!r} is larger than it claims")
                    out.write(chunk)
            try:
                times[name] = datetime(*info.date_time, tzinfo=timezone.utc)
            except ValueError:
                pass
            if target.suffix.lower() == ".zip" and depth == 0:
                inner = target.with_suffix("")
                inner_times = _extract(target, inner, budget, depth + 1)
                for k, v in inner_times.items():
                    times[str((inner / k).relative_to(dest))] = v
                target.unlink()
    return times


def _mtime(p: Path) -> datetime:
    return datetime.fromtimestamp(p.stat().st_mtime, tz=timezone.utc)


def scan(root: Path, zip_times: dict[str, datetime] | None = None, pattern: str | None = None,
         prefix: str | None = None, known_assignments: set[str] | None = None) -> list[Submission]:
    """Find the notebooks under ``root`` and who submitted them."""
    zip_times = zip_times or {}
    known = known_assignments or set()
    rx = re.compile(pattern) if pattern else None
    out: list[Submission] = []
    for nb in sorted(root.rglob("*.ipynb")):
        rel = nb.relative_to(root)
        parts = rel.parts
        if any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        relstr = "/".join(parts)
        ts = zip_times.get(relstr)
        sub = None
        if rx is not None:
            m = rx.search(relstr)
            if m and m.groupdict().get("student"):
                sub = Submission(safe_id(m.group("student")), nb, m.groupdict().get("assignment"), layout="pattern")
        if sub is None and len(parts) >= 3 and (root / parts[0] / parts[1]).is_dir() and parts[1] in known:
            sub = Submission(safe_id(parts[0]), nb, parts[1], layout="nbgrader")
            stamp = root / parts[0] / parts[1] / "timestamp.txt"
            if stamp.exists():
                sub.timestamp = _parse_ts(stamp.read_text().strip())
        if sub is None and len(parts) >= 2:
            m = _EXCHANGE.match(parts[0])
            if m:
                sub = Submission(safe_id(m.group("student")), nb, m.group("assignment"), _parse_ts(m.group("ts")),
                                 layout="nbgrader-exchange")
        if sub is None:
            for i, part in enumerate(parts):
                m = _MOODLE.match(part)
                if m:
                    sub = Submission(safe_id(m.group("student")), nb, layout="moodle")
                    break
        if sub is None:
            m = _BLACKBOARD.match(parts[-1])
            if m:
                sub = Submission(safe_id(m.group("student")), nb, layout="blackboard",
                                 timestamp=datetime.strptime(m.group("ts"), "%Y-%m-%d-%H-%M-%S").replace(tzinfo=timezone.utc))
        if sub is None:
            m = _CANVAS.match(parts[-1])
            if m:
                sub = Submission(safe_id(m.group("student")), nb, layout="canvas")
                if "_LATE_" in parts[-1]:
                    sub.notes.append("marked late by Canvas")
        if sub is None and prefix and parts[0].startswith(prefix + "-"):
            sub = Submission(safe_id(parts[0][len(prefix) + 1:]), nb, layout="github-classroom")
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


def _parse_ts(text: str) -> datetime | None:
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


def identify(path: Path, catalogue: dict[str, dict[str, set[str]]]) -> tuple[str | None, str | None, str]:
    """(assignment, notebook name, how) for a notebook file: by its nbgrader ids, else by its name."""
    ids: set[str] = set()
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
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
    norm = lambda s: re.sub(r"[^a-z0-9]", "", s.lower())
    for a, nbs in sorted(catalogue.items(), key=lambda kv: -len(kv[0])):
        for nb_name in nbs:
            if norm(nb_name) and (norm(nb_name) in norm(stem) or norm(stem).endswith(norm(nb_name))):
                return a, nb_name, "file name"
    return None, None, "unmatched"


def catalogue_from_gradebook(cfg) -> dict[str, dict[str, set[str]]]:
    from nbgrader.api import Gradebook

    from .gradebook import course_dir

    cd = course_dir(cfg)
    out: dict[str, dict[str, set[str]]] = {}
    with Gradebook(cd.db_url, cd.course_id) as gb:
        for a in gb.assignments:
            out[a.name] = {nb.name: {c.name for c in nb.source_cells} for nb in a.notebooks}
    return out


def collect(cfg, source: Path, pattern: str | None = None, prefix: str | None = None, force: bool = False,
            log=print) -> dict:
    from .gradebook import course_dir

    cd = course_dir(cfg)
    catalogue = catalogue_from_gradebook(cfg)
    tmp = None
    zip_times: dict[str, datetime] = {}
    source = Path(source)
    if source.is_file() and zipfile.is_zipfile(source):
        tmp = Path(tempfile.mkdtemp(prefix="ag-collect-"))
        zip_times = _extract(source, tmp, [0])
        root = tmp
    elif source.is_dir():
        root = source
    else:
        raise SystemExit(f"{source} is neither a folder nor a zip file")
    try:
        found = scan(root, zip_times, pattern, prefix, set(catalogue))
        chosen: dict[tuple[str, str, str], tuple[Submission, str]] = {}
        unmatched = []
        for sub in found:
            a, nb_name, how = identify(sub.path, catalogue)
            if sub.assignment in catalogue and (a is None or how != "content"):
                a = sub.assignment
                nb_name = nb_name if nb_name in catalogue[a] else sorted(catalogue[a])[0]
            if a is None:
                unmatched.append(sub)
                continue
            key = (sub.student, a, nb_name)
            prev = chosen.get(key)
            if prev is None or (sub.timestamp or datetime.min.replace(tzinfo=timezone.utc)) > \
                    (prev[0].timestamp or datetime.min.replace(tzinfo=timezone.utc)):
                if prev is not None:
                    sub.notes.append(f"replaces an earlier submission ({prev[0].origin})")
                chosen[key] = (sub, how)
        base = Path(cd.root) / cd.submitted_directory
        rows, written = [], 0
        for (student, a, nb_name), (sub, how) in sorted(chosen.items()):
            dest = base / student / a
            target = dest / f"{nb_name}.ipynb"
            stamp = dest / "timestamp.txt"
            if target.exists() and not force and stamp.exists():
                old = _parse_ts(stamp.read_text())
                if old and sub.timestamp and old >= sub.timestamp:
                    rows.append([student, a, nb_name, sub.origin, sub.layout, how, sub.timestamp, "kept newer existing"])
                    continue
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sub.path, target)
            ts = sub.timestamp or datetime.now(timezone.utc)
            stamp.write_text(ts.strftime(TS_FORMAT))
            meta_path = dest / "collect.json"
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
            meta[nb_name] = {"original_name": sub.path.name, "origin": sub.origin, "layout": sub.layout,
                             "identified_by": how, "renamed": sub.path.name != f"{nb_name}.ipynb",
                             "notes": sub.notes}
            meta_path.write_text(json.dumps(meta, indent=1))
            written += 1
            rows.append([student, a, nb_name, sub.origin, sub.layout, how, ts, "; ".join(sub.notes)])
        report = base / ".collect.csv"
        base.mkdir(parents=True, exist_ok=True)
        with report.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["student", "assignment", "notebook", "origin", "layout", "identified_by", "timestamp", "notes"])
            w.writerows(rows)
            for sub in unmatched:
                w.writerow([sub.student, "", "", sub.origin, sub.layout, "unmatched", sub.timestamp,
                            "no assignment matched (not a notebook of this course?)"])
        students = {r[0] for r in rows}
        log(f"collected {written} notebook(s) from {len(students)} student(s) into {base}"
            + (f"; {len(unmatched)} file(s) matched no assignment (see {report})" if unmatched else ""))
        return {"written": written, "students": sorted(students), "unmatched": [s.origin for s in unmatched],
                "rows": rows}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder collect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, help="a folder or a zip of submissions")
    p.add_argument("--pattern", default=None, help="regex with named groups student (and assignment)")
    p.add_argument("--prefix", default=None, help="GitHub Classroom repository prefix")
    p.add_argument("--force", action="store_true", help="overwrite newer existing submissions")
    p.add_argument("--root", default=None)
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    from .gradebook import load_config

    result = collect(load_config(args.root, args.db), args.source, args.pattern, args.prefix, args.force)
    return 0 if result["written"] or result["rows"] else 1


if __name__ == "__main__":
    sys.exit(main())
