"""Reading a submitted notebook file, and finding it in a submission folder."""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat

from ..model import INFO, Flag, Limits, NotebookSpec
from .jsonlimits import refusal


def read_submission(path: Path, max_bytes: int = Limits.notebook_mb << 20,
                    max_cells: int = Limits.max_cells) -> tuple[object | None, list[dict]]:
    """Read a notebook file; return (notebook or None, flags).

    A file over ``max_bytes`` is not read at all, one whose JSON nests or branches beyond a notebook's
    (:mod:`.jsonlimits`) is not parsed, and one with more than ``max_cells`` cells is not
    validated or converted (nbformat's validation of a 300k-cell notebook takes minutes and GBs in the
    grading worker, outside any sandbox): both are flagged and score 0, and the batch goes on."""
    flags: list[dict] = []
    if path.is_symlink():
        return None, [Flag("linked_file", f"{path.name} is a symbolic link; links are never followed, so it "
                                          "was not graded")]
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, [Flag("notebook_too_large", f"{path.name} is {size / 2 ** 20:.1f} MiB, more than the "
                                                     f"{max_bytes / 2 ** 20:.0f} MiB a notebook may have; it was "
                                                     "not graded")]
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        return None, [Flag("unreadable_file", f"{path.name} could not be read: {e}")]
    if len(raw) > max_bytes:
        return None, [Flag("notebook_too_large", f"{path.name} is more than the {max_bytes / 2 ** 20:.0f} MiB "
                                                 "a notebook may have; it was not graded")]
    if not raw.strip():
        return None, [Flag("empty_file", f"{path.name} is empty (0 bytes of notebook)")]
    why = refusal(raw)
    if why:
        return None, [Flag("notebook_too_complex", f"{path.name}: {why}; it was not parsed or graded")]
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as e:
        return None, [Flag("invalid_json", f"{path.name} is not valid notebook JSON ({str(e)[:200]}); the file is "
                                            "probably truncated or was edited outside Jupyter")]
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        return None, [Flag("not_a_notebook", f"{path.name} is JSON but not a notebook")]
    cells = data.get("cells")
    if not isinstance(cells, list):
        sheets = data.get("worksheets")
        cells = [c for w in sheets if isinstance(w, dict) for c in (w.get("cells") or [])] \
            if isinstance(sheets, list) else []
    if len(cells) > max_cells:
        return None, [Flag("too_many_cells", f"{path.name} has {len(cells)} cells, more than the {max_cells} a "
                                             "notebook may have; it was not graded")]
    major = data.get("nbformat", 4)
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as e:
        return None, [Flag("invalid_notebook", f"{path.name} could not be read as a notebook: {e}")]
    if isinstance(major, int) and major < 4:
        flags.append(Flag("old_nbformat", f"{path.name} was saved in nbformat {major}; it was converted "
                                          "to nbformat 4 for grading", level=INFO))
    for cell in nb.cells:
        cell.setdefault("metadata", {})
        if cell.cell_type == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    return nb, flags


def grade_ids_of(nb) -> set[str]:
    out = set()
    for cell in getattr(nb, "cells", []):
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            out.add(meta["grade_id"])
    return out


def find_notebook_file(folder: Path, spec: NotebookSpec, taken: set[str]) -> tuple[Path | None, list[dict]]:
    """The submitted file of notebook ``spec``: by name, else the ``.ipynb`` whose cell ids match best."""
    exact = folder / f"{spec.name}.ipynb"
    if exact.exists():
        return exact, []
    best, best_score = None, 0
    ids = set(spec.cells)
    for cand in sorted(folder.glob("*.ipynb")) + sorted(folder.glob("*/*.ipynb")):
        if cand.name in taken or ".ipynb_checkpoints" in cand.parts:
            continue
        if cand.is_symlink() or cand.parent.is_symlink():      # never follow a link out of the submission
            continue
        nb, _ = read_submission(cand)
        score = len(grade_ids_of(nb) & ids) if nb is not None else 0
        if score > best_score:
            best, best_score = cand, score
    if best is not None and best_score >= max(1, len(ids) // 3):
        return best, [Flag("renamed_notebook", f"no {spec.name}.ipynb was submitted; {best.name} holds its "
                                               f"cells ({best_score} of {len(ids)} nbgrader ids) and was "
                                               "graded in its place", level=INFO)]
    return None, [Flag("missing_notebook", f"{spec.name}.ipynb was not submitted")]


