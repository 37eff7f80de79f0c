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
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path

__all__ = ["COURSE_ANSWERS", "answers_for", "exercise_of", "prepare", "activate", "control", "static_flags",
           "ReferenceWithheld", "Wire", "EVENT"]

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


class ReferenceWithheld(RuntimeError):
    """Raised in the student kernel when the reference answer of the exercise under test is used."""


# ====================================================================== the table
def answers_for(notebook: str, source_path: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Exercise grade_id -> qualified names of the reference objects that answer it."""
    if source_path:
        f = Path(source_path).with_name("reference_answers.json")
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


# ====================================================================== the orchestrator's end
class Wire:
    """The orchestrator's side: the secret of one kernel and the signed arm/disarm messages."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = {k: list(v) for k, v in answers.items() if v}
        self.key = os.urandom(32)
        self.seq = 0

    def init(self) -> dict:
        return {"answers": self.answers, "key": self.key.hex()}

    def _mac(self, text: str) -> str:
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    def message(self, cmd: str, exercise: str | None) -> dict:
        self.seq += 1
        ex = exercise or ""
        return {"q": "tripwire", "cmd": cmd, "ex": ex, "seq": self.seq,
                "mac": self._mac(f"{self.seq}|{cmd}|{ex}")}

    def verify(self, reply) -> list[str] | None:
        """The attempts a signed report lists, or None when the report is missing or forged."""
        if not isinstance(reply, dict):
            return None
        trips, seq, mac = reply.get("trips"), reply.get("seq"), reply.get("mac")
        if not isinstance(trips, list) or seq != self.seq or not isinstance(mac, str):
            return None
        if not hmac.compare_digest(mac, self._mac(f"{seq}|report|{json.dumps(trips)}")):
            return None
        return [str(t) for t in trips]


# ====================================================================== the kernel's end
def _check_stmt(qual: str, node) -> ast.stmt:
    call = ast.Call(func=ast.Constant(_PLACEHOLDER), args=[ast.Constant(EVENT), ast.Constant(qual)], keywords=[])
    stmt = ast.Expr(call)
    return ast.fix_missing_locations(ast.copy_location(stmt, node))


def _instrument_def(node, qual: str) -> None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        body = node.body
        at = 1 if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str) else 0
        body.insert(at, _check_stmt(qual, body[0] if body else node))
    elif isinstance(node, ast.ClassDef):
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                _instrument_def(item, qual)


def _swap_constants(code, fn):
    from types import CodeType

    consts = tuple(fn if type(c) is str and c == _PLACEHOLDER else
                   _swap_constants(c, fn) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_consts=consts)


def instrumented_code(source: str, filename: str, module: str, names: set[str]):
    """The module's code with the check in every answer function and every method of an answer class."""
    import warnings

    tree = ast.parse(source, filename)
    found = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
            _instrument_def(node, f"{module}.{node.name}")
            found.add(node.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # calling a constant: the compiler warns
        code = compile(tree, filename, "exec", dont_inherit=True)
    return _swap_constants(code, sys.audit), found


class _Loader:
    """Executes a withheld module's instrumented code (also on ``importlib.reload``)."""

    def __init__(self, code):
        self._code = code

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(self._code, module.__dict__)

    def get_source(self, name):
        return None


class _Finder:
    def __init__(self):
        self.specs = {}

    def find_spec(self, name, path=None, target=None):
        return self.specs.get(name)

    def invalidate_caches(self):
        pass


def _load_withheld(module: str, names: set[str], finder: _Finder) -> list[str]:
    """Replace ``module`` by its instrumented build; return the files that must not be read again."""
    import importlib.machinery
    import importlib.util

    old = sys.modules.get(module)
    spec = importlib.util.find_spec(module) if old is None else getattr(old, "__spec__", None)
    origin = getattr(spec, "origin", None) if spec is not None else None
    if not origin or not os.path.isfile(origin) or not origin.endswith(".py"):
        return []
    with open(origin, "rb") as f:
        source = f.read().decode("utf-8")
    code, _found = instrumented_code(source, origin, module, names)
    new_spec = importlib.machinery.ModuleSpec(module, _Loader(code), origin=origin)
    new_spec.has_location = True
    mod = importlib.util.module_from_spec(new_spec)
    sys.modules[module] = mod
    try:
        new_spec.loader.exec_module(mod)
    except BaseException:
        if old is not None:
            sys.modules[module] = old
        else:
            sys.modules.pop(module, None)
        raise
    finder.specs[module] = new_spec
    parent, _, child = module.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, mod)
    if old is not None:                   # modules that imported names from the old build
        for other in list(sys.modules.values()):
            d = getattr(other, "__dict__", None)
            if other is mod or not isinstance(d, dict) or not str(getattr(other, "__name__", "")).startswith(
                    module.split(".")[0]):
                continue
            for k, v in list(d.items()):
                if v is old:
                    d[k] = mod
                elif getattr(v, "__module__", None) == module and hasattr(mod, getattr(v, "__name__", "") or "\0") \
                        and getattr(old, v.__name__, None) is v:
                    d[k] = getattr(mod, v.__name__)
    _BUILT[module] = (mod, set(names))
    return _files_of(origin)


def _files_of(origin: str) -> list[str]:
    base = os.path.realpath(origin)
    stem = os.path.splitext(os.path.basename(base))[0]
    return [base, os.path.join(os.path.dirname(base), "__pycache__", stem + ".")]


_FINDER = _Finder()
_BUILT: dict[str, tuple] = {}            # module -> (instrumented module, names checked in it)


