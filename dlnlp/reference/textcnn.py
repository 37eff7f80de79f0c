"""TextCNN (Kim, 2014) and its bag-of-embeddings baseline, with the masked poolings they use.

Notebook 02 has learners write these pieces; its tests compare with this file, and notebook 04 imports
:class:`TextCNN` for its TextCNN / RNN / LSTM comparison.

Conventions (shared with :mod:`dlnlp.text`): ``ids`` is a ``(B, T)`` long tensor of token ids padded on
the right with ``pad_id``; ``mask`` is a ``(B, T)`` bool tensor, ``True`` on real tokens.

How :class:`TextCNN` treats padding and short inputs: embeddings of padded positions are set to zero,
and each convolution of width ``k`` reads the sequence padded on the right with ``k - 1`` zero vectors,
so its output at position ``t`` is the window of tokens ``t .. t+k-1`` and has length ``T``. Max-over-time
pooling then takes the windows that *start* on a real token. Hence every real token starts exactly one
window, a one-token sentence still has features for every kernel width, and a sentence gives the same
logits alone or inside a padded batch.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["masked_mean", "masked_max", "TextCNN", "BagOfEmbeddings"]


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Average of ``x`` (B, T, C) over the real positions of ``mask`` (B, T) -> (B, C).

    Rows without any real position give zeros. ``mask=None`` averages over all ``T`` positions.
    """
    if mask is None:
        return x.mean(dim=1)
    m = mask.unsqueeze(-1).to(x.dtype)                      # (B, T, 1)
    total = x.masked_fill(~mask.unsqueeze(-1), 0.0).sum(dim=1)  # (B, C); inf or NaN on padding is dropped
    count = m.sum(dim=1).clamp_min(1.0)                     # (B, 1)
    return total / count


def masked_max(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Maximum of ``x`` (B, T, C) over the real positions of ``mask`` (B, T) -> (B, C).

    Padded positions never win, even when every real value is negative. Rows without any real
    position give zeros. ``mask=None`` takes the maximum over all ``T`` positions.
    """
    if mask is None:
        return x.max(dim=1).values
    filled = x.masked_fill(~mask.unsqueeze(-1), float("-inf"))  # (B, T, C)
    out = filled.max(dim=1).values                              # (B, C)
    empty = ~mask.any(dim=1, keepdim=True)                      # (B, 1)
    return out.masked_fill(empty, 0.0)


class TextCNN(nn.Module):
    """Embeddings, one ``Conv1d`` per kernel width, ReLU, masked max-over-time pooling, concatenation,
    dropout and a linear classifier.

    Parameters: ``embedding`` (``nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)``), ``convs``
    (``nn.ModuleList`` of ``nn.Conv1d(emb_dim, num_filters, k)``, one per ``k`` in ``kernel_sizes``),
    ``dropout`` and ``fc`` (``nn.Linear(num_filters * len(kernel_sizes), num_classes)``).
    """

    def __init__(self, vocab_size: int, emb_dim: int, num_classes: int,
                 kernel_sizes: Sequence[int] = (3, 4, 5), num_filters: int = 32, pad_id: int = 0,
                 dropout: float = 0.0):
        super().__init__()
        self.pad_id = pad_id
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, num_filters, k) for k in self.kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters * len(self.kernel_sizes), num_classes)

    def features(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled features (B, num_filters * len(kernel_sizes)), before dropout and ``fc``."""
        x = self.embedding(ids)                                    # (B, T, E)
        if mask is not None:
            x = x.masked_fill(~mask.unsqueeze(-1), 0.0)            # padded tokens read as zeros
        x = x.transpose(1, 2)                                      # (B, E, T): channels first for Conv1d
        pooled = []
        for conv in self.convs:
            k = conv.kernel_size[0]
            h = torch.relu(conv(F.pad(x, (0, k - 1))))             # (B, C, T): window t = tokens t..t+k-1
            if mask is not None:
                # ReLU outputs are >= 0, so filling with 0 never beats a real window; rows with no
                # real token pool to 0.
                h = h.masked_fill(~mask.unsqueeze(1), 0.0)
            pooled.append(h.max(dim=2).values)                     # (B, C): max over time
        return torch.cat(pooled, dim=1)                            # (B, C * n_widths)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``ids`` (B, T) long, ``mask`` (B, T) bool or ``None`` (all real) -> logits (B, num_classes)."""
        return self.fc(self.dropout(self.features(ids, mask)))


class BagOfEmbeddings(nn.Module):
    """The order-blind baseline: the mean of the real tokens' embeddings, then a linear classifier.

    Parameters: ``embedding`` (``nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)``), ``fc``.
    """

    def __init__(self, vocab_size: int, emb_dim: int, num_classes: int, pad_id: int = 0):
        super().__init__()
        self.pad_id = pad_id
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.fc = nn.Linear(emb_dim, num_classes)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``ids`` (B, T) long, ``mask`` (B, T) bool or ``None`` (all real) -> logits (B, num_classes)."""
        return self.fc(masked_mean(self.embedding(ids), mask))     # (B, E) -> (B, num_classes)
