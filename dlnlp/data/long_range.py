"""Synthetic sequence-classification tasks that separate local patterns from long-range memory.

Provenance: generated here, seeded (no download, nothing shipped); license: the course's own (same as
the repository). Sizes are whatever the caller asks for; notebook 04 uses a few thousand sequences of
length 20-80, a few hundred kB of int64.

Three tasks, all over a small vocabulary of integer tokens with ``0`` as ``<pad>``:

- :func:`memory_task`: *classify by the first token*. A key token (one of ``num_keys``) is followed by
  ``lag`` distractor tokens; the label is the key. A model that reads left to right and answers at the
  end must carry the key across ``lag`` steps: the vanilla RNN's gradient vanishes over that distance,
  the LSTM's cell state carries it.
- :func:`local_pattern_task`: *does the motif occur?* Label 1 when the contiguous trigram ``motif``
  occurs somewhere in a random sequence, 0 otherwise. A width-3 convolution with max-over-time pooling
  detects it wherever it is: the task is local.
- :func:`long_distance_task`: *which marker comes first?* Every sequence holds one ``A`` and one ``B``
  marker at least ``min_gap`` tokens apart (and away from both ends); the label is 1 when ``A`` comes
  before ``B``. Each marker alone looks the same in both classes, so a model that only pools local
  features over time (TextCNN) is at chance; a model that reads in order can solve it.

Every function returns a :class:`SequenceTask` (padded ids, mask, labels) and is deterministic given
its ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["SequenceTask", "memory_task", "local_pattern_task", "long_distance_task", "PAD_ID"]

PAD_ID = 0


@dataclass
class SequenceTask:
    """A padded classification data set.

    ``ids`` (N, T) long, padded with ``0`` after each sequence's end; ``mask`` (N, T) bool, ``True`` on
    real tokens (every row starts with at least one); ``labels`` (N,) long in ``[0, num_classes)``;
    ``vocab_size`` counts ``<pad>``.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor
    vocab_size: int
    num_classes: int
    name: str = ""

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def split(self, n_first: int) -> tuple["SequenceTask", "SequenceTask"]:
        """The first ``n_first`` examples and the rest (the examples are already in random order)."""
        def part(sl: slice) -> SequenceTask:
            return SequenceTask(self.ids[sl], self.mask[sl], self.labels[sl], self.vocab_size,
                                self.num_classes, self.name)
        return part(slice(0, n_first)), part(slice(n_first, None))

    def to(self, device) -> "SequenceTask":
        return SequenceTask(self.ids.to(device), self.mask.to(device), self.labels.to(device),
                            self.vocab_size, self.num_classes, self.name)


def _lengths(n: int, min_len: int, max_len: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(min_len, max_len + 1, (n,), generator=g)


def _mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    return torch.arange(T)[None, :] < lengths[:, None]


def memory_task(n: int, lag: int, num_keys: int = 4, num_distractors: int = 8,
                seed: int = 0) -> SequenceTask:
    """``n`` sequences ``[key, d_1, ..., d_lag]`` of length ``lag + 1``; label = ``key - 1``.

    Token ids: ``0`` pad (unused here: all sequences have the same length), ``1..num_keys`` the keys,
    ``num_keys+1 .. num_keys+num_distractors`` the distractors (uniform, independent of the label).
    Chance accuracy is ``1 / num_keys``. Returns ids (n, lag+1), mask all ``True``, labels (n,).
    """
    if lag < 0:
        raise ValueError("lag must be >= 0")
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_keys, (n,), generator=g)
    distract = torch.randint(num_keys + 1, num_keys + num_distractors + 1, (n, lag), generator=g)
    ids = torch.cat([labels[:, None] + 1, distract], dim=1)
    mask = torch.ones_like(ids, dtype=torch.bool)
    return SequenceTask(ids, mask, labels, vocab_size=1 + num_keys + num_distractors,
                        num_classes=num_keys, name=f"memory(lag={lag})")


