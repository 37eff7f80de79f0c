"""nbgrader's autograde sanitising against the spec, with a flag for every change it makes."""
from __future__ import annotations

import json

from ..model import Flag, NotebookSpec
from .read import grade_ids_of


class _Snapshot:
    """The part of nbgrader's Gradebook API that its sanitising preprocessors use, backed by a spec."""

    class _Obj:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    def __init__(self, spec: NotebookSpec):
        self.spec = spec
        cells = spec.cells
        self._source = {g: self._Obj(name=g, cell_type=c["cell_type"], locked=bool(c.get("locked")),
                                     source=c["source"], checksum=c.get("checksum"))
                        for g, c in cells.items()}
        self._graded = {g: self._Obj(name=g, max_score=float(c.get("points") or 0), cell_type=c["cell_type"])
                        for g, c in cells.items() if c.get("grade")}
        self._nb = self._Obj(
            source_cells=[self._source[g] for g in spec.order],
            grade_cells=[self._graded[g] for g in spec.order if g in self._graded],
            solution_cells=[self._source[g] for g in spec.order if cells[g].get("solution")],
            task_cells=[self._graded.get(g) or self._Obj(name=g, max_score=float(cells[g].get("points") or 0))
                        for g in spec.order if cells[g].get("task")],
            kernelspec=json.dumps(spec.kernelspec) if spec.kernelspec else None)

    def find_source_cell(self, name, notebook, assignment):
        from nbgrader.api import MissingEntry
        if name not in self._source:
            raise MissingEntry()
        return self._source[name]

    def find_graded_cell(self, name, notebook, assignment):
        from nbgrader.api import MissingEntry
        if name not in self._graded:
            raise MissingEntry()
        return self._graded[name]

    def find_notebook(self, notebook, assignment):
        return self._nb

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False




def _repair_metadata(nb, spec: NotebookSpec, flags: list[dict]) -> None:
    """Make the nbgrader metadata valid before nbgrader's own checks run (a student could corrupt it)."""
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    validator = MetadataValidator()
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {})
        if "nbgrader" not in meta:
            continue
        nbg = meta.get("nbgrader")
        gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
        if isinstance(gid, str) and gid not in spec.cells and isinstance(nbg, dict) and (
                nbg.get("grade") or nbg.get("solution") or nbg.get("locked") or nbg.get("task")):
            del meta["nbgrader"]            # a cell the gradebook does not know (e.g. a forged grade cell)
            flags.append(Flag("unknown_cell_id", f"cell {gid!r} is not in the gradebook; its nbgrader "
                                                 "metadata was removed and it was not graded", cell=gid))
            continue
        try:
            if not isinstance(nbg, dict):
                raise ValidationError("not a dict")
            validator.upgrade_cell_metadata(cell)
            validator.validate_cell(cell)
        except Exception:
            if isinstance(gid, str) and gid in spec.cells:
                src = spec.cells[gid]
                meta["nbgrader"] = {"grade": bool(src.get("grade")), "solution": bool(src.get("solution")),
                                    "locked": bool(src.get("locked")), "grade_id": gid,
                                    "schema_version": 3, "task": bool(src.get("task"))}
                if src.get("grade") or src.get("task"):
                    meta["nbgrader"]["points"] = float(src.get("points") or 0)
                if src.get("cell_type") != cell.cell_type:
                    cell.cell_type = src.get("cell_type")
                flags.append(Flag("metadata_edited", f"the nbgrader metadata of cell {gid} was invalid and "
                                                     "was restored from the gradebook", cell=gid))
            else:
                del meta["nbgrader"]
                flags.append(Flag("metadata_edited", f"cell {i} had invalid nbgrader metadata; it was removed"))


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in str(text).strip().splitlines())


