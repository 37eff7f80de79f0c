"""Shared pieces of the sequence-to-sequence notebooks (05 seq2seq, 06 attention): batches with
``<sos>``/``<eos>`` and padding, and evaluation (BLEU, exact match, quality by source length).

Tokens and BLEU
---------------
Sentences are tokenised with :func:`dlnlp.data.translation.tokenize`: ``dlnlp.text.tokenize`` (lower
case, words and punctuation) with Korean particles split off known stems (``사과를`` -> ``사과 를``).
:func:`bleu` tokenises hypotheses and references that way, joins the tokens with spaces and calls
``sacrebleu.corpus_bleu(..., tokenize="none")``: BLEU over the model's own tokens, so a wrong particle
costs one token, not the whole word, and the score does not depend on sacrebleu's English-centred
``13a`` rules. It is corpus BLEU (0-100), 4-grams, sacrebleu's default brevity penalty, no smoothing
beyond sacrebleu's default (``exp``). Passing text or space-joined tokens gives the same score.

Shapes: ``B`` batch, ``S`` source length, ``T`` target length (with ``<sos>`` and ``<eos>``).
"""
from __future__ import annotations

import random
from typing import Callable, Iterator, Sequence

import torch

from .data.translation import tokenize
from .text import Vocab, pad_batch

__all__ = ["build_vocabs", "encode_pairs", "make_batches", "bleu", "exact_match", "length_buckets",
           "bucket_labels", "evaluate_by_length", "source_length", "batched", "DEFAULT_EDGES"]

#: Source-length bucket edges used by notebooks 05 and 06: 3-5, 6-8, 9-11, 12-14, 15-16 tokens.
DEFAULT_EDGES: tuple[int, ...] = (3, 6, 9, 12, 15, 17)

Pair = tuple[str, str]


def build_vocabs(pairs: Sequence[Pair], min_freq: int = 1) -> tuple[Vocab, Vocab]:
    """Source and target vocabularies (with ``<pad>`` = 0, ``<unk>``, ``<sos>``, ``<eos>``) from the
    tokens of ``pairs`` (normally the training split)."""
    src = Vocab((tokenize(s) for s, _ in pairs), min_freq=min_freq)
    tgt = Vocab((tokenize(t) for _, t in pairs), min_freq=min_freq)
    return src, tgt


def encode_pairs(pairs: Sequence[Pair], src_vocab: Vocab,
                 tgt_vocab: Vocab) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Turn (source, target) strings into padded id tensors.

    Returns ``src_ids`` (B, S) long, ``src_mask`` (B, S) bool (``True`` on real tokens) and
    ``tgt_ids`` (B, T) long laid out as ``<sos> y_1 ... y_n <eos> <pad> ...``. The decoder reads
    ``tgt_ids[:, :-1]`` and predicts ``tgt_ids[:, 1:]``; padding (id ``tgt_vocab.pad_id`` = 0) is what
    the loss must ignore. The source has no ``<sos>``/``<eos>``.
    """
    src_ids, src_mask = pad_batch([src_vocab.encode(tokenize(s)) for s, _ in pairs], src_vocab.pad_id)
    tgt_ids, _ = pad_batch([tgt_vocab.encode(tokenize(t), add_sos=True, add_eos=True) for _, t in pairs],
                           tgt_vocab.pad_id)
    return src_ids, src_mask, tgt_ids


def make_batches(pairs: Sequence[Pair], src_vocab: Vocab, tgt_vocab: Vocab, batch_size: int = 64,
                 shuffle: bool = True, seed: int = 0, sort_by_length: bool = True,
                 device: torch.device | str | None = None) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Mini-batches ``(src_ids, src_mask, tgt_ids)`` of :func:`encode_pairs` over ``pairs``.

    With ``sort_by_length`` the pairs are grouped with others of similar source length (less padding,
    faster RNNs), and the batches are then shuffled with ``seed`` when ``shuffle``. Call it once per
    epoch with a different ``seed`` for a different order.
    """
    rng = random.Random(seed)
    idx = list(range(len(pairs)))
    if shuffle:
        rng.shuffle(idx)
    if sort_by_length:
        idx.sort(key=lambda i: len(tokenize(pairs[i][0])))  # stable: shuffled within a length
    chunks = [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    if shuffle:
        rng.shuffle(chunks)
    out = []
    for chunk in chunks:
        batch = encode_pairs([pairs[i] for i in chunk], src_vocab, tgt_vocab)
        out.append(tuple(t.to(device) for t in batch) if device is not None else batch)
    return out


def _joined(texts: Sequence[str]) -> list[str]:
    return [" ".join(tokenize(t)) for t in texts]


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) of ``hypotheses`` against one reference each, over :func:`tokenize`
    tokens (sacrebleu with ``tokenize="none"``; see the module docstring). Empty input gives 0."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return 0.0
    return float(sacrebleu.corpus_bleu(_joined(hypotheses), [_joined(references)], tokenize="none").score)


