"""What grading is about, as plain data: specs, limits, isolation levels, flags, results."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

# The version of what grading a submission yields. It enters every result's input hash
# (grade.input_hash) and every calibration's digest, so a resumed run regrades what an older engine
# graded instead of mixing its verdicts with new ones: raise it whenever a change can alter a score,
# a flag or the graded notebook of some submission. 2: neutralised graded notebooks, linked files
# refused, control groups, the reference trip-wire and similarity to the reference, parsing limits
# (notebook_too_large, too_many_cells, notebook_too_complex).
ENGINE_VERSION = "2"
REVIEW = "review"
INFO = "info"


# ============================================================================ specs (plain data)
@dataclass
class NotebookSpec:
    """One notebook of an assignment as the gradebook records it."""

    name: str
    source_path: str                      # the instructor's notebook (solutions and hidden tests)
    cells: dict[str, dict]                # grade_id -> cell_type, locked, source, checksum, grade,
    order: list[str]                      #   solution, task, points; order = source order
    kernelspec: dict | None = None
    unsealed: list[str] = field(default_factory=list)   # test cells graded in the kernel
    benign_violations: list[str] = field(default_factory=list)  # what the instructor's notebook does too

    @property
    def grade_ids(self) -> list[str]:
        return [g for g in self.order if self.cells[g].get("grade")]

    @property
    def max_score(self) -> float:
        return sum(float(self.cells[g].get("points") or 0) for g in self.grade_ids)


@dataclass
class AssignmentSpec:
    """What the grader needs to know about an assignment (JSON-serialisable, no database)."""

    name: str
    notebooks: list[NotebookSpec]
    source_dir: str                       # instructor's folder: the tester runs there
    release_dir: str | None = None        # files handed to students (copied next to the submission)
    ignore_pattern: str | None = r"[\s\S]"
    max_lines: int = 1000
    max_traceback: int = 100
    mode: str = "grade"                   # "grade" or "check" (a student's self-check)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AssignmentSpec":
        d = dict(d)
        d["notebooks"] = [NotebookSpec(**n) for n in d["notebooks"]]
        return cls(**d)

    def digest(self) -> str:
        h = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode())
        for nb in self.notebooks:
            try:
                h.update(Path(nb.source_path).read_bytes())
            except OSError:
                pass
        h.update(ENGINE_VERSION.encode())
        return h.hexdigest()[:20]


class Flag(dict):
    """Something about a submission a human should know: ``code``, ``message``, ``level`` (``review``:
    a human must look; ``info``: a note) and the ``cell`` it concerns. It is its own JSON object."""

    def __init__(self, code: str, message: str, level: str = REVIEW, cell: str | None = None):
        super().__init__(code=code, message=message, level=level)
        if cell:
            self["cell"] = cell

    @property
    def code(self) -> str:
        return self["code"]

    @property
    def level(self) -> str:
        return self["level"]


@dataclass
class Job:
    """One submission to grade: what a worker, here or on another machine, needs (JSON-serialisable)."""

    spec: dict                            # AssignmentSpec.to_dict()
    student: str
    folder: str                           # the submission's folder
    limits: dict                          # Limits.as_dict()
    isolation: str = "auto"
    timestamp: str | None = None
    input_hash: str | None = None

    @property
    def assignment(self) -> str:
        return self.spec["name"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Job":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class Result:
    """What grading one submission yields: the score of every graded cell per notebook, the flags, the
    graded notebooks and timings. :meth:`to_dict` is the record the gradebook and ``grading.json`` keep."""

    student: str
    assignment: str
    notebooks: dict[str, dict] = field(default_factory=dict)   # name -> scores, flags, cells, autograded
    flags: list[dict] = field(default_factory=list)
    score: float = 0.0
    max_score: float = 0.0
    needs_review: bool = False
    seconds: float = 0.0
    timestamp: str | None = None
    engine: str = ENGINE_VERSION
    isolation: str | None = None
    isolation_detail: str | None = None
    started: float | None = None
    input_hash: str | None = None
    worker: int | str | None = None          # the local worker's pid, or the Dask worker's name

    _OPTIONAL = ("isolation", "isolation_detail", "started", "input_hash", "worker")

    def total(self) -> None:
        """Sum the notebooks' scores, and mark the result for review when any flag asks for it."""
        scores = [s for nb in self.notebooks.values() for s in nb["scores"].values()]
        self.score = sum(s for s, _ in scores if s is not None)
        self.max_score = sum(m for _, m in scores)
        self.needs_review = any(f["level"] == REVIEW for nb in self.notebooks.values() for f in nb["flags"]) \
            or any(f["level"] == REVIEW for f in self.flags)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in self._OPTIONAL:
            if d[k] is None:
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @classmethod
    def failed(cls, job: Job, code: str, message: str) -> "Result":
        """The result of a job the grader could not finish: every graded cell 0, flagged for review."""
        notebooks = {}
        for nb in job.spec["notebooks"]:
            scores = {g: [0.0, float(c.get("points") or 0)] for g, c in nb["cells"].items() if c.get("grade")}
            notebooks[nb["name"]] = {"name": nb["name"], "scores": scores, "cells": [], "timings": {},
                                     "flags": [Flag(code, message)]}
        out = cls(job.student, job.assignment, notebooks, timestamp=job.timestamp, engine="failed",
                  input_hash=job.input_hash)
        out.total()
        return out




