"""How much of an answer is someone else's code: the reference's, or another student's.

Each exercise's solution cell is fingerprinted with `copydetect <https://github.com/blingenf/copydetect>`_
(winnowed k-grams of the code, as in MOSS) after removing what every student is handed: the cell as released
(signature, docstring, comments). Two answers are compared by the share of one answer's fingerprints found in the other.

* :func:`reference_matches`: an answer against the source of the reference objects that answer its
  exercise (the answer list, :mod:`.answers`); used by the engine for every submission.
* :func:`batch_matches`: every pair of students of a batch, exercise by exercise; used by ``grade``
  after a batch.

A pair is reported for review when its score reaches :data:`THRESHOLD` and the shared code is at least
:data:`MIN_TOKENS` tokens long (:data:`REFERENCE_MIN_TOKENS` against the reference). Both were measured
on the course's own notebooks and on short answers written independently of the reference
(``tests/test_grading_similarity.py``, ``tests/fixtures/honest_answers.py``): see :data:`THRESHOLD`.

The result depends only on the code compared: copydetect hashes k-grams with Python's ``hash``, which
is salted per process (``PYTHONHASHSEED``), so winnowing kept different fingerprints from run to run;
here the k-grams are hashed with BLAKE2b instead, in every process that runs the comparison.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import re
from pathlib import Path

__all__ = ["THRESHOLD", "MIN_TOKENS", "REFERENCE_MIN_TOKENS", "NOISE", "WINDOW", "fingerprint", "score",
           "reference_source", "reference_matches", "batch_matches", "clusters", "solution_cells", "handed_out"]

NOISE = 10          # k: the length of a fingerprinted run (shorter matches are noise)
WINDOW = 4          # winnowing window: a run of NOISE + WINDOW - 1 is always detected
# Answers are compared as written (names, literals and comments kept): the course's own solutions
# follow the reference's structure closely (normalised, their median share of the reference is 0.85
# and 21 of 45 exceed 0.9), so structure alone cannot tell a paste from a correct answer. As written,
# on the 45 exercises that have a reference answer: solutions against the reference score at most 0.94
# (median 0.73), their 235 mutants at most 0.93, the released stubs at most 0.43, wrappers that call
# the reference at most 0.34, and the reference source pasted into the cell at least 0.93 (44 of 45
# at 0.95 or more). 0.95 flags a paste and no solution or mutant. MIN_TOKENS keeps short answers, which
# can only be written a few ways, from being flagged at all.
THRESHOLD = 0.95
MIN_TOKENS = 40
# Against the reference, short answers can be written only a few ways, and the notebooks' prose and
# docstrings lead to them: 16 answers to four short exercises (noam_lr, the masks, split/merge heads,
# attention) written independently of the reference (tests/fixtures/honest_answers.py) share up to
# 0.99 of their code with it, over at most 253 tokens; the reference pasted into the cell reaches the
# threshold in 44 of 45 exercises, over at least 416 tokens. A match with the reference needs 320 tokens.
REFERENCE_MIN_TOKENS = 320

_SOLUTION = re.compile(r"^[ \t]*#+[ \t]*BEGIN SOLUTION.*?^[ \t]*#+[ \t]*END SOLUTION[^\n]*\n?", re.M | re.S)
_STUB = re.compile(r"^[ \t]*(# YOUR CODE HERE|raise NotImplementedError\(\))[^\n]*\n?", re.M)


def handed_out(source: str) -> str:
    """What every student is given in the cell: the released cell without its answer region (nothing
    when the cell holds no answer region or stub to tell them apart)."""
    source = str(source)
    if not _SOLUTION.search(source) and not _STUB.search(source):
        return ""
    return _STUB.sub("", _SOLUTION.sub("", source))


def _clean(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in str(source).splitlines())


def _stable_kgrams(string, k):
    """copydetect's ``hashed_kgrams`` with a hash that is the same in every process (BLAKE2b, 64 bits)."""
    import numpy as np

    return np.array([int.from_bytes(hashlib.blake2b(string[i:i + k].encode("utf-8", "surrogatepass"),
                                                    digest_size=8).digest(), "little", signed=True)
                     for i in range(len(string) - k + 1)], dtype=np.int64)


