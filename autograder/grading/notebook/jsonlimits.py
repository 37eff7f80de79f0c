"""Whether a submitted JSON text may be parsed at all, decided without parsing it.

``json.loads`` builds every object of a file before anything can look at it: a notebook of 20 MiB made
of ``[{}, {}, ...]`` becomes some 7 million dicts (about 500 MB), and a deeply nested one exhausts
the parser's recursion. :func:`refusal` reads the text's skeleton first (its brackets outside
strings) in a few linear passes over the bytes: how many arrays and objects it opens and how deep
they nest. ``collect`` and the grader refuse a file over either limit before parsing it.
"""
from __future__ import annotations

import re
from itertools import accumulate

__all__ = ["MAX_DEPTH", "MAX_CONTAINERS", "refusal", "skeleton_stats"]

# The course's notebooks, solutions and released, nest at most 8 deep and open at most about 400
# arrays and objects (checked by tests/test_grading_collect.py); JSON outputs can nest deeper.
MAX_DEPTH = 64
MAX_CONTAINERS = 500_000

_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def skeleton_stats(raw: bytes, cap: int = MAX_CONTAINERS) -> tuple[int, int]:
    """(arrays and objects opened, deepest nesting) of the JSON text ``raw``, strings left out
    (the depth is 0 when more than ``cap`` are opened).

    Escapes go first: backslashes only occur inside strings, where they pair from the left, so
    removing ``\\\\`` and then ``\\"`` leaves every string as a plain ``"..."`` that one linear,
    non-backtracking pattern removes. A text that is not JSON gets some answer; the parser refuses
    it afterwards."""
    text = _STRING.sub(b"", raw.replace(b"\\\\", b"").replace(b'\\"', b""))
    brackets = text.translate(None, _NOT_BRACKETS)
    opened = brackets.count(b"[") + brackets.count(b"{")
    if opened > cap or len(brackets) > 2 * cap + 2:
        return opened, 0             # over the count (or not JSON): the depth is not worth the pass
    return opened, max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def refusal(raw: bytes, max_depth: int = MAX_DEPTH, max_containers: int = MAX_CONTAINERS) -> str | None:
    """Why the JSON text ``raw`` must not be parsed (it nests deeper or opens more arrays and objects
    than a notebook does), or ``None``."""
    opened, depth = skeleton_stats(raw, max_containers)
    if opened > max_containers:
        return f"it holds {opened} JSON arrays and objects, more than the {max_containers} a notebook may have"
    if depth > max_depth:
        return f"its JSON nests {depth} levels deep, more than the {max_depth} a notebook may"
    return None

