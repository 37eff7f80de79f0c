"""Text as tensors: tokenising, a vocabulary with special tokens, and padded batches with masks.

These are the reference versions of what notebook 02 has learners write; later notebooks import them.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import torch

__all__ = ["PAD", "UNK", "SOS", "EOS", "SPECIALS", "tokenize", "Vocab", "pad_batch"]

PAD, UNK, SOS, EOS = "<pad>", "<unk>", "<sos>", "<eos>"
SPECIALS: tuple[str, ...] = (PAD, UNK, SOS, EOS)

_TOKEN_RE = re.compile(r"<[a-z]+>|\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str, lower: bool = True) -> list[str]:
    """Split ``text`` into words and punctuation marks (``"I'm here." -> ["i", "'", "m", "here", "."]``).

    Works for Korean too: Hangul syllables are word characters, so ``"난 지하철 안이야"`` splits on spaces.
    Special tokens written as ``<name>`` stay whole.
    """
    if lower:
        text = text.lower()
    return _TOKEN_RE.findall(text)


class Vocab:
    """A token <-> id mapping. Ids ``0..len(specials)-1`` are the special tokens (``<pad>`` is 0).

    Tokens seen fewer than ``min_freq`` times map to ``<unk>``. Ties in frequency are broken
    alphabetically so that the same corpus always gives the same ids.
    """

    def __init__(self, token_lists: Iterable[Sequence[str]], min_freq: int = 1,
                 specials: Sequence[str] = SPECIALS, max_size: int | None = None):
        counts = Counter(tok for toks in token_lists for tok in toks)
        self.itos: list[str] = list(specials)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials),
                        key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(self.itos))]
        self.itos.extend(ranked)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.counts = counts

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    @property
    def pad_id(self) -> int:
        return self.stoi[PAD]

    @property
    def unk_id(self) -> int:
        return self.stoi[UNK]

    @property
    def sos_id(self) -> int:
        return self.stoi[SOS]

    @property
    def eos_id(self) -> int:
        return self.stoi[EOS]

    def encode(self, tokens: Sequence[str], add_sos: bool = False, add_eos: bool = False) -> list[int]:
        ids = [self.stoi.get(t, self.unk_id) for t in tokens]
        return ([self.sos_id] if add_sos else []) + ids + ([self.eos_id] if add_eos else [])

    def decode(self, ids: Iterable[int], strip_specials: bool = True) -> list[str]:
        """Ids back to tokens; stops at ``<eos>`` and drops ``<pad>``/``<sos>`` when ``strip_specials``."""
        out = []
        for i in ids:
            tok = self.itos[int(i)]
            if strip_specials:
                if tok == EOS:
                    break
                if tok in (PAD, SOS):
                    continue
            out.append(tok)
        return out


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0,
              max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad id lists to one length. Returns ``ids`` (B, T) long and ``mask`` (B, T) bool, ``True`` on
    real tokens. ``max_len`` truncates longer sequences."""
    lengths = [len(s) if max_len is None else min(len(s), max_len) for s in sequences]
    T = max(lengths, default=0)
    ids = torch.full((len(sequences), T), pad_id, dtype=torch.long)
    for b, (seq, n) in enumerate(zip(sequences, lengths)):
        ids[b, :n] = torch.as_tensor(list(seq[:n]), dtype=torch.long)
    mask = torch.arange(T)[None, :] < torch.as_tensor(lengths)[:, None]
    return ids, mask