def _deterministic() -> None:
    import copydetect.utils

    if copydetect.utils.hashed_kgrams is not _stable_kgrams:
        copydetect.utils.hashed_kgrams = _stable_kgrams


def fingerprint(source: str, boilerplate: str | None = None, normalise: bool = False):
    """copydetect's fingerprint of a Python snippet (``boilerplate`` removed). ``normalise``: names,
    literals and comments replaced by placeholders (structure only); else the code as written."""
    import copydetect
    import numpy as np

    _deterministic()

    bp = None
    if boilerplate and boilerplate.strip():
        bp = copydetect.CodeFingerprint("boilerplate.py", NOISE, WINDOW, fp=io.StringIO(_clean(boilerplate)),
                                        filter=normalise, language="python").hashes
        bp = np.array(sorted(bp), dtype=np.int64) if isinstance(bp, (set, frozenset)) else np.asarray(bp)
    return copydetect.CodeFingerprint("answer.py", NOISE, WINDOW, boilerplate=bp, fp=io.StringIO(_clean(source)),
                                      filter=normalise, language="python")


def score(a, b) -> tuple[float, int]:
    """(share of ``a``'s fingerprints found in ``b``, tokens of ``a`` in matched code)."""
    import copydetect

    if not len(a.hashes) or not len(b.hashes):
        return 0.0, 0
    overlap, (sim_a, _sim_b), _slices = copydetect.compare_files(a, b)
    return float(sim_a), int(overlap)


def reference_source(quals: list[str], search: list[Path] | None = None) -> str:
    """The source of the reference objects ``quals`` (``module.name``), from their modules' files."""
    by_module: dict[str, list[str]] = {}
    for q in quals:
        mod, _, name = q.rpartition(".")
        by_module.setdefault(mod, []).append(name)
    parts = []
    for mod, names in by_module.items():
        path = None
        try:
            spec = importlib.util.find_spec(mod)
            path = spec.origin if spec is not None else None
        except (ImportError, ValueError):
            path = None
        if not path:
            for d in search or []:
                cand = Path(d) / (mod.replace(".", "/") + ".py")
                if cand.is_file():
                    path = str(cand)
                    break
        if not path or not Path(path).is_file():
            continue
        text = Path(path).read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
                seg = ast.get_source_segment(text, node, padded=True) or ""
                lines = [ast.get_source_segment(text, d) for d in getattr(node, "decorator_list", [])]
                parts.append("\n".join([f"@{d}" for d in lines if d] + [seg]))
    return "\n\n".join(parts)


def solution_cells(nb) -> dict[str, str]:
    """grade_id -> source of the notebook's solution cells."""
    out = {}
    for cell in getattr(nb, "cells", []):
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        gid = meta.get("grade_id")
        if meta.get("solution") and isinstance(gid, str) and gid not in out and isinstance(cell.get("source"), str):
            out[gid] = cell["source"]
    return out


def reference_matches(nb, answers: dict[str, list[str]], handed: dict[str, str] | None = None,
                      search: list[Path] | None = None, threshold: float = THRESHOLD,
                      min_tokens: int = REFERENCE_MIN_TOKENS) -> list[tuple[str, float, str]]:
    """(exercise, score, message) for each answer that reproduces its exercise's reference source.
    ``handed``: the cell as released per exercise (default: the submitted cell's own frame)."""
    out = []
    for gid, src in solution_cells(nb).items():
        quals = answers.get(gid)
        if not quals:
            continue
        ref = reference_source(quals, search)
        if not ref.strip():
            continue
        bp = (handed or {}).get(gid, handed_out(src))
        s, tokens = score(fingerprint(src, bp), fingerprint(ref))
        if s >= threshold and tokens >= min_tokens:
            out.append((gid, round(s, 3), f"the answer to {gid} is close to the course's reference code "
                                          f"({', '.join(quals)}: similarity {s:.2f} over {tokens} tokens); a "
                                          f"person will look at it, and it costs no points by itself"))
    return out


