"""The reference answers withheld while their own exercise is graded (``autograder/grading/tripwire.py``).

* the table of which reference objects answer which exercise covers every exercise of every notebook
  and names objects that exist;
* in a kernel with the wire active (a subprocess: an audit hook cannot be removed), every way of
  reaching the answer of the exercise under test is refused, the answers of other exercises keep
  working, the wire cannot be disarmed or its report forged without the kernel's secret;
* the static check flags every wrapping style and none of the course's own solutions;
* on the real course notebooks, submissions that wrap the reference lose exactly the wrapped
  exercises, with flags, while their honest answers keep their points.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat
import pytest

from autograder.course import assignments, source_path
from autograder.grading.notebook.answers import COURSE_ANSWERS, answers_for, exercise_of, static_flags

ROOT = Path(__file__).resolve().parents[1]

# names the course's exercises give to a reference object of another name
ALIASES = {"reorder_state": "_index_state", "load_gpt2_weights": "load_hf_gpt2", "sequence_loss": "seq2seq_loss"}


def _solution_ids(name: str) -> list[str]:
    nb = nbformat.read(str(source_path(name)), as_version=4)
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if (c.metadata.get("nbgrader") or {}).get("solution")]


# ------------------------------------------------------------------------------------------ the table
@pytest.mark.parametrize("name", assignments())
def test_table_covers_every_exercise(name):
    assert name in COURSE_ANSWERS, f"{name} has no entry in tripwire.COURSE_ANSWERS"
    assert sorted(COURSE_ANSWERS[name]) == sorted(_solution_ids(name))
    for ex, quals in COURSE_ANSWERS[name].items():
        for q in quals:
            mod, _, attr = q.rpartition(".")
            obj = getattr(importlib.import_module(mod), attr)
            assert getattr(obj, "__module__", None) == mod, f"{q} is not defined in {mod}"


def test_exercise_of_test_cells():
    exs = ["ex1_attention", "ex1_attention_more", "ex2_masks"]
    assert exercise_of("ex1_attention_visible", exs) == "ex1_attention"
    assert exercise_of("ex1_attention_more_hidden", exs) == "ex1_attention_more"
    assert exercise_of("check_masks", exs, ["ex1_attention", "ex2_masks", "check_masks"]) == "ex2_masks"
    assert exercise_of("ex3_other_hidden", exs) is None


# ------------------------------------------------------------------------------------------ the kernel's end
KERNEL = textwrap.dedent(r'''
    import json, sys, gc, importlib, types
    from autograder.grading.host.tripwire import Wire
    from autograder.grading.inside import tripwire
    answers = json.loads(sys.argv[1])
    wire = Wire(answers)
    cfg = wire.init()
    control = tripwire.activate(cfg)
    assert "key" not in cfg
    out = {}
    def attempt(label, fn):
        try:
            fn()
            out[label] = "ok"
        except tripwire.ReferenceWithheld:
            out[label] = "withheld"
        except PermissionError:
            out[label] = "refused"
        except Exception as e:
            out[label] = f"{type(e).__name__}: {e}"[:200]
    import torch
    from dlnlp.reference import transformer as ref
    q = torch.randn(2, 3, 4)
    early = ref.MultiHeadAttention(4, 2)                # made before the wire was armed
    attempt("unarmed call", lambda: ref.scaled_dot_product_attention(q, q, q))
    control(wire.message("arm", "ex1_attention"))
    attempt("direct", lambda: ref.scaled_dot_product_attention(q, q, q))
    attempt("importlib", lambda: importlib.import_module("dlnlp.reference.transformer").scaled_dot_product_attention(q, q, q))
    attempt("__import__", lambda: getattr(__import__("dlnlp.reference.transformer", fromlist=["x"]), "scaled_dot_product_attention")(q, q, q))
    attempt("sys.modules", lambda: sys.modules["dlnlp.reference.transformer"].scaled_dot_product_attention(q, q, q))
    attempt("reload", lambda: importlib.reload(ref).scaled_dot_product_attention(q, q, q))
    f = ref.scaled_dot_product_attention
    attempt("rebuilt function", lambda: types.FunctionType(f.__code__, dict(vars(ref)), None, f.__defaults__)(q, q, q))
    attempt("globals rebound", lambda: (setattr(ref, "sys", None), ref.scaled_dot_product_attention(q, q, q)))
    attempt("other exercise", lambda: ref.split_heads(q, 2))
    attempt("other module", lambda: __import__("dlnlp.reference.gpt", fromlist=["x"]).bigram_nll(torch.tensor([0, 1, 1]), torch.tensor([1, 0]), 2))
    attempt("read source", lambda: open(ref.__file__).read())
    attempt("inspect source", lambda: __import__("inspect").getsource(ref.scaled_dot_product_attention))
    attempt("gc", lambda: gc.get_objects())
    attempt("gc referents", lambda: gc.get_referents(ref.scaled_dot_product_attention))
    attempt("code replace", lambda: ref.scaled_dot_product_attention.__code__.replace(co_consts=()))
    attempt("marshal", lambda: __import__("marshal").dumps(ref.scaled_dot_product_attention.__code__))
    attempt("settrace", lambda: sys.settrace(lambda *a: None))
    attempt("forged disarm", lambda: (control({"cmd": "disarm", "ex": "", "seq": 99, "mac": "0" * 64}),
                                      ref.scaled_dot_product_attention(q, q, q)))
    report = control(wire.message("disarm", "ex1_attention"))
    out["report"] = wire.verify(report)
    out["forged report"] = wire.verify(dict(report, trips=[]))
    attempt("disarmed", lambda: ref.scaled_dot_product_attention(q, q, q))
    control(wire.message("arm", "ex4_mha"))
    class Sub(ref.MultiHeadAttention):
        pass
    attempt("subclass", lambda: Sub(4, 2))
    attempt("instance made earlier", lambda: early(q, q, q))
    attempt("alias", lambda: (lambda M: M(4, 2))(ref.MultiHeadAttention))
    attempt("sdpa while ex4", lambda: ref.scaled_dot_product_attention(q, q, q))
    out["report ex4"] = wire.verify(control(wire.message("disarm", "ex4_mha")))
    print(json.dumps(out))
''')


def test_wire_in_a_kernel():
    answers = {k: list(v) for k, v in COURSE_ANSWERS["07_self_attention"].items()}
    r = subprocess.run([sys.executable, "-c", KERNEL, json.dumps(answers)], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["unarmed call"] == "ok"
    for label in ("direct", "importlib", "__import__", "sys.modules", "reload", "rebuilt function",
                  "globals rebound", "forged disarm"):
        assert out[label] == "withheld", (label, out)
    for label in ("other exercise", "other module", "disarmed", "sdpa while ex4"):
        assert out[label] == "ok", (label, out)
    for label in ("read source", "inspect source", "gc", "gc referents", "code replace", "marshal", "settrace"):
        assert out[label] in ("refused", "OSError: could not get source code"), (label, out)
    assert out["report"] == ["dlnlp.reference.transformer.scaled_dot_product_attention"]
    assert out["forged report"] is None
    for label in ("subclass", "instance made earlier", "alias"):
        assert out[label] == "withheld", (label, out)
    assert out["report ex4"] == ["dlnlp.reference.transformer.MultiHeadAttention"]


# ------------------------------------------------------------------------------------------ the static check
STYLES = {
    "direct": "import dlnlp.reference.transformer as t\ndef scaled_dot_product_attention(*a, **k):\n"
              "    return t.scaled_dot_product_attention(*a, **k)",
    "notebook alias": "def scaled_dot_product_attention(q, k, v, mask=None):\n"
                      "    return ref.scaled_dot_product_attention(q, k, v, mask)",
    "from import": "from dlnlp.reference.transformer import scaled_dot_product_attention",
    "dotted": "import dlnlp.reference.transformer\n"
              "scaled_dot_product_attention = dlnlp.reference.transformer.scaled_dot_product_attention",
    "importlib": "import importlib\nm = importlib.import_module('dlnlp.reference.transformer')\n"
                 "scaled_dot_product_attention = m.scaled_dot_product_attention",
    "__import__ getattr": "f = getattr(__import__('dlnlp.reference.transformer', fromlist=['_']), "
                          "'scaled_dot_product_attention')\nscaled_dot_product_attention = f",
    "sys.modules": "import sys\nscaled_dot_product_attention = sys.modules['dlnlp.reference.transformer']"
                   ".scaled_dot_product_attention",
}


def _with_cell(name: str, gid: str, source: str):
    nb = nbformat.read(str(source_path(name)), as_version=4)
    for cell in nb.cells:
        if (cell.metadata.get("nbgrader") or {}).get("grade_id") == gid:
            cell.source = source
    return nb


@pytest.mark.parametrize("style", sorted(STYLES))
def test_static_check_flags_every_style(style):
    nb = _with_cell("07_self_attention", "ex1_attention", STYLES[style])
    flags = static_flags(nb, answers_for("07_self_attention"))
    assert [ex for ex, _ in flags] == ["ex1_attention"], flags


def test_static_check_subclass():
    nb = _with_cell("07_self_attention", "ex4_mha", "class MultiHeadAttention(ref.MultiHeadAttention):\n    pass")
    assert [ex for ex, _ in static_flags(nb, answers_for("07_self_attention"))] == ["ex4_mha"]


@pytest.mark.parametrize("name", assignments())
def test_static_check_passes_the_solutions(name):
    # the solutions use other exercises' references (07's attention uses ref.split_heads): not flagged
    nb = nbformat.read(str(source_path(name)), as_version=4)
    assert static_flags(nb, answers_for(name)) == []


# ------------------------------------------------------------------------------------------ the course
def wrapper_cell(source: str, quals: list[str], style: str) -> str:
    """The solution cell with each answer replaced by a wrapper of its reference (``style``: direct
    call, ``importlib``, ``__import__``; classes are subclassed)."""
    import ast

    by_short = {q.rpartition(".")[2]: q.rpartition(".")[0] for q in quals}
    out, mods = [], {}
    for node in ast.parse(source).body:
        name = getattr(node, "name", None)
        ref = name if name in by_short else ALIASES.get(name or "")
        if not name or ref not in by_short:
            out.append(ast.unparse(node))
            continue
        alias = mods.setdefault(by_short[ref], f"_w{len(mods)}")
        if isinstance(node, ast.ClassDef):
            out.append(f"class {name}({alias}.{ref}):\n    pass")
        else:
            out.append(f"def {name}(*a, **k):\n    return {alias}.{ref}(*a, **k)")
    head = []
    for mod, alias in mods.items():
        head.append({"direct": f"import {mod} as {alias}",
                     "importlib": f"import importlib\n{alias} = importlib.import_module({mod!r})",
                     "__import__": f"{alias} = __import__({mod!r}, fromlist=['_'])"}[style])
    return "\n".join(head + out) + "\n"


def wrapped(name: str, style: str, every: int = 2):
    """The solution notebook with every other exercise that has a reference answer wrapped."""
    nb = nbformat.read(str(source_path(name)), as_version=4)
    table = COURSE_ANSWERS[name]
    done, i = [], 0
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if (cell.metadata.get("nbgrader") or {}).get("solution") and table.get(gid):
            if i % every == 0:
                cell.source = wrapper_cell(cell.source, table[gid], style)
                done.append(gid)
            i += 1
    return nb, done


@pytest.mark.xdist_group("grading")
@pytest.mark.parametrize("name,style", [("04_lstm_gru", "direct"), ("08_transformer", "importlib"),
                                        ("10_bert", "__import__")])
def test_wrapping_the_reference_earns_nothing(name, style):
    from autograder.grading.commands.fidelity import spec_from_source
    from autograder.grading.engine import grade_submission
    from autograder.grading.host.tester import shutdown_workers_cache
    from autograder.grading.model import Limits

    spec = spec_from_source(name)
    nb, done = wrapped(name, style)
    assert len(done) >= 2
    with tempfile.TemporaryDirectory() as tmp:
        nbformat.write(nb, str(Path(tmp) / f"{name}.ipynb"))
        try:
            rec = grade_submission(spec, "wrapper", tmp, Limits(cell_timeout=120, notebook_timeout=900, threads=1))
        finally:
            shutdown_workers_cache()
    entry = rec["notebooks"][name]
    solutions = _solution_ids(name)
    by_ex: dict[str, list[float]] = {}
    for gid, (got, most) in entry["scores"].items():
        ex = exercise_of(gid, solutions)
        by_ex.setdefault(ex, [0.0, 0.0])
        by_ex[ex][0] += got or 0
        by_ex[ex][1] += most
    flagged = {(f["code"], f.get("cell")) for f in entry["flags"]}
    detail = json.dumps({"scores": entry["scores"], "flags": entry["flags"]}, indent=1)[:6000]
    for ex, (got, most) in by_ex.items():
        if ex in done:
            assert got == 0, detail
            assert ("reference_answer_called", ex) in flagged, detail
            assert ("reference_answer_in_code", ex) in flagged, detail
        else:
            assert got == most, detail          # the honest answers keep their points
    assert rec["needs_review"]
