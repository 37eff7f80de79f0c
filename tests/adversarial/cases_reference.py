"""Submissions that answer with the reference answers handed out with the assignment.

The fixture assignment ships ``fx_reference.py`` (as the course ships ``dlnlp.reference``) and declares
in ``reference_answers.json`` which of its objects answers which exercise. While an exercise's tests
run, the student kernel refuses its reference answer (``autograder/grading/host/withheld.py``), so every
wrapper of it fails those tests, and the use is flagged twice: at run time (``reference_answer_called``)
and in the code (``reference_answer_in_code``). The answers of other exercises stay usable. A pasted
copy of the reference source is correct code of the student's own kernel: it keeps its points and is
flagged as ``similar_to_reference``.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

from .cases import CORRECT, WRONG, Case, answered, mixed

CALLED = ("reference_answer_called", "reference_answer_in_code")

DIRECT = {
    "ex1_scale": "import fx_reference as _r\ndef scale(x, a):\n    return _r.scale(x, a)",
    "ex2_softmax": "import fx_reference as _r\ndef softmax(*args, **kwargs):\n    return _r.softmax(*args, **kwargs)",
    "ex3_affine": "import fx_reference as _r\nclass Affine(_r.Affine):\n    pass",
    "ex4_count_words": "import fx_reference\ndef count_words(text):\n    return fx_reference.count_words(text)",
}
IMPORTLIB = {
    "ex1_scale": "import importlib\n_m = importlib.import_module('fx_reference')\n"
                 "def scale(x, a):\n    return _m.scale(x, a)",
    "ex2_softmax": "import importlib\nsoftmax = importlib.import_module('fx_' + 'reference').softmax",
    "ex3_affine": "import importlib\n_m = importlib.import_module('fx_reference')\n"
                  "class Affine(_m.Affine):\n    def forward(self, x):\n        return super().forward(x)",
    "ex4_count_words": "import importlib\ndef count_words(text):\n"
                       "    return importlib.import_module('fx_reference').count_words(text)",
}
DUNDER = {
    "ex1_scale": "scale = getattr(__import__('fx_reference'), 'scale')",
    "ex2_softmax": "def softmax(z):\n    return getattr(__import__('fx_reference'), 'soft' + 'max')(z)",
    "ex3_affine": "Affine = __import__('fx_reference').Affine",
    "ex4_count_words": "import sys\nimport fx_reference\ncount_words = sys.modules['fx_reference'].count_words",
}
ALIASES = {
    "ex1_scale": "from fx_reference import scale",
    "ex2_softmax": "from fx_reference import softmax as _s\nsoftmax = _s",
    "ex3_affine": "from fx_reference import *",
    "ex4_count_words": "from fx_reference import count_words",
}

# Attempts to get the reference answer past the trip-wire at run time, then a wrapper of whatever
# they got. Each attempt is refused (or yields the checked code again), so the tests still fail.
AROUND_THE_WIRE = textwrap.dedent("""\
    import gc, importlib, sys, types
    import fx_reference as _r
    _got = {}
    def _try(label, fn):
        try:
            _got[label] = fn()
        except Exception as e:
            _got[label] = e
    _try("source", lambda: open(_r.__file__).read())
    _try("source via inspect", lambda: __import__("inspect").getsource(_r))
    _try("gc", lambda: [o for o in gc.get_objects() if getattr(o, "__name__", "") == "scale"])
    _try("code", lambda: _r.scale.__code__.replace(co_consts=(None,)))
    _try("trace", lambda: sys.settrace(lambda *a: None))
    def _fresh():
        sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != "autograder.grading.inside.withheld"]
        sys.modules.pop("fx_reference", None)
        return importlib.import_module("fx_reference")
    _try("fresh import", _fresh)
    _src = _got["source"] if isinstance(_got["source"], str) else None
    _ns = {}
    if _src:
        exec(_src, _ns)
    _mod = _got["fresh import"] if isinstance(_got["fresh import"], types.ModuleType) else _r
    _fns = {k: _ns.get(k) or getattr(_mod, k) for k in ("scale", "softmax", "Affine", "count_words")}
    def scale(x, a):
        return _fns["scale"](x, a)
    def softmax(z):
        return _fns["softmax"](z)
    class Affine(_fns["Affine"]):
        pass
    def count_words(text):
        return _fns["count_words"](text)
""")

# correct answers; the affine layer builds on the reference answer of exercise 1 (allowed)
OTHER_EXERCISE = mixed(ex3_affine=CORRECT["ex3_affine"].replace(
    "return x @ self.W.T + self.b", "import fx_reference\n        return fx_reference.scale(x @ self.W.T, 1.0) + self.b"))


def _pasted(ctx) -> None:
    """The reference source pasted into each answer cell."""
    src = (Path(ctx.course_root) / "solutions" / "fx_ops" / "fx_reference.py").read_text()
    import ast
    tree = ast.parse(src)
    defs = {n.name: ast.get_source_segment(src, n) for n in tree.body if hasattr(n, "name")}
    answers = {"ex1_scale": "import torch\n" + defs["scale"], "ex2_softmax": "import torch\n" + defs["softmax"],
               "ex3_affine": "import torch\n" + defs["Affine"],
               "ex4_count_words": defs["count_words"]}
    answered(answers)(ctx)


CASES = [
    Case("reference_call", "every answer calls (or subclasses) its reference answer, imported directly",
         answered(DIRECT), 0, flags=CALLED, review=True),
    Case("reference_importlib", "every answer reaches its reference answer through importlib.import_module",
         answered(IMPORTLIB), 0, flags=CALLED, review=True),
    Case("reference_dunder", "__import__, getattr with strings and sys.modules", answered(DUNDER), 0,
         flags=CALLED, review=True),
    Case("reference_alias", "the reference answers bound under the exercise's names (from ... import)",
         answered(ALIASES), 0, flags=CALLED, review=True),
    Case("reference_subclass", "wrong answers, and a class that subclasses the reference answer",
         answered(mixed(**{k: v for k, v in WRONG.items() if k != "ex3_affine"}, ex3_affine=DIRECT["ex3_affine"])),
         0, flags=CALLED, review=True),
    Case("reference_around_the_wire", "reads the reference source, gc, rebuilt code, trace functions and "
         "a fresh import to get around the trip-wire, then wraps what it got",
         answered({k: ("pass" if k != "ex1_scale" else AROUND_THE_WIRE) for k in CORRECT}), 0,
         flags=("reference_answer_called",), review=True),
    # The fixture's reference answers are a few lines each: pasted, they cannot be told from an answer that
    # can be written only one way, and such answers are never reported; every course reference long enough
    # is (tests/test_grading_similarity.py).
    Case("reference_pasted", "the fixture's short reference source pasted into the answer cells", _pasted, 100,
         review=False),
    Case("reference_of_another_exercise", "correct answers; one builds on the reference answer of another "
         "exercise (allowed)", answered(OTHER_EXERCISE), 100, review=False),
]
