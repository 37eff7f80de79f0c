"""Reference answers withheld while their own exercise is graded.

``dlnlp.reference`` holds every exercise's answer, and the notebooks import it: later exercises and
experiments build on earlier answers (``ref.MultiHeadAttention`` inside a transformer, the reference
``Value`` handed to a student's ``backward``). So the reference stays usable in the student kernel,
except for one thing: while the test cells of exercise *k* run, the reference objects that answer *k*
refuse to run there. A submission that calls, aliases, subclasses or re-imports the answer of *k*
(directly, through ``importlib``, ``__import__`` or ``sys.modules``) fails the tests of *k*, and the
attempt is reported.

How it is kept out of the submission's reach (:func:`activate`, in the student kernel, before any
submission code runs):

* the modules that hold the answers are compiled from their source with a check as the first
  statement of every answer function and of every method of an answer class, before anything imports
  them (:func:`prepare`, in the student-kernel zygote; a module imported earlier is replaced). The
  check calls ``sys.audit`` through a constant of the code object, not through a name, so no
  rebinding of globals, ``sys`` or builtins skips it; the unchecked code is never in the kernel;
* an audit hook (PEP 578: it cannot be removed) takes the decision. Its state (the exercise under test,
  the attempts seen, a per-kernel secret) lives only in its own closure; the hook refuses the ways to
  reach or rebuild it: ``gc`` introspection, building code objects, marshalling code, trace and profile
  functions (which could jump over the check), and reading the source or bytecode files of the
  withheld modules (so they cannot be executed again without the check);
* the orchestrator arms and disarms the wire around each test cell with messages authenticated by the
  secret (HMAC-SHA256, increasing sequence numbers), and the hook signs its report of attempts: a
  submission can neither disarm the wire nor forge a clean report.

The table :data:`COURSE_ANSWERS` says, for every exercise of the course, which reference objects answer
it (an empty tuple: none does). Another course declares its own in a ``reference_answers.json`` next
to the instructor's notebook (``{"exercise_grade_id": ["module.qualname", ...]}``).

Besides the wire, :func:`static_flags` reads each solution cell and flags, for review, any use of its
own exercise's reference answer, and :mod:`.similarity` compares the answers with the reference source
and between students.
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from ..model import INFO, Flag, NotebookSpec

__all__ = ["COURSE_ANSWERS", "answers_for", "exercise_of", "static_flags",
           "EVENT"]

EVENT = "autograder.reference_answer"
_CONTROL = "autograder.tripwire"
_PLACEHOLDER = "__autograder_tripwire_check__"



def _q(mod: str, *names: str) -> tuple[str, ...]:
    return tuple(f"dlnlp.reference.{mod}.{n}" for n in names)


# For every exercise of the course: the reference objects that answer it (a wrapper of any of them
# passes its tests), the helpers they delegate the work to included. () where no reference object
# does. tests/test_grading_tripwire.py checks that every exercise of every notebook is here.
COURSE_ANSWERS: dict[str, dict[str, tuple[str, ...]]] = {
    "01_backprop": {
        "ex1_value_ops": _q("autograd", "Value"),
        "ex2_backward": _q("autograd", "backward", "topological_order"),
        "ex3_numerical_gradient": (),
        "ex4_linear_backward": _q("backprop", "linear_backward"),
        "ex5_softmax_cross_entropy": _q("backprop", "softmax_cross_entropy"),
        "ex6_mlp_backward": _q("backprop", "mlp_loss_and_grads"),
    },
    "02_text_cnn": {
        "ex1_build_vocab": (), "ex2_encode_batch": (), "ex3_one_hot_embedding": (),
        "ex4_masked_mean": _q("textcnn", "masked_mean"),
        "ex5_conv1d_text": (),
        "ex6_masked_max": _q("textcnn", "masked_max"),
        "ex7_textcnn": _q("textcnn", "TextCNN"),
    },
    "03_rnn_bptt": {
        "ex1_rnn_cell": (),
        "ex2_rnn_unroll": _q("rnn", "tanh_rnn_states"),
        "ex3_rnn_bptt": (), "ex4_grad_norm_by_lag": (), "ex5_clip_grad_norm": (), "ex6_lm_batch": (),
        "ex7_bigram_nll": _q("gpt", "bigram_nll", "ngram_nll"),
    },
    "04_lstm_gru": {
        "ex1_lstm_cell": _q("lstm", "lstm_cell", "_affine"),
        "ex2_lstm": (),
        "ex3_gru_cell": _q("lstm", "gru_cell"),
        "ex4_init_forget_bias": _q("lstm", "init_forget_bias"),
        "ex5_sequence_classifier": (),
    },
    "05_seq2seq": {
        "ex1_encoder": _q("rnn_attention", "Encoder"),
        "ex2_decoder": (),
        "ex3_sequence_loss": _q("rnn_attention", "seq2seq_loss"),
        "ex4_teacher_forcing": (), "ex5_greedy_decode": (), "ex6_schedule": (),
    },
    "06_attention": {
        "ex1_masked_attention": _q("rnn_attention", "masked_attention"),
        "ex2_additive_score": _q("rnn_attention", "AdditiveScore"),
        "ex3_luong_score": _q("rnn_attention", "LuongScore"),
        "ex4_attn_decoder": _q("rnn_attention", "AttnDecoder"),
        "ex5_greedy_decode": _q("rnn_attention", "greedy_decode"),
        "ex6_beam_search": _q("rnn_attention", "beam_search", "_index_state"),
    },
    "07_self_attention": {
        "ex1_attention": _q("transformer", "scaled_dot_product_attention"),
        "ex2_masks": _q("transformer", "causal_mask", "padding_mask"),
        "ex3_heads": _q("transformer", "split_heads", "merge_heads"),
        "ex4_mha": _q("transformer", "MultiHeadAttention"),
        "ex5_coref": (),
    },
    "08_transformer": {
        "ex1_positional_encoding": _q("transformer", "sinusoidal_positional_encoding", "PositionalEncoding"),
        "ex2_encoder_layer": _q("transformer", "EncoderLayer"),
        "ex3_decoder_layer": _q("transformer", "DecoderLayer"),
        "ex4_transformer": _q("transformer", "Transformer"),
        "ex5_label_smoothing": _q("transformer", "label_smoothed_cross_entropy"),
        "ex6_noam": _q("transformer", "noam_lr", "warmup_scheduler"),
    },
    "09_tokenization": {
        "ex1_pairs": _q("bpe", "pair_counts", "merge_pair"),
        "ex2_pre_split": _q("bpe", "pre_split"),
        "ex3_train": _q("bpe", "train_merges", "train_bpe"),
        "ex4_encode": _q("bpe", "bpe_encode", "encode_chunk", "BPETokenizer"),
        "ex5_decode": _q("bpe", "bpe_decode", "build_vocab", "decode_with"),
        "ex6_basic": _q("wordpiece", "basic_tokenize", "strip_accents_of"),
        "ex7_wordpiece": _q("wordpiece", "wordpiece", "WordPiece"),
    },
    "10_bert": {
        "ex1_make_pair": _q("bert", "make_pair"),
        "ex2_embeddings": _q("bert", "BertEmbeddings"),
        "ex3_layer": _q("bert", "BertLayer"),
        "ex4_minibert": _q("bert", "MiniBert"),
        "ex5_mask_tokens": _q("bert", "mask_tokens"),
        "ex6_mlm_head": _q("bert", "BertMLMHead", "mlm_loss"),
        "ex7_classifier": _q("bert", "BertClassifier"),
        "ex8_load_weights": _q("bert", "load_bert_weights", "load_hf_bert", "bert_key_map"),
    },
    "11_gpt": {
        "ex1_pairs": _q("gpt", "next_token_pairs"),
        "ex2_bigram": _q("gpt", "bigram_nll", "ngram_nll"),
        "ex3_attention": _q("gpt", "CausalSelfAttention"),
        "ex4_gpt": _q("gpt", "GPT", "Block", "MLP"),
        "ex5_load": _q("gpt", "load_hf_gpt2"),
        "ex6_sampling": _q("gpt", "filter_logits", "sample_next"),
        "ex7_generate": _q("gpt", "generate"),
    },
}


# ====================================================================== the table
def answers_for(notebook: str, source_path: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Exercise grade_id -> qualified names of the reference objects that answer it."""
    if source_path:
        f = Path(source_path).with_name("answers.json")
        if f.is_file():
            try:
                data = json.loads(f.read_text())
                return {str(k): [str(q) for q in v] for k, v in data.items() if isinstance(v, list)}
            except (OSError, ValueError, AttributeError):
                return {}
    return {k: list(v) for k, v in COURSE_ANSWERS.get(notebook, {}).items()}


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
    """Review flags for answers that use their own exercise's reference (:func:`.tripwire.static_flags`)
    or copy its source (:func:`.similarity.reference_matches`)."""
    from . import similarity

    answers = {k: v for k, v in answers_for(spec.name, spec.source_path).items() if v}
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


