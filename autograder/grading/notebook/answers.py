"""Which reference objects answer which exercise: course data kept beside each notebook.

``answers.json`` next to the instructor's notebook maps each exercise's grade id to the qualified names
of the objects that answer it (``{"ex4_mha": ["dlnlp.reference.transformer.MultiHeadAttention",
"dlnlp.fast._mha_forward"]}``): the reference answer, the helpers it delegates the work to, and every
other copy of it in the package. It holds names only, nothing secret. A notebook without the file has no
reference answers: nothing is withheld from its kernel and nothing is checked against a reference.

The grader uses the list three ways: the student kernel gets each answer only once its exercise is
graded (:mod:`..host.withheld`), :func:`static_flags` flags answer cells that use their own exercise's
reference, and :mod:`.similarity` compares the answers with the reference source.
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from ..model import INFO, Flag, NotebookSpec

__all__ = ["ANSWERS_FILE", "answers_for", "exercise_of", "static_flags", "reference_flags"]

ANSWERS_FILE = "answers.json"


def answers_for(source_path: str | os.PathLike) -> dict[str, list[str]]:
    """Exercise grade_id -> qualified names of the objects that answer it, from the ``answers.json``
    beside the instructor's notebook ``source_path`` ({} when there is none)."""
    f = Path(source_path).with_name(ANSWERS_FILE)
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(q) for q in v] for k, v in data.items() if isinstance(v, list)}


def exercise_of(test_id: str, exercises, order: list[str] | None = None) -> str | None:
    """The exercise a test cell grades: the longest exercise id that prefixes the test's id (the
    course's ``exN_name_visible``/``_hidden`` convention), else the nearest solution cell before it."""
    best = None
    for ex in exercises:
        if (test_id == ex or test_id.startswith(ex + "_")) and (best is None or len(ex) > len(best)):
            best = ex
    if best is None and order and test_id in order:
        for gid in reversed(order[: order.index(test_id)]):
            if gid in exercises:
                return gid
    return best




# ====================================================================== the static check
def _strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in str(source).splitlines())


def _folded(node) -> str | None:
    """The value of a string constant, or of a ``+`` of string constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _folded(node.left), _folded(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def _imports_by_name(node) -> bool:
    """``importlib.import_module(...)``, ``__import__(...)``, ``sys.modules[...]``."""
    if isinstance(node, ast.Call):
        f = node.func
        return (isinstance(f, ast.Name) and f.id in ("__import__", "import_module")) or \
            (isinstance(f, ast.Attribute) and f.attr in ("import_module", "__import__"))
    return isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "modules"


def static_flags(nb, exercises: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(exercise, message) for each solution cell that uses its own exercise's reference answer:
    imports of it, attribute or ``getattr`` access on a module that holds it (however the module was
    obtained: ``import``, ``importlib``, ``__import__``, ``sys.modules``), or its name next to the name
    of its module."""
    modules = {q.rpartition(".")[0] for qs in exercises.values() for q in qs}

    def module_aliases(tree) -> dict[str, str]:
        """Names an import binds to a module that holds answers -> that module."""
        found: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in modules and a.asname:
                        found[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    if full in modules:
                        found[a.asname or a.name] = full
        return found

    aliases: dict[str, str] = {}          # over the notebook; a cell's own imports take precedence
    trees = []
    for cell in getattr(nb, "cells", []):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_strip_magics(cell.get("source", "")))
        except SyntaxError:
            tree = None
        trees.append((cell, tree))
        if tree is not None:
            aliases.update(module_aliases(tree))
    out = []
    for cell, tree in trees:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        ex = meta.get("grade_id")
        if not meta.get("solution") or not exercises.get(ex):
            continue
        quals = exercises[ex]
        names = {q.rpartition(".")[2]: q for q in quals}
        hits: set[str] = set()
        if tree is None:
            continue
        strings = {v for v in map(_folded, ast.walk(tree)) if v}
        dynamic = any(m in s or ("." in m and m.partition(".")[2] in s) for s in strings for m in modules) \
            or any(_imports_by_name(n) for n in ast.walk(tree))
        local = dict(aliases)
        local.update(module_aliases(tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    q = f"{node.module}.{a.name}"
                    if q in quals or (a.name == "*" and any(x.rpartition(".")[0] == node.module for x in quals)):
                        hits.add(q if a.name != "*" else f"{node.module}.*")
            elif isinstance(node, ast.Attribute) and node.attr in names:
                base = node.value
                dotted = []
                while isinstance(base, ast.Attribute):
                    dotted.append(base.attr)
                    base = base.value
                if isinstance(base, ast.Name):
                    path = ".".join([base.id] + dotted[::-1])
                    home = names[node.attr].rpartition(".")[0]
                    if local.get(base.id) == home or path == home:
                        hits.add(names[node.attr])
                        continue
                if dynamic:
                    hits.add(names[node.attr])
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value in names:
                hits.add(names[node.args[1].value])
        if dynamic:
            hits.update(q for n, q in names.items() if n in strings)
        for q in sorted(hits):
            out.append((ex, f"the answer to {ex} uses {q}, the reference answer of this exercise"))
    return out


def reference_flags(nb, spec: NotebookSpec) -> list[dict]:
    """Review flags for answers that use their own exercise's reference (:func:`static_flags`)
    or copy its source (:func:`.similarity.reference_matches`)."""
    from . import similarity

    answers = {k: v for k, v in answers_for(spec.source_path).items() if v}
    if not answers:
        return []
    flags = []
    try:
        for ex, message in static_flags(nb, answers):
            flags.append(Flag("reference_answer_in_code", message, cell=ex))
        handed = {g: similarity.handed_out(c.get("source", "")) for g, c in spec.cells.items() if c.get("solution")}
        for ex, score, message in similarity.reference_matches(nb, answers, handed,
                                                               [Path(spec.source_path).parent]):
            flags.append(Flag("similar_to_reference", message, cell=ex))
    except Exception as e:          # a check that fails must not cost the student the grade
        flags.append(Flag("reference_check_failed", f"{type(e).__name__}: {e}"[:300], level=INFO))
    return flags