def released_source(source: str) -> str:
    """What ``generate_assignment`` hands out for a cell: its hidden-test region removed."""
    lines, out, inside = str(source).split("\n"), [], False
    for line in lines:
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "END HIDDEN TESTS" in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def edits(nb, spec: NotebookSpec) -> list[dict]:
    """What nbgrader's DeduplicateIds and OverwriteCells will undo in ``nb``, found by comparing it with
    the spec: copies of a cell id (the last copy is kept), unknown ids, and edited cell types, locks and
    points."""
    from nbgrader import utils

    flags, seen, copies = [], set(), set()
    for i in reversed(range(len(nb.cells))):
        cell = nb.cells[i]
        if not (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_locked(cell)):
            continue
        gid = cell.metadata["nbgrader"].get("grade_id")
        if gid in seen:
            copies.add(i)
            flags.append(Flag("duplicate_cell_id", f"Cell with id '{gid}' exists multiple times! "
                                                   "(only the last copy is graded)"))
        seen.add(gid)
    for i, cell in enumerate(nb.cells):
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid is None or i in copies:
            continue
        src = spec.cells.get(gid)
        if src is None:
            flags.append(Flag("unknown_cell_id", f"Cell '{gid}' does not exist in the database (its nbgrader "
                                                 "metadata was removed)"))
            continue
        changed = []
        if cell.cell_type != src["cell_type"]:
            changed.append("cell type")
        if utils.is_locked(cell) != bool(src.get("locked")):
            changed.append("locked status")
        if utils.is_grade(cell) and float(cell.metadata["nbgrader"]["points"]) != float(src.get("points") or 0):
            changed.append("points")
        for what in changed:
            flags.append(Flag(f"edited_{what.replace(' ', '_')}", f"cell {gid}: its {what} was edited; it was "
                                                                  "restored from the gradebook", cell=gid))
    return flags


def sanitize(nb, spec: NotebookSpec, assignment: str) -> tuple[object, list[dict]]:
    """nbgrader's autograde sanitising (ClearOutput, DeduplicateIds, OverwriteKernelspec,
    OverwriteCells with missing cells added back, CheckCellMetadata) against the spec."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells

    flags: list[dict] = []
    _repair_metadata(nb, spec, flags)
    known_grade = set(spec.grade_ids)
    before = grade_ids_of(nb)
    submitted = {}
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if isinstance(gid, str) and gid not in submitted:
            submitted[gid] = cell.source if isinstance(cell.source, str) else ""
    flags += edits(nb, spec)
    resources = {"nbgrader": {"notebook": spec.name, "assignment": assignment, "db_url": "snapshot://"}}

    class _Overwrite(OverwriteCells):
        def preprocess(self, nb_, res):
            self.notebook_id = spec.name
            self.assignment_id = assignment
            self.gradebook = _Snapshot(spec)
            nb_, res = super(OverwriteCells, self).preprocess(nb_, res)
            return self._add_missing(nb_), res

        def _add_missing(self, nb_):
            present = {}
            for idx, cell in enumerate(nb_.cells):
                gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
                if gid:
                    present[gid] = idx
            for gid in spec.order:
                c = spec.cells[gid]
                if gid in present or not (c.get("grade") or c.get("task")):
                    continue
                src = self.gradebook.find_source_cell(gid, spec.name, assignment)
                new = self.missing_cell_transform(src, float(c.get("points") or 0),
                                                  is_solution=bool(c.get("solution")), is_task=bool(c.get("task")))
                # after the nearest earlier cell of the source that is present
                pos = 0
                for prev in spec.order[: spec.order.index(gid)]:
                    if prev in present:
                        pos = present[prev] + 1
                nb_.cells.insert(pos, new)
                present = {k: (v + 1 if v >= pos else v) for k, v in present.items()}
                present[gid] = pos
            return nb_

    for pp in (ClearOutput(), DeduplicateIds(), _Overwrite(), CheckCellMetadata()):
        pp.log.propagate = False         # what they change is flagged above, by comparison
        nb, resources = pp.preprocess(nb, resources)
    if spec.kernelspec:
        nb.metadata["kernelspec"] = spec.kernelspec
    for gid, text in submitted.items():
        c = spec.cells.get(gid)
        if c is None or not c.get("locked"):
            continue
        if _norm(text) not in (_norm(c["source"]), _norm(released_source(c["source"]))):
            flags.append(Flag("edited_locked_cell", f"the locked cell {gid} was edited; the gradebook's "
                                                    "version was graded instead", cell=gid))
    missing = [g for g in spec.order if g in known_grade and g not in before]
    for gid in missing:
        flags.append(Flag("restored_missing_cell", f"graded cell {gid} was missing from the submission "
                                                   "and was added back", cell=gid))
    return nb, flags


