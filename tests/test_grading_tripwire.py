"""The reference answers kept out of the student kernel until their exercise is graded.

* each notebook's answer list (``answers.json`` beside it) covers every exercise and names objects
  that exist, every copy in the package included;
* in a kernel given the withheld copy (a subprocess, as the grader starts one), every way of reaching
  an answer not yet revealed fails and is noted, the copy's files hold no answer's source, and a
  revealed answer works, also through the names bound before;
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
from autograder.grading.notebook.answers import answers_for, exercise_of, static_flags

ROOT = Path(__file__).resolve().parents[1]

# names the course's exercises give to a reference object of another name
ALIASES = {"reorder_state": "_index_state", "load_gpt2_weights": "load_hf_gpt2", "sequence_loss": "seq2seq_loss"}


def _solution_ids(name: str) -> list[str]:
    nb = nbformat.read(str(source_path(name)), as_version=4)
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if (c.metadata.get("nbgrader") or {}).get("solution")]


# ------------------------------------------------------------------------------------------ the table
@pytest.mark.parametrize("name", assignments())
def test_answer_list_covers_every_exercise(name):
    table = answers_for(source_path(name))
    assert table, f"{name} has no answers.json beside its notebook"
    assert sorted(table) == sorted(_solution_ids(name))
    for ex, quals in table.items():
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
    import importlib, inspect, json, sys, types
    answers, root, reveal = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    sys.path.insert(0, root)
    from autograder.grading.inside import withheld
    out = {}
    def attempt(label, fn):
        try:
            fn()
            out[label] = "ok"
        except withheld.ReferenceWithheld:
            out[label] = "withheld"
        except Exception as e:
            out[label] = f"{type(e).__name__}: {e}"[:200]
    import torch
    from dlnlp.reference import transformer as ref
    from dlnlp import fast
    q = torch.randn(2, 3, 4)
    early = ref.scaled_dot_product_attention                   # bound before the reveal
    attempt("direct", lambda: ref.scaled_dot_product_attention(q, q, q))
    attempt("importlib", lambda: importlib.import_module("dlnlp.reference.transformer").scaled_dot_product_attention(q, q, q))
    attempt("sys.modules", lambda: sys.modules["dlnlp.reference.transformer"].split_heads(q, 2))
    attempt("reload", lambda: importlib.reload(ref).split_heads(q, 2))
    class Sub(ref.MultiHeadAttention):
        pass
    attempt("subclass", lambda: Sub(4, 2))
    attempt("class", lambda: ref.MultiHeadAttention(4, 2))
    attempt("fast copy", lambda: fast._heads(q, 2))
    attempt("fast forward", lambda: fast._mha_forward(None, q, q, q))
    src = open(ref.__file__).read() + open(fast.__file__).read()
    out["source holds an answer"] = any(f"def {n}" in src for n in ("scaled_dot_product_attention", "split_heads", "_heads"))
    out["imported from the copy"] = ref.__file__.startswith(root)
    attempt("other helper", lambda: ref.sinusoidal_positional_encoding(4, 6))
    out["attempts"] = withheld.take_attempts()
    for d in reveal:
        withheld.reveal(d["module"], d["names"], d["source"])
    attempt("revealed", lambda: ref.scaled_dot_product_attention(q, q, q))
    attempt("revealed, bound before", lambda: early(q, q, q))
    attempt("not revealed", lambda: ref.split_heads(q, 2))
    print(json.dumps(out))
''')


def test_withheld_in_a_kernel():
    from autograder.grading.host.withheld import Withheld

    answers = answers_for(source_path("07_self_attention"))
    w = Withheld(answers, None)
    assert w.root is not None and not w.missing
    reveal = w.reveal_messages("ex1_attention", {"ex1_attention"})
    r = subprocess.run([sys.executable, "-c", KERNEL, json.dumps(answers), str(w.root), json.dumps(reveal)],
                       capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir())
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for label in ("direct", "importlib", "sys.modules", "reload", "subclass", "class", "fast copy", "fast forward"):
        assert out[label] == "withheld", (label, out)
    assert out["source holds an answer"] is False and out["imported from the copy"] is True
    assert out["other helper"] == "ok"
    assert "dlnlp.reference.transformer.scaled_dot_product_attention" in out["attempts"]
    assert out["revealed"] == "ok" and out["revealed, bound before"] == "ok"
    assert out["not revealed"] == "withheld"


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
    flags = static_flags(nb, answers_for(source_path("07_self_attention")))
    assert [ex for ex, _ in flags] == ["ex1_attention"], flags


def test_static_check_subclass():
    nb = _with_cell("07_self_attention", "ex4_mha", "class MultiHeadAttention(ref.MultiHeadAttention):\n    pass")
    assert [ex for ex, _ in static_flags(nb, answers_for(source_path("07_self_attention")))] == ["ex4_mha"]


@pytest.mark.parametrize("name", assignments())
def test_static_check_passes_the_solutions(name):
    # the solutions use other exercises' references (07's attention uses ref.split_heads): not flagged
    nb = nbformat.read(str(source_path(name)), as_version=4)
    assert static_flags(nb, answers_for(source_path(name))) == []


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
    table = answers_for(source_path(name))
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
