"""Archives a student or an LMS sends: opened without following links, within size limits."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

MAX_UNZIPPED = 2 << 30       # the whole download, expanded
MAX_ARCHIVE = 512 << 20      # one student's own zip, expanded
MAX_FILE = 200 << 20         # one file
MAX_NOTEBOOK = 20 << 20      # one notebook: the grader reads none larger (``Limits.notebook_mb``)
MAX_ENTRIES = 20000          # entries of one zip


@dataclass
class Quarantined:
    origin: str
    reason: str
    path: Path | None = None         # a plain file worth keeping for the instructor, when there is one
    student: str = ""


def safe_id(text: str) -> str:
    """A student id nbgrader accepts (letters, digits, ``_ . -``)."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip()).strip("._-")
    return s or "unknown"


def kept_name(n: int, name: str) -> str:
    """The quarantine file name of a refused file: time, number and its own name, cut to a length every
    file system takes (a name the student chose may be as long as the LMS allows)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    safe = safe_id(name)
    if len(safe) > 120:
        safe = hashlib.sha256(name.encode()).hexdigest()[:12] + "_" + safe[-100:]
    return f"{stamp}_{n:03d}_{safe}"


class Refused(Exception):
    """A file or archive that is not collected; the message is the reason."""



def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def _check_entries(zf: zipfile.ZipFile) -> None:
    """Refuse a zip with an unsafe entry before anything is written."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise Refused(f"the zip has {len(infos)} entries (more than {MAX_ENTRIES})")
    for info in infos:
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/") or ":" in name.split("/")[0]:
            raise Refused(f"zip entry {name!r} has an unsafe path")
        if _is_link(info):
            raise Refused(f"zip entry {name!r} is a symbolic link")


def _file_limit(name: str) -> int:
    return MAX_NOTEBOOK if name.lower().endswith(".ipynb") else MAX_FILE


def _copy_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: list[int],
                limit: int | None = None) -> None:
    """Write one entry, counting what it really expands to (a header can lie about the size);
    ``limit``: the most one file may expand to (default :data:`MAX_FILE`)."""
    limit = MAX_FILE if limit is None else limit
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with zf.open(info) as src, os.fdopen(fd, "wb") as out:
        copied = 0
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            copied += len(chunk)
            budget[0] -= len(chunk)
            if copied > limit:
                raise Refused(f"zip entry {info.filename!r} is larger than {limit >> 20} MiB")
            if budget[0] < 0:
                raise Refused("the zip expands beyond its size limit")
            out.write(chunk)


def _extract_inner(zpath: Path, dest: Path, budget: list[int]) -> None:
    """A student's own zip: all of it, or nothing (``Refused`` says why)."""
    own = [min(MAX_ARCHIVE, budget[0])]
    try:
        with zipfile.ZipFile(zpath) as zf:
            _check_entries(zf)
            declared = sum(i.file_size for i in zf.infolist())
            if declared > own[0]:
                raise Refused(f"the zip expands to {declared >> 20} MiB (limit {own[0] >> 20} MiB)")
            for info in zf.infolist():
                name = info.filename.replace("\\", "/")
                if info.is_dir() or name.startswith("__MACOSX/"):
                    continue
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                _copy_entry(zf, info, target, own)
    except Refused:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as e:
        shutil.rmtree(dest, ignore_errors=True)
        raise Refused(f"the zip cannot be read ({type(e).__name__}: {e})") from None
    budget[0] -= min(MAX_ARCHIVE, budget[0]) - own[0]


def extract(zpath: Path, dest: Path, budget: list[int] | None = None,
             quarantine: list[Quarantined] | None = None, qdir: Path | None = None) -> dict[str, datetime]:
    """Extract the download ``zpath`` into ``dest``; returns the zip timestamps of the extracted files.

    An entry that cannot be extracted safely is left out and recorded in ``quarantine`` (a zip entry
    with an unsafe path, a link, an oversized file, a bad inner zip); the rest is extracted. Without a
    ``quarantine`` list an unsafe entry raises ``ValueError``.
    """
    budget = budget if budget is not None else [MAX_UNZIPPED]
    strict = quarantine is None
    quarantine = quarantine if quarantine is not None else []
    times: dict[str, datetime] = {}
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zpath) as zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            reason = None
            if name.startswith("/") or ".." in name.split("/") or ":" in name.split("/")[0]:
                reason = "unsafe path in the zip (absolute or with ..)"
            elif info.is_dir() or name.startswith("__MACOSX/") or "/." in "/" + name:
                continue
            elif _is_link(info):
                reason = "a symbolic link (refused, never followed)"
            elif info.file_size > _file_limit(name):
                reason = f"larger than {_file_limit(name) >> 20} MiB" + \
                    (" (the grader reads no larger notebook)" if name.lower().endswith(".ipynb") else "")
            if reason:
                if strict:
                    raise ValueError(f"zip entry {name!r}: {reason}")
                quarantine.append(Quarantined(name, reason))
                continue
            target = dest / name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                _copy_entry(zf, info, target, budget, _file_limit(name))
            except (Refused, OSError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError,
                    NotImplementedError) as e:
                try:
                    target.unlink(missing_ok=True)
                except OSError:                   # e.g. a name longer than the file system takes
                    pass
                quarantine.append(Quarantined(name, str(e) if isinstance(e, Refused) else
                                              f"cannot be extracted ({type(e).__name__}: {e})"))
                if budget[0] < 0:
                    raise ValueError("the download expands beyond the size limit; nothing after "
                                     f"{name!r} was extracted") from None
                continue
            try:
                when = datetime(*info.date_time, tzinfo=timezone.utc)
            except ValueError:
                when = None
            if target.suffix.lower() == ".zip":
                inner = target.with_suffix("")
                try:
                    if inner.exists():
                        raise Refused(f"{inner.name} exists beside the zip")
                    _extract_inner(target, inner, budget)
                except Refused as e:
                    kept = (qdir / kept_name(len(quarantine), target.name)) if qdir else None
                    if kept is not None:
                        try:
                            kept.parent.mkdir(parents=True, exist_ok=True)
                            shutil.move(str(target), kept)
                        except OSError:           # not kept; still listed with its reason
                            kept = None
                    quarantine.append(Quarantined(name, str(e), kept))
                    target.unlink(missing_ok=True)
                    continue
                target.unlink()
                # the student's own zip says nothing trustworthy about time: the LMS's entry time counts
                if when is not None:
                    for f in inner.rglob("*"):
                        times[f.relative_to(dest).as_posix()] = when
                continue
            if when is not None:
                times[name] = when
    return times