def local_pattern_task(n: int, min_len: int = 20, max_len: int = 40, vocab: int = 10,
                       motif: tuple[int, int, int] = (3, 1, 4), seed: int = 0) -> SequenceTask:
    """Label 1 iff the trigram ``motif`` occurs contiguously; half of the examples are positive.

    Tokens are ``1..vocab`` (uniform); positives get the motif written at a uniform position;
    negatives have every accidental occurrence broken by resampling its last token. Lengths are
    uniform in ``[min_len, max_len]``; ids are padded with ``0`` to ``max_len``.
    """
    if not all(1 <= m <= vocab for m in motif) or min_len < len(motif):
        raise ValueError("motif tokens must be in 1..vocab and min_len >= len(motif)")
    g = torch.Generator().manual_seed(seed)
    k = len(motif)
    lengths = _lengths(n, min_len, max_len, g)
    ids = torch.randint(1, vocab + 1, (n, max_len), generator=g)
    labels = (torch.arange(n) % 2)[torch.randperm(n, generator=g)]
    motif_t = torch.tensor(motif)
    starts = torch.arange(max_len - k + 1)
    inside = starts[None, :] + k <= lengths[:, None]            # (n, max_len-k+1): window inside the sequence
    # break every accidental occurrence by resampling its last token (repeat: that may create a new one)
    while True:
        hits = (ids.unfold(1, k, 1) == motif_t).all(-1) & inside   # (n, max_len-k+1)
        if not hits.any():
            break
        rows, cols = hits.nonzero(as_tuple=True)
        ids[rows, cols + k - 1] = torch.randint(1, vocab + 1, (rows.numel(),), generator=g)
    # positives: write the motif at a uniform position inside the sequence
    u = torch.rand(n, generator=g)
    pos = (u * (lengths - k + 1)).long()                       # (n,) in [0, L-k]
    rows = labels.nonzero(as_tuple=True)[0]
    for j in range(k):
        ids[rows, pos[rows] + j] = motif_t[j]
    mask = _mask(lengths, max_len)
    ids = ids.masked_fill(~mask, PAD_ID)
    return SequenceTask(ids, mask, labels, vocab_size=vocab + 1, num_classes=2, name="local pattern")


def long_distance_task(n: int, min_len: int = 21, max_len: int = 40, vocab: int = 10,
                       min_gap: int = 10, margin: int = 5, seed: int = 0) -> SequenceTask:
    """Label 1 iff marker ``A`` comes before marker ``B``; half of the examples are positive.

    Filler tokens are ``1..vocab``; ``A = vocab + 1`` and ``B = vocab + 2`` occur exactly once each,
    at positions ``i < j`` with ``j - i >= min_gap`` and at least ``margin`` tokens from either end
    (so no window of width <= ``margin`` sees a marker next to the sequence boundary). Lengths are
    uniform in ``[min_len, max_len]`` (``min_len >= 2 * margin + min_gap + 1``); padded with ``0``.
    """
    if min_len < 2 * margin + min_gap + 1:
        raise ValueError("min_len must be >= 2 * margin + min_gap + 1")
    g = torch.Generator().manual_seed(seed)
    A, B = vocab + 1, vocab + 2
    lengths = _lengths(n, min_len, max_len, g)
    ids = torch.randint(1, vocab + 1, (n, max_len), generator=g)
    labels = (torch.arange(n) % 2)[torch.randperm(n, generator=g)]
    lo, hi = margin, lengths - 1 - margin                      # allowed positions, inclusive; hi (n,)
    u, v = torch.rand(n, generator=g), torch.rand(n, generator=g)
    i = lo + (u * (hi - min_gap - lo + 1)).long()               # uniform in [lo, hi - min_gap]
    j = i + min_gap + (v * (hi - i - min_gap + 1)).long()       # uniform in [i + min_gap, hi]
    first = torch.where(labels == 1, A, B)
    second = torch.where(labels == 1, B, A)
    rows = torch.arange(n)
    ids[rows, i] = first
    ids[rows, j] = second
    mask = _mask(lengths, max_len)
    ids = ids.masked_fill(~mask, PAD_ID)
    return SequenceTask(ids, mask, labels, vocab_size=vocab + 3, num_classes=2, name="long distance")
