"""Byte-level byte-pair encoding (BPE), as GPT-2 tokenizes text.

The tokenizer starts from the 256 byte values (ids 0..255 are the bytes themselves) and learns merge
rules from a training text: each rule replaces the most frequent adjacent pair of ids by a new id.

Contracts:

- **Pre-splitting.** Text is first cut into chunks with a regular expression (:data:`GPT2_PATTERN`, the
  pattern of GPT-2) and pairs are only counted and merged inside a chunk, so no token spans a word
  boundary such as ``"dog."``.
- **Tie rule.** Each merge takes the pair with the largest count over the training text; among pairs
  with the same count, the smallest pair ``(a, b)`` in id order (compare ``a`` first, then ``b``).
  Merge ``k`` (counting from 0) creates id ``256 + k``.
- **Special tokens** (e.g. ``"<|endoftext|>"``) are cut out of the text before anything else: they are
  never counted, split or merged, and take the ids after the last merge, in the order given.
- **Encoding** applies, inside each chunk, the merge of lowest rank (earliest learned) first, again and
  again, until no learned pair is left: the order of training, not the pairs' counts in the input.
- **Decoding** concatenates the tokens' bytes and decodes the whole with UTF-8, invalid sequences
  becoming U+FFFD (``errors="replace"``), so ``decode(encode(s)) == s`` for every string UTF-8 can
  represent (every ``str`` without lone surrogates, which UTF-8 cannot encode: ``encode`` raises
  ``UnicodeEncodeError`` on them), and any list of ids decodes without error.

Training counts pairs over the *unique* chunks weighted by their frequencies and updates the counts
incrementally after each merge (only the chunks that contain the merged pair change), with a heap
for the largest count: a few seconds for a few hundred KB of text in pure Python.
"""
from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import regex

__all__ = ["GPT2_PATTERN", "BPETokenizer", "pre_split", "pair_counts", "merge_pair", "split_special",
           "train_merges", "train_bpe", "encode_chunk", "build_vocab", "decode_with", "bpe_encode", "bpe_decode",
           "bytes_to_unicode"]

# GPT-2's pre-tokenization pattern: English contractions; letters with an optional leading space;
# digits with an optional leading space; other symbols with an optional leading space; runs of
# whitespace not followed by a non-space (so the last space of a run joins the next word); whitespace.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def pre_split(text: str, pattern: str = GPT2_PATTERN) -> list[str]:
    """The chunks of ``text`` under ``pattern``; they concatenate back to ``text`` for GPT2_PATTERN."""
    return regex.findall(pattern, text)


def pair_counts(words: dict[tuple[int, ...], int]) -> dict[tuple[int, int], int]:
    """Counts of adjacent id pairs over ``words`` (a sequence of ids -> its frequency), weighted."""
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for ids, freq in words.items():
        for pair in zip(ids, ids[1:]):
            counts[pair] += freq
    return dict(counts)