def batch_matches(answers: dict[str, dict[str, str]], handed: dict[str, str] | None = None,
                  threshold: float = THRESHOLD, min_tokens: int = MIN_TOKENS) -> list[dict]:
    """Pairs of students whose answers to an exercise match: ``answers`` is student -> grade_id ->
    source. Returns ``{"exercise", "students": [a, b], "score", "tokens"}`` (score: the larger of the
    two directions), highest first."""
    by_ex: dict[str, dict[str, object]] = {}
    for student, cells in answers.items():
        for gid, src in cells.items():
            if handed is not None and gid not in handed:
                continue
            bp = (handed or {}).get(gid, handed_out(src))
            if not src.strip() or src.strip() == bp.strip():
                continue
            try:
                fp = fingerprint(src, bp)
            except Exception:
                continue
            if len(fp.hashes):
                by_ex.setdefault(gid, {})[student] = fp
    out = []
    for gid, fps in by_ex.items():
        names = sorted(fps)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                s_ab, t_ab = score(fps[a], fps[b])
                s_ba, t_ba = score(fps[b], fps[a])
                s, t = max((s_ab, t_ab), (s_ba, t_ba))
                if s >= threshold and t >= min_tokens:
                    out.append({"exercise": gid, "students": [a, b], "score": round(s, 3), "tokens": t})
    out.sort(key=lambda r: (-r["score"], r["exercise"], r["students"]))
    return out


def clusters(pairs: list[dict]) -> list[dict]:
    """The students linked by ``pairs`` (rows of :func:`batch_matches`, with ``notebook``), grouped per
    notebook and exercise into clusters (connected groups: a, b, c when a~b and b~c):
    ``{"notebook", "exercise", "students" (sorted), "pairs", "max_score"}``, largest first."""
    groups: dict[tuple, dict[str, str]] = {}
    found: dict[tuple, list[dict]] = {}
    for row in pairs:
        key = (row.get("notebook", ""), row["exercise"])
        parent = groups.setdefault(key, {})
        found.setdefault(key, []).append(row)

        def root(x, parent=parent):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        a, b = (root(x) for x in row["students"])
        if a != b:
            parent[max(a, b)] = min(a, b)
    out = []
    for key, parent in groups.items():
        members: dict[str, list[str]] = {}
        for x in list(parent):
            r = x
            while parent[r] != r:
                r = parent[r]
            members.setdefault(r, []).append(x)
        for students in members.values():
            inside = [p for p in found[key] if p["students"][0] in students]
            out.append({"notebook": key[0], "exercise": key[1], "students": sorted(students),
                        "pairs": len(inside), "max_score": max(float(p["score"]) for p in inside)})
    out.sort(key=lambda c: (-len(c["students"]), c["notebook"], c["exercise"], c["students"]))
    return out


def assignment_report(spec, folders: dict[str, Path], threshold: float = THRESHOLD,
                      min_tokens: int = MIN_TOKENS) -> dict:
    """The pairs of students of one assignment (``folders``: student -> submission folder) whose answers
    match, notebook by notebook, and the clusters they form (:func:`clusters`): ``{"assignment",
    "threshold", "min_tokens", "students", "pairs": [{"notebook", "exercise", "students", "score",
    "tokens"}], "clusters": [...]}``."""
    from .read import find_notebook_file, read_submission

    pairs = []
    for nbspec in spec.notebooks:
        handed = {g: handed_out(c.get("source", "")) for g, c in nbspec.cells.items() if c.get("solution")}
        answers: dict[str, dict[str, str]] = {}
        for student, folder in folders.items():
            try:
                path, _ = find_notebook_file(Path(folder), nbspec, set())
                nb, _ = read_submission(path) if path is not None else (None, [])
            except Exception:
                nb = None
            if nb is not None:
                answers[student] = {g: s for g, s in solution_cells(nb).items() if g in handed}
        for row in batch_matches(answers, handed, threshold, min_tokens):
            pairs.append(dict(row, notebook=nbspec.name))
    return {"assignment": spec.name, "threshold": threshold, "min_tokens": min_tokens,
            "students": len(folders), "pairs": pairs, "clusters": clusters(pairs)}