def prepare(preload: list[str] | None = None) -> None:
    """Build the course's reference modules with the check in every answer of every notebook, before
    anything imports them (the student-kernel zygote calls this before the notebook's imports), so
    that the unchecked code is never loaded at all. Nothing is decided here: :func:`activate` arms
    only the answers of the notebook being graded."""
    if preload is not None and not any(m.split(".")[0] == "dlnlp" for m in preload):
        return
    by_module: dict[str, set[str]] = {}
    for table in COURSE_ANSWERS.values():
        for quals in table.values():
            for q in quals:
                mod, _, name = q.rpartition(".")
                by_module.setdefault(mod, set()).add(name)
    for mod, names in sorted(by_module.items()):
        if mod in sys.modules:
            continue
        try:
            _load_withheld(mod, names, _FINDER)
        except Exception:        # activate() tries again and reports
            pass
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def activate(cfg: dict | None):
    """Set up the wire in this kernel (before any submission code). ``cfg`` is :meth:`Wire.init`;
    its key is removed from it. Returns the function the kernel's loop passes control messages to."""
    if not cfg or not isinstance(cfg, dict) or not cfg.get("answers"):
        return None
    key = bytes.fromhex(str(cfg.pop("key", "")))
    answers = {str(k): [str(q) for q in v] for k, v in dict(cfg.get("answers") or {}).items()}
    by_module: dict[str, set[str]] = {}
    owner: dict[str, str] = {}
    for ex, quals in answers.items():
        for q in quals:
            mod, _, name = q.rpartition(".")
            if mod and name:
                by_module.setdefault(mod, set()).add(name)
                owner[q] = ex
    protected: list[str] = []
    errors = []
    replaced = False
    for mod, names in sorted(by_module.items()):
        built = _BUILT.get(mod)
        if built is not None and sys.modules.get(mod) is built[0] and names <= built[1]:
            protected += _files_of(built[0].__spec__.origin)     # prepared before any import
            continue
        replaced = replaced or mod in sys.modules
        try:
            protected += _load_withheld(mod, names, _FINDER)
        except Exception as e:          # a module that cannot be built fails alone (the notebook will too)
            errors.append(f"{mod}: {type(e).__name__}: {e}")
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    sys.meta_path.insert(0, _FINDER)
    sys.dont_write_bytecode = True       # writing bytecode marshals code objects, refused below
    import gc
    import linecache

    for p in protected:
        for f in list(linecache.cache):
            if isinstance(f, str) and os.path.realpath(f).startswith(p):
                linecache.cache.pop(f, None)
    if replaced:
        gc.unfreeze()                   # a kernel's zygote froze what it loaded (kernel.py)
        gc.collect()                    # the unchecked build that was imported is gone for good
    _install_hook(key, owner, tuple(protected))
    del key
    return control


def control(msg: dict) -> dict:
    """Hand an arm/disarm message to the hook; return its signed report (on disarm)."""
    box: list = []
    sys.audit(_CONTROL, json.dumps({k: msg.get(k) for k in ("cmd", "ex", "seq", "mac")}), box)
    return box[0] if box and isinstance(box[0], dict) else {}


def _install_hook(key: bytes, owner: dict[str, str], protected: tuple[str, ...]) -> None:
    realpath, fsdecode = os.path.realpath, os.fsdecode
    new_hmac, sha256, compare, dumps, loads = hmac.new, hashlib.sha256, hmac.compare_digest, json.dumps, json.loads
    code_type = type(_install_hook.__code__)
    dirs = tuple({os.path.dirname(p) for p in protected if not p.endswith(".")})
    state = {"armed": None, "seq": 0, "trips": []}
    refused = {"gc.get_objects", "gc.get_referrers", "gc.get_referents", "code.__new__",
               "sys.settrace", "sys.setprofile", "sys._current_frames"}
    Withheld = ReferenceWithheld

    def mac(text: str) -> str:
        return new_hmac(key, text.encode(), sha256).hexdigest()

    def hook(event, args):
        if event == EVENT:
            ex = state["armed"]
            if ex is not None and args and owner.get(args[0]) == ex:
                if len(state["trips"]) < 20 and args[0] not in state["trips"]:
                    state["trips"].append(args[0])
                raise Withheld(f"{args[0]} is the reference answer of exercise {ex}; it cannot be used "
                               f"while {ex} is graded")
            return
        if event == _CONTROL:
            try:
                m = loads(args[0])
                cmd, ex, seq = str(m["cmd"]), str(m["ex"]), int(m["seq"])
                ok = seq > state["seq"] and compare(str(m["mac"]), mac(f"{seq}|{cmd}|{ex}"))
            except Exception:
                ok = False
            if not ok:
                return
            state["seq"] = seq
            if cmd == "arm":
                state["armed"] = ex or None
                state["trips"] = []
            elif cmd == "disarm":
                state["armed"] = None
                trips = list(state["trips"])
                state["trips"] = []
                if len(args) > 1 and isinstance(args[1], list):
                    args[1].append({"trips": trips, "seq": seq, "mac": mac(f"{seq}|report|{dumps(trips)}")})
            return
        if event in refused:
            raise PermissionError(f"[grader] {event} is not allowed while grading")
        if event == "marshal.dumps" and args and isinstance(args[0], code_type):
            raise PermissionError("[grader] marshalling code objects is not allowed while grading")
        if event == "open" and protected and args:
            path = args[0]
            if isinstance(path, int) or path is None:
                return
            try:
                full = realpath(fsdecode(path))
            except Exception:
                return
            if full in dirs or any(full == p or (p.endswith(".") and full.startswith(p)) for p in protected):
                raise PermissionError(f"[grader] {path!r} holds a reference answer of this notebook and "
                                      "cannot be read while grading")

    sys.addaudithook(hook)


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
                    if local.get(base.id) == names[node.attr].rpartition(".")[0] or path == names[node.attr].rpartition(".")[0]:
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