def merge_pair(ids, pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right without
    overlaps (``(a, a)`` in ``a a a`` gives ``new a``). Returns a new list."""
    out, i, n = [], 0, len(ids)
    a, b = pair
    while i < n:
        if i < n - 1 and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def split_special(text: str, special_tokens) -> list[tuple[str, bool]]:
    """Cut ``text`` at every occurrence of a special token: a list of (piece, is_special). Where two
    special tokens could start at the same place, the longer wins. Empty pieces are dropped."""
    specials = sorted(set(special_tokens), key=len, reverse=True)
    if not specials:
        return [(text, False)] if text else []
    pat = "(" + "|".join(regex.escape(s) for s in specials) + ")"
    out = []
    for i, piece in enumerate(regex.split(pat, text)):
        if piece:
            out.append((piece, i % 2 == 1))
    return out


def train_merges(text: str, num_merges: int, special_tokens=(), pattern: str = GPT2_PATTERN
                 ) -> list[tuple[int, int]]:
    """Learn up to ``num_merges`` merges on ``text`` (fewer if no pair is left), with the tie rule of
    the module docstring. Special tokens are removed from the text first."""
    chunks: Counter = Counter()
    for piece, special in split_special(text, special_tokens):
        if not special:
            chunks.update(pre_split(piece, pattern))
    seqs = [list(w.encode("utf-8")) for w in chunks]
    freqs = list(chunks.values())
    counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for i, (seq, f) in enumerate(zip(seqs, freqs)):
        for p in zip(seq, seq[1:]):
            counts[p] += f
            where[p].add(i)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < num_merges and heap:
        negc, pair = heapq.heappop(heap)
        if counts.get(pair, 0) != -negc or negc == 0:
            continue  # a stale entry: the pair's current count was pushed when it changed
        new_id = 256 + len(merges)
        merges.append(pair)
        changed = set()
        for i in where.pop(pair, ()):
            seq, f = seqs[i], freqs[i]
            new = merge_pair(seq, pair, new_id)
            if len(new) == len(seq):
                continue
            for p in zip(seq, seq[1:]):
                counts[p] -= f
                changed.add(p)
            for p in zip(new, new[1:]):
                counts[p] += f
                where[p].add(i)
                changed.add(p)
            seqs[i] = new
        counts.pop(pair, None)
        changed.discard(pair)
        for p in changed:
            c = counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                counts.pop(p, None)
    return merges


def encode_chunk(data: bytes, ranks: dict[tuple[int, int], int]) -> list[int]:
    """The ids of one chunk's bytes: apply the lowest-ranked learned merge until none applies."""
    ids = list(data)
    while len(ids) > 1:
        best = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        ids = merge_pair(ids, best, 256 + ranks[best])
    return ids


def build_vocab(merges, special_tokens=()) -> dict[int, bytes]:
    """id -> bytes: the 256 bytes, then each merge's two parts concatenated, then the special tokens'
    UTF-8 text."""
    vocab = {i: bytes([i]) for i in range(256)}
    for k, (a, b) in enumerate(merges):
        vocab[256 + k] = vocab[a] + vocab[b]
    for j, s in enumerate(special_tokens):
        vocab[256 + len(merges) + j] = s.encode("utf-8")
    return vocab


def decode_with(vocab: dict[int, bytes], ids) -> str:
    """All the tokens' bytes concatenated, then decoded as UTF-8 with invalid sequences as U+FFFD."""
    return b"".join(vocab[int(i)] for i in ids).decode("utf-8", errors="replace")


@dataclass
class BPETokenizer:
    """A trained byte-level BPE tokenizer: ``merges`` in the order learned, ``special_tokens`` in id
    order (ids ``256 + len(merges)`` onwards), the pre-split ``pattern``."""

    merges: list[tuple[int, int]]
    special_tokens: tuple[str, ...] = ()
    pattern: str = GPT2_PATTERN
    _ranks: dict = field(init=False, repr=False)
    _vocab: dict = field(init=False, repr=False)
    _cache: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.merges = [tuple(p) for p in self.merges]
        self.special_tokens = tuple(self.special_tokens)
        self._ranks = {p: k for k, p in enumerate(self.merges)}
        self._vocab = build_vocab(self.merges, self.special_tokens)
        self._cache = {}

    @property
    def vocab(self) -> dict[int, bytes]:
        """id -> the bytes it stands for (a special token: its UTF-8 text)."""
        return self._vocab

    @property
    def special_ids(self) -> dict[str, int]:
        return {s: 256 + len(self.merges) + j for j, s in enumerate(self.special_tokens)}

    def __len__(self) -> int:
        return len(self._vocab)

    def encode(self, text: str, allowed_special="all") -> list[int]:
        """Token ids of ``text``. ``allowed_special``: ``"all"`` (every special token in the text becomes
        its id), ``"none"`` (special tokens are encoded as ordinary text), or a set of special tokens."""
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        elif allowed_special == "none":
            allowed = set()
        else:
            allowed = set(allowed_special)
        ids: list[int] = []
        sid = self.special_ids
        for piece, special in split_special(text, allowed):
            if special:
                ids.append(sid[piece])
                continue
            for chunk in pre_split(piece, self.pattern):
                got = self._cache.get(chunk)
                if got is None:
                    got = encode_chunk(chunk.encode("utf-8"), self._ranks)
                    if len(self._cache) < 200_000:
                        self._cache[chunk] = got
                ids.extend(got)
        return ids

    def decode(self, ids) -> str:
        """The text of ``ids``: all their bytes concatenated, then decoded with ``errors="replace"``."""
        return decode_with(self._vocab, ids)

    def token_bytes(self, ids) -> list[bytes]:
        return [self._vocab[int(i)] for i in ids]

    def save(self, path) -> None:
        Path(path).write_text(json.dumps({"kind": "byte-level-bpe", "pattern": self.pattern,
                                          "special_tokens": list(self.special_tokens),
                                          "merges": [list(p) for p in self.merges]}), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "BPETokenizer":
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(merges=[tuple(p) for p in d["merges"]], special_tokens=tuple(d["special_tokens"]),
                   pattern=d["pattern"])


def train_bpe(text: str, vocab_size: int, special_tokens=(), pattern: str = GPT2_PATTERN) -> BPETokenizer:
    """Train a byte-level BPE tokenizer of at most ``vocab_size`` ids: 256 bytes, then
    ``vocab_size - 256 - len(special_tokens)`` merges (fewer if the text runs out of pairs), then the
    special tokens."""
    special_tokens = tuple(special_tokens)
    num_merges = vocab_size - 256 - len(special_tokens)
    if num_merges < 0:
        raise ValueError(f"vocab_size {vocab_size} < 256 bytes + {len(special_tokens)} special tokens")
    return BPETokenizer(train_merges(text, num_merges, special_tokens, pattern), special_tokens, pattern)


def bpe_encode(text: str, merges, special_tokens=()) -> list[int]:
    """The ids of ``text`` under ``merges`` and ``special_tokens`` (every special token in the text whole)."""
    return BPETokenizer(list(merges), tuple(special_tokens)).encode(text)


def bpe_decode(ids, merges, special_tokens=()) -> str:
    """The text of ``ids`` under ``merges`` and ``special_tokens``."""
    return decode_with(build_vocab(merges, special_tokens), ids)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte (the alphabet of the ``tokenizers`` ByteLevel
    pre-tokenizer): printable bytes stand for themselves, the others for characters from U+0100 on."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}
