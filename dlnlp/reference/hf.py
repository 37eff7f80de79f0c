"""Hugging Face models for the parity tests of notebooks 10 and 11: weights drawn here, and the outputs
``transformers`` gave for them, recorded.

A parity test builds a ``transformers`` model with random weights (``bert.hf_bert``, ``gpt.hf_gpt2``,
``bert.hf_minilm``), copies its weights into the learner's classes and compares the outputs. Importing
``transformers``' models takes about 3 s on a 2-core CPU, a third of the 10 s a notebook may take while it
is graded. So while a notebook is graded (``NBGRADER_EXECUTION`` set) a test gets an :class:`HFModel`: the
same weights, answering each call with the output ``transformers`` gave for exactly these weights and
inputs, read from ``hf_outputs.pt`` beside this file. A call with no record (other inputs, weights changed)
runs ``transformers`` itself: a record makes grading faster and never changes a result.
``tests/test_hf_outputs.py`` recomputes every record with ``transformers``, and runs the solution notebooks
in grading mode with ``DLNLP_HF=strict`` so that a call without a record fails there.

The weights come from a generator seeded with ``seed``; the global random state is left as it was.
Matrices and embeddings are ``N(0, std^2)``, biases ``N(0, 0.1^2)``, LayerNorm weights ``1 + N(0, 0.1^2)``:
random rather than 0 and 1, so that a test tells every parameter apart.

``DLNLP_HF`` chooses: ``live`` (``transformers`` itself, the default outside grading), ``recorded`` (the
default while grading), ``strict`` (recorded; a call without a record raises ``LookupError``) or ``record``
(``transformers``, each call added to the file). To record anew, from the repository's root::

    rm dlnlp/reference/hf_outputs.pt
    DLNLP_HF=record python -m autograder execute --grading solutions/10_bert/10_bert.ipynb solutions/11_gpt/11_gpt.ipynb
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from ..runtime import is_grading

__all__ = ["HFModel", "Outputs", "hf_model", "hf_mode", "shapes", "draw_weights", "record_key", "load_records",
           "build_live", "RECORDS"]

RECORDS = Path(__file__).with_name("hf_outputs.pt")
MODES = ("live", "recorded", "strict", "record")
CLASSES = {("bert", "base"): "BertModel", ("bert", "mlm"): "BertForMaskedLM",
           ("bert", "cls"): "BertForSequenceClassification", ("bert", "minilm"): "BertModel",
           ("gpt2", "lm"): "GPT2LMHeadModel"}
_records: dict | None = None


def hf_mode() -> str:
    """``DLNLP_HF`` if set, else ``recorded`` while a notebook is graded and ``live`` otherwise."""
    mode = os.environ.get("DLNLP_HF") or ("recorded" if is_grading() else "live")
    if mode not in MODES:
        raise ValueError(f"DLNLP_HF={mode!r}: choose one of {', '.join(MODES)}")
    return mode


# ---------------------------------------------------------------- weights

def _linear(sd: dict, name: str, out_features: int, in_features: int) -> None:
    sd[name + ".weight"], sd[name + ".bias"] = (out_features, in_features), (out_features,)


def _conv1d(sd: dict, name: str, in_features: int, out_features: int) -> None:
    sd[name + ".weight"], sd[name + ".bias"] = (in_features, out_features), (out_features,)   # GPT-2 stores (in, out)


def _norm(sd: dict, name: str, size: int) -> None:
    sd[name + ".weight"], sd[name + ".bias"] = (size,), (size,)


def shapes(family: str, kind: str, config: dict) -> dict[str, tuple[int, ...] | str]:
    """The state dict's names, in ``transformers``' order, and their shapes; a ``str`` in place of a
    shape names the entry it is tied to (the same tensor)."""
    sd: dict = {}
    if family == "gpt2":
        C, V = config["n_embd"], config["vocab_size"]
        inner = config.get("n_inner") or 4 * C
        sd["transformer.wte.weight"], sd["transformer.wpe.weight"] = (V, C), (config["n_positions"], C)
        for i in range(config["n_layer"]):
            h = f"transformer.h.{i}."
            _norm(sd, h + "ln_1", C)
            _conv1d(sd, h + "attn.c_attn", C, 3 * C)
            _conv1d(sd, h + "attn.c_proj", C, C)
            _norm(sd, h + "ln_2", C)
            _conv1d(sd, h + "mlp.c_fc", C, inner)
            _conv1d(sd, h + "mlp.c_proj", inner, C)
        _norm(sd, "transformer.ln_f", C)
        sd["lm_head.weight"] = "transformer.wte.weight"
        return sd
    H, V = config["hidden_size"], config["vocab_size"]
    p = "" if kind == "base" else "bert."
    sd[p + "embeddings.word_embeddings.weight"] = (V, H)
    sd[p + "embeddings.position_embeddings.weight"] = (config["max_position_embeddings"], H)
    sd[p + "embeddings.token_type_embeddings.weight"] = (config["type_vocab_size"], H)
    _norm(sd, p + "embeddings.LayerNorm", H)
    for i in range(config["num_hidden_layers"]):
        layer = f"{p}encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            _linear(sd, layer + name, H, H)
            if name == "attention.output.dense":
                _norm(sd, layer + "attention.output.LayerNorm", H)
        _linear(sd, layer + "intermediate.dense", config["intermediate_size"], H)
        _linear(sd, layer + "output.dense", H, config["intermediate_size"])
        _norm(sd, layer + "output.LayerNorm", H)
    if kind in ("base", "cls"):
        _linear(sd, p + "pooler.dense", H, H)
    if kind == "mlm":
        sd["cls.predictions.bias"] = (V,)
        _linear(sd, "cls.predictions.transform.dense", H, H)
        _norm(sd, "cls.predictions.transform.LayerNorm", H)
        sd["cls.predictions.decoder.weight"] = "bert.embeddings.word_embeddings.weight"
        sd["cls.predictions.decoder.bias"] = "cls.predictions.bias"
    if kind == "cls":
        _linear(sd, "classifier", config.get("num_labels", 2), H)
    return sd


def draw_weights(layout: dict[str, tuple[int, ...] | str], seed: int, std: float) -> dict[str, torch.Tensor]:
    """Random float32 weights for the names and shapes of :func:`shapes` (see the module's docstring)."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for name, shape in layout.items():
        if isinstance(shape, str):
            sd[name] = sd[shape]
        elif len(shape) == 1:                            # a bias, or a LayerNorm's weight or bias
            sd[name] = 0.1 * torch.randn(shape, generator=g) + (1.0 if name.endswith(".weight") else 0.0)
        else:
            sd[name] = std * torch.randn(shape, generator=g)
    return sd


# ---------------------------------------------------------------- transformers itself

def build_live(family: str, kind: str, config: dict, weights: dict[str, torch.Tensor]):
    """The ``transformers`` model (eager attention, eval mode) holding ``weights``."""
    import transformers as tf

    if (family, kind) == ("bert", "minilm"):
        from ..data.pretrained import minilm_folder

        hcfg = tf.BertConfig.from_pretrained(minilm_folder(), attn_implementation="eager")
    elif family == "bert":                               # our BertConfig's fields are transformers' names
        hcfg = tf.BertConfig(**config, attn_implementation="eager")
    else:
        hcfg = tf.GPT2Config(**config, attn_implementation="eager")
    with torch.random.fork_rng(devices=[]):              # its own initialisation, overwritten below
        model = getattr(tf, CLASSES[family, kind])(hcfg)
    if family == "gpt2":
        # transformers cannot infer the loss from the class name and warns on stderr the first time a loss is
        # computed (nbgrader scores a test cell that writes to stderr 0): name it, the causal-LM loss
        model.loss_type = "ForCausalLM"
    model.load_state_dict(weights)
    return model.eval()


# ---------------------------------------------------------------- records

def _hash_value(h, value) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"tensor {t.dtype} {tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy() if t.numel() else b"")
    else:
        h.update(f"{type(value).__name__} {value!r}|".encode())


def record_key(family: str, kind: str, config: dict, path: str, weights: dict, kwargs: dict) -> str:
    """What a call's output depends on, hashed: the model's class and config, the submodule called, every
    weight and every argument."""
    h = hashlib.sha256(f"{family}|{kind}|{sorted(config.items())!r}|{path}|".encode())
    for name in sorted(weights):
        h.update(name.encode())
        _hash_value(h, weights[name])
    for name in sorted(kwargs):
        h.update(name.encode())
        _hash_value(h, kwargs[name])
    return h.hexdigest()


def load_records(path: Path | None = None) -> dict:
    """The recorded calls (of ``path``, by default :data:`RECORDS`): key -> ``{"family", "kind", "config",
    "origin", "path", "kwargs", "output"}``."""
    path = path or RECORDS
    return torch.load(path, weights_only=True) if path.is_file() else {}


def _recorded() -> dict:
    global _records
    if _records is None:
        _records = load_records()
    return _records


def _add_record(key: str, record: dict) -> None:
    records = load_records()
    records[key] = record
    tmp = RECORDS.with_suffix(".tmp")
    torch.save(records, tmp)
    os.replace(tmp, RECORDS)


class Outputs(dict):
    """A model's outputs by name, read as attributes like ``transformers``' ``ModelOutput``
    (``out.logits``, ``out.last_hidden_state``, ``out.loss``)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no output {name!r}; recorded: {', '.join(self)}") from None


def _tensors_of(out) -> dict[str, torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return {"": out.detach().cpu().clone()}
    return {k: v.detach().cpu().clone() for k, v in out.items() if isinstance(v, torch.Tensor)}


class HFModel:
    """A ``transformers`` model given by its class, config and weights, that answers a call from the
    records when it can and runs ``transformers`` when it cannot (see the module's docstring).

    ``state_dict()`` gives the weights (the same tensors, as a module's state dict does), ``eval()`` the
    model itself, an attribute a submodule (``model.embeddings(input_ids=...)``). Calls take keyword
    arguments, as the tests pass them.
    """

    training = False

    def __init__(self, family: str, kind: str, config: dict, weights: dict[str, torch.Tensor], origin: dict,
                 path: str = "", shared: dict | None = None):
        self._family, self._kind, self._config, self._weights = family, kind, config, weights
        self._origin, self._path = origin, path
        if shared is None:                                 # the weights as made, to record only calls on those
            digest = record_key(family, kind, config, "", weights, {}) if hf_mode() == "record" else None
            shared = {"live": None, "digest": digest}
        self._shared = shared

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self._weights)

    def eval(self) -> HFModel:
        return self

    def __getattr__(self, name: str) -> HFModel:
        if name.startswith("_"):
            raise AttributeError(name)
        path = f"{self._path}.{name}" if self._path else name
        return HFModel(self._family, self._kind, self._config, self._weights, self._origin, path, self._shared)

    def __repr__(self) -> str:
        where = f".{self._path}" if self._path else ""
        return f"HFModel({CLASSES[self._family, self._kind]}{where}, answers from recorded transformers outputs)"

    def _live_call(self, kwargs: dict):
        if self._shared["live"] is None:
            self._shared["live"] = build_live(self._family, self._kind, self._config, self._weights)
        live = self._shared["live"]
        live.load_state_dict(self._weights)               # the weights as they are now (changed in place or not)
        target = live
        for name in filter(None, self._path.split(".")):
            target = getattr(target, name)
        return target(**kwargs)

    def __call__(self, *args, **kwargs):
        if args:
            raise TypeError("pass the inputs by name (input_ids=..., attention_mask=...)")
        mode = hf_mode()
        key = record_key(self._family, self._kind, self._config, self._path, self._weights, kwargs)
        output = _recorded().get(key, {}).get("output") if mode in ("recorded", "strict") else None
        if output is not None:
            devices = [v.device for v in kwargs.values() if isinstance(v, torch.Tensor)]
            moved = {k: v.clone().to(devices[0]) if devices else v.clone() for k, v in output.items()}
            return moved[""] if "" in moved else Outputs(moved)
        if mode == "strict":
            raise LookupError(f"no recorded transformers output for this call of {self!r} "
                              f"(arguments {sorted(kwargs)}); see dlnlp/reference/hf.py to record it")
        out = self._live_call(kwargs)
        if mode == "record" and record_key(self._family, self._kind, self._config, "", self._weights,
                                           {}) == self._shared["digest"]:
            _add_record(key, {"family": self._family, "kind": self._kind, "config": self._config,
                              "origin": self._origin, "path": self._path,
                              "kwargs": {k: v.detach().cpu().clone() if isinstance(v, torch.Tensor) else v
                                         for k, v in kwargs.items()},
                              "output": _tensors_of(out)})
        return out


def hf_model(family: str, kind: str, config: dict, weights: dict[str, torch.Tensor], origin: dict):
    """The model for a parity test: ``transformers``' own in ``live`` mode, else an :class:`HFModel`.

    ``origin`` says how ``weights`` were made, so that a record can be checked: ``{"seed": s, "std": x}``
    (:func:`draw_weights`) or ``{"pretrained": "all-MiniLM-L6-v2"}``.
    """
    if hf_mode() == "live":
        return build_live(family, kind, config, weights)
    return HFModel(family, kind, config, weights, origin)