def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Fraction (0-1) of hypotheses whose tokens equal the reference's tokens exactly."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return 0.0
    return sum(tokenize(h) == tokenize(r) for h, r in zip(hypotheses, references)) / len(hypotheses)


def source_length(pair: Pair) -> int:
    """Number of source tokens of a pair (the x-axis of the quality-by-length plots)."""
    return len(tokenize(pair[0]))


def bucket_labels(edges: Sequence[int]) -> list[str]:
    """``(3, 6, 9)`` -> ``["3-5", "6-8"]``: bucket ``i`` holds lengths ``edges[i] <= n < edges[i+1]``."""
    return [f"{lo}-{hi - 1}" if hi - 1 > lo else f"{lo}" for lo, hi in zip(edges[:-1], edges[1:])]


def length_buckets(pairs: Sequence[Pair], edges: Sequence[int] = DEFAULT_EDGES) -> list[list[Pair]]:
    """Split ``pairs`` by source length: bucket ``i`` holds the pairs with
    ``edges[i] <= source_length < edges[i+1]``. Pairs outside ``[edges[0], edges[-1])`` are dropped."""
    if any(b <= a for a, b in zip(edges[:-1], edges[1:])):
        raise ValueError(f"edges must increase; got {list(edges)}")
    buckets: list[list[Pair]] = [[] for _ in range(len(edges) - 1)]
    for pair in pairs:
        b = _bucket_of(source_length(pair), edges)
        if b is not None:
            buckets[b].append(pair)
    return buckets


def _bucket_of(n: int, edges: Sequence[int]) -> int | None:
    for i in range(len(edges) - 1):
        if edges[i] <= n < edges[i + 1]:
            return i
    return None


def evaluate_by_length(translate_fn: Callable[[list[str]], list[str]], pairs: Sequence[Pair],
                       edges: Sequence[int] = DEFAULT_EDGES, batch_size: int = 256) -> dict:
    """Translate the sources of ``pairs`` and score them, overall and per source-length bucket.

    ``translate_fn`` maps a list of source strings to a list of hypothesis strings (text or
    space-joined tokens); it is called on batches of at most ``batch_size`` sources. Returns
    ``{"labels": [...], "n": [...], "bleu": [...], "exact": [...], "overall_bleu": float,
    "overall_exact": float, "hypotheses": [...]}``; "overall" covers every pair given, bucketed or not,
    and ``hypotheses`` follows the order of ``pairs``.
    """
    sources = [s for s, _ in pairs]
    hyps: list[str] = []
    for i in range(0, len(sources), batch_size):
        out = list(translate_fn(sources[i:i + batch_size]))
        if len(out) != len(sources[i:i + batch_size]):
            raise ValueError("translate_fn must return one hypothesis per source")
        hyps.extend(out)
    edges = list(edges)
    result: dict = {"labels": bucket_labels(edges), "n": [], "bleu": [], "exact": []}
    members: list[list[int]] = [[] for _ in range(len(edges) - 1)]
    for j, pair in enumerate(pairs):
        b = _bucket_of(source_length(pair), edges)
        if b is not None:
            members[b].append(j)
    for idx in members:
        h = [hyps[j] for j in idx]
        r = [pairs[j][1] for j in idx]
        result["n"].append(len(idx))
        result["bleu"].append(bleu(h, r))
        result["exact"].append(exact_match(h, r))
    refs = [t for _, t in pairs]
    result["overall_bleu"] = bleu(hyps, refs)
    result["overall_exact"] = exact_match(hyps, refs)
    result["hypotheses"] = hyps
    return result


def batched(items: Sequence, size: int) -> Iterator[Sequence]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for i in range(0, len(items), size):
        yield items[i:i + size]
