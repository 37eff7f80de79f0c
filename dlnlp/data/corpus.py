"""A real English text that is available offline, and character-level helpers for language models.

The default corpus is the *Python documentation topics* that every CPython ships in the standard
library module :mod:`pydoc_data.topics` (the text ``help("assert")`` and friends print): 79 topics of
the Python Language Reference, about 465 000 characters of English prose with code fragments.

- **Source**: ``pydoc_data.topics.topics`` (a ``dict`` topic -> text), generated from the Python
  documentation; no download, it is part of every Python installation.
- **License**: the Python documentation is distributed under the Python Software Foundation License
  Version 2 (https://docs.python.org/3/license.html), which permits copying and derived works.
- **Size**: about 465 kB raw, about 465 000 characters after :func:`normalize_text` (3.11), 94 distinct
  characters (printable ASCII and ``"\\n"``).
- **Determinism**: the text depends on the Python minor version (3.11 and 3.12 ship different
  documentation), so within one Python version every call returns the same string; do not hard-code
  its length or its statistics in checked outputs.

Use :func:`load_corpus` for the text, :func:`train_valid_split` for a contiguous split,
:class:`CharVocab` for character ids, and :func:`lm_windows` for (input, target) training windows.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import torch

__all__ = ["CORPORA", "load_corpus", "normalize_text", "train_valid_split", "CharVocab", "lm_windows"]

CORPORA: tuple[str, ...] = ("python-docs",)

# Typographic characters the docs use, mapped to their plain ASCII spelling.
_ASCII_FOR = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u2013": "-", "\u2014": "--", "\u2026": "...", "\u00b0": " degrees", "\u00df": "ss",
    "\u00a0": " ", "\t": "    ",
}
_NOT_PRINTABLE = re.compile(r"[^\n\x20-\x7e]")
_TRAILING_SPACE = re.compile(r"[ ]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """Normalise ``text`` deterministically to printable ASCII plus newlines.

    Typographic quotes, dashes and the ellipsis become their ASCII spelling, tabs become four spaces,
    any other character outside printable ASCII (``" "`` to ``"~"``) and ``"\\n"`` is dropped,
    trailing spaces are removed, runs of blank lines collapse to one blank line, and the result
    ends with exactly one newline (empty text stays empty).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(_ASCII_FOR.get(ch, ch) for ch in text)
    text = _NOT_PRINTABLE.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text)
    text = _BLANK_RUNS.sub("\n\n", text)
    text = text.strip("\n")
    return text + "\n" if text else ""


def load_corpus(name: str = "python-docs") -> str:
    """Return the corpus ``name`` as one normalised string (see the module docstring).

    ``"python-docs"``: the Python documentation topics of :mod:`pydoc_data.topics`, joined in sorted
    key order, normalised by :func:`normalize_text`. About 465 000 characters, 94 distinct characters
    (printable ASCII and newline). Python Software Foundation License. No network access.
    """
    if name != "python-docs":
        raise ValueError(f"unknown corpus {name!r}; available: {', '.join(CORPORA)}")
    from pydoc_data.topics import topics

    return normalize_text("\n\n".join(topics[key] for key in sorted(topics)))


def train_valid_split(text: str, valid_fraction: float = 0.1) -> tuple[str, str]:
    """Split ``text`` into a contiguous training part (the first ``1 - valid_fraction``) and a
    validation part (the rest). Deterministic; ``train + valid == text``.

    A contiguous split (rather than random characters or lines) keeps the validation text unseen
    context, so a language model's validation loss measures generalisation to new passages.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1); got {valid_fraction}")
    cut = len(text) - int(round(len(text) * valid_fraction))
    return text[:cut], text[cut:]


class CharVocab:
    """Characters <-> integer ids. Ids are assigned to the sorted distinct characters of the text(s)
    it is built from, so the same text always gives the same ids.

    ``vocab.encode("abc")`` -> ``LongTensor (3,)``; ``vocab.decode(ids)`` -> ``str``. Characters not
    in the vocabulary raise ``KeyError`` on encoding (a character LM has no ``<unk>``; build the
    vocabulary from all the text you will encode).
    """

    def __init__(self, texts: str | Iterable[str]):
        if isinstance(texts, str):
            texts = [texts]
        chars: set[str] = set()
        for t in texts:
            chars.update(t)
        self.itos: list[str] = sorted(chars)
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, ch: str) -> bool:
        return ch in self.stoi

    def encode(self, text: str) -> torch.Tensor:
        """``str`` of length N -> ``LongTensor (N,)`` of ids."""
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | Sequence[int]) -> str:
        """Ids (any iterable of ints or a 1-D tensor) -> ``str``."""
        if isinstance(ids, torch.Tensor):
            ids = ids.flatten().tolist()
        return "".join(self.itos[int(i)] for i in ids)

    def __repr__(self) -> str:
        return f"CharVocab(size={len(self)})"


def lm_windows(ids: torch.Tensor, seq_len: int, batch_size: int,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``batch_size`` random windows of a 1-D id tensor for next-character prediction.

    Returns ``x`` and ``y``, both ``LongTensor (batch_size, seq_len)`` on ``ids``' device, with
    ``y[b, t] == ids[s_b + t + 1]`` the character that follows ``x[b, t] == ids[s_b + t]``.
    Start positions ``s_b`` are uniform in ``[0, len(ids) - seq_len - 1]``, drawn with ``generator``.
    """
    n = ids.shape[0] - seq_len - 1
    if n < 0:
        raise ValueError(f"need at least seq_len + 1 = {seq_len + 1} ids; got {ids.shape[0]}")
    starts = torch.randint(0, n + 1, (batch_size,), generator=generator).to(ids.device)
    idx = starts[:, None] + torch.arange(seq_len, device=ids.device)[None, :]   # (B, T)
    return ids[idx], ids[idx + 1]