LEVELS = ("bwrap", "landlock", "process")

LANDLOCK_LIMITS = ("at the 'landlock' level the kernel reads only its own files, but /proc and /sys of the "
                   "machine stay readable: every process's command line and environment-free status, and the "
                   "control groups")

PROCESS_UNPROTECTED = ("at the 'process' isolation level nothing but the grader's process limits and a Python "
                       "audit hook stands between a submission and the grading machine: native code "
                       "(ctypes, _posixsubprocess, compiled extensions) can read the gradebook, the "
                       "solutions and other students' folders wherever the kernel's user may, and "
                       "can use the network")


class IsolationUnavailable(RuntimeError):
    """Neither bubblewrap nor Landlock works here, and the ``process`` level was not asked for."""


@dataclass
class Limits:
    """Resource limits of one submission's student kernel."""

    cell_timeout: float = 90.0          # seconds per cell (test cells included)
    notebook_timeout: float = 900.0     # seconds for the whole notebook
    memory_mb: int = 4096               # RLIMIT_DATA of the kernel (heap and anonymous memory)
    threads: int = 1                    # OMP/MKL/torch threads of the kernel and the tester
    file_size_mb: int = 256             # largest file the kernel may write
    open_files: int = 1024
    extra_processes: int = 64           # RLIMIT_NPROC headroom above the user's current count
    output_bytes_per_cell: int = 200_000
    disk_mb: int = 1024                 # everything the kernel may write in its folder, all files together
    notebook_mb: int = 20               # largest notebook file that is read at all
    max_cells: int = 5000               # most cells a submitted notebook may have

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Isolation:
    level: str
    bwrap: str | None = None
    landlock_abi: int = 0
    userns: bool = False
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = {"bwrap": "bubblewrap namespaces (no network, private filesystem)",
                 "landlock": f"Landlock ABI {self.landlock_abi} filesystem/network rules"
                             + (" + user/network namespaces" if self.userns else "")
                             + "; the machine's processes stay visible in /proc (asked for explicitly)",
                 "process": "process limits and an audit hook only (asked for explicitly)"}
        return parts[self.level]



# ============================================================================ the one spec builder
def cell_record(cell_type: str, source: str, *, locked: bool = False, checksum: str | None = None,
                grade: bool = False, solution: bool = False, task: bool = False, points: float | None = None) -> dict:
    """One cell of a :class:`NotebookSpec` (what the gradebook records of it; ``points`` where known)."""
    out = {"cell_type": cell_type, "locked": bool(locked), "source": source, "checksum": checksum,
           "grade": bool(grade), "solution": bool(solution), "task": bool(task)}
    if points is not None:
        out["points"] = float(points or 0)
    return out


def notebook_spec(path: Path, name: str | None = None, instructor: bool = True) -> NotebookSpec:
    """The spec of one notebook read from its file. ``instructor``: the instructor's notebook, recorded
    as ``generate_assignment`` would (grade cells locked, checksums computed, hidden tests included);
    otherwise a released notebook, taken as it stands (its recorded checksums)."""
    import nbformat
    from nbgrader.utils import compute_checksum

    nb = nbformat.read(str(path), as_version=4)
    cells, order = {}, []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        gid = meta.get("grade_id")
        if not gid:
            continue
        order.append(gid)
        locked = bool(meta.get("locked") or (instructor and meta.get("grade")))
        checksum = meta.get("checksum")
        if instructor:
            probe = nbformat.from_dict(dict(cell))
            probe.metadata["nbgrader"] = dict(meta, locked=locked)
            checksum = compute_checksum(probe)
        cells[gid] = cell_record(cell.cell_type, cell.source, locked=locked, checksum=checksum,
                                 grade=meta.get("grade"), solution=meta.get("solution"), task=meta.get("task"),
                                 points=meta.get("points") or 0)
    return NotebookSpec(name or Path(path).stem, str(path), cells, order, nb.metadata.get("kernelspec"))


def assignment_of(notebooks: list[NotebookSpec], name: str, source_dir: str | Path,
                  release_dir: str | Path | None = None, mode: str = "grade", **options) -> AssignmentSpec:
    """An :class:`AssignmentSpec` (``options``: ignore_pattern, max_lines, max_traceback)."""
    return AssignmentSpec(name=name, notebooks=list(notebooks), source_dir=str(source_dir),
                          release_dir=str(release_dir) if release_dir is not None else None, mode=mode, **options)
