"""WordPiece tokenization as BERT does it, from a ``vocab.txt`` (one token per line, id = line number).

Two stages, as in the original BERT code:

1. **Basic tokenization** (:func:`basic_tokenize`): clean the text (drop NUL, U+FFFD and control
   characters; every whitespace character becomes a space), normalise to NFC, put spaces around CJK
   ideographs (each becomes its own word), split on whitespace; then per word lower-case it and strip
   accents (NFD, then drop the combining marks, category Mn) when the vocabulary's configuration says
   so, and split off every punctuation character as its own word.
2. **WordPiece** (:func:`wordpiece`) on each word: greedy longest match from the left; every piece
   after the first carries the prefix ``##``; a word with no cover by the vocabulary, or longer than
   ``max_input_chars_per_word`` characters, becomes a single ``[UNK]``.

With ``strip_accents=None`` accents are stripped exactly when lower-casing (BERT's uncased models);
``True``/``False`` force it on or off. NFD also splits Hangul syllables into their jamo, so an uncased
BERT vocabulary sees Korean as jamo.

:class:`WordPiece` matches ``transformers.BertTokenizer`` token for token on the vocabulary of
all-MiniLM-L6-v2 (tests/test_dlnlp_tokenization.py).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WordPiece", "basic_tokenize", "wordpiece", "clean_text", "is_punctuation", "is_cjk",
           "strip_accents_of", "load_vocab"]


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punctuation(ch: str) -> bool:
    """BERT's punctuation: every non-letter, non-digit ASCII symbol ($, ^, `, ...) and every Unicode P* character."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(ch: str) -> bool:
    """A CJK Unified Ideograph (Chinese characters, also used in Japanese and Korean hanja). Hangul and
    kana are not in these blocks."""
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def clean_text(text: str) -> str:
    """Drop NUL, U+FFFD and control characters; turn every whitespace character into a space."""
    out = []
    for ch in text:
        if ch == "\x00" or ch == "\ufffd" or _is_control(ch):
            continue
        out.append(" " if _is_whitespace(ch) else ch)
    return "".join(out)


def strip_accents_of(word: str) -> str:
    """NFD, then drop the combining marks (category Mn): "naïve" -> "naive"."""
    return "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")


def _split_punctuation(word: str) -> list[str]:
    out, cur = [], []
    for ch in word:
        if is_punctuation(ch):
            if cur:
                out.append("".join(cur))
                cur = []
            out.append(ch)
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def basic_tokenize(text: str, do_lower_case: bool = True, strip_accents: bool | None = None) -> list[str]:
    """BERT's basic tokenizer: the words WordPiece then splits (see the module docstring)."""
    text = unicodedata.normalize("NFC", clean_text(text))
    text = "".join(f" {ch} " if is_cjk(ch) else ch for ch in text)
    strip = do_lower_case if strip_accents is None else strip_accents
    words = []
    for word in text.split():
        if do_lower_case:
            word = word.lower()
        if strip:
            word = strip_accents_of(word)
        words.extend(w for piece in _split_punctuation(word) for w in piece.split())
    return words


def wordpiece(word: str, vocab, unk_token: str = "[UNK]", max_input_chars_per_word: int = 100) -> list[str]:
    """Greedy longest-match-first split of one word into vocabulary pieces (continuations prefixed
    ``##``); ``[unk_token]`` for the whole word if any position has no match or the word is too long."""
    if len(word) > max_input_chars_per_word:
        return [unk_token]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return [unk_token]
        pieces.append(found)
        start = end
    return pieces


def load_vocab(path) -> dict[str, int]:
    """A ``vocab.txt``: token on line i has id i (the line's trailing newline removed)."""
    vocab: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            vocab[line.rstrip("\n")] = i
    return vocab


@dataclass
class WordPiece:
    """A BERT tokenizer: ``vocab`` (token -> id) and the options of its configuration."""

    vocab: dict[str, int]
    do_lower_case: bool = True
    strip_accents: bool | None = None
    unk_token: str = "[UNK]"
    max_input_chars_per_word: int = 100
    cls_token: str = "[CLS]"
    sep_token: str = "[SEP]"
    pad_token: str = "[PAD]"
    mask_token: str = "[MASK]"

    def __post_init__(self):
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}

    @classmethod
    def from_vocab(cls, path, do_lower_case: bool = True, strip_accents: bool | None = None,
                   unk_token: str = "[UNK]", max_input_chars_per_word: int = 100) -> "WordPiece":
        return cls(load_vocab(Path(path)), do_lower_case, strip_accents, unk_token, max_input_chars_per_word)

    def tokenize(self, text: str) -> list[str]:
        return [piece for word in basic_tokenize(text, self.do_lower_case, self.strip_accents)
                for piece in wordpiece(word, self.vocab, self.unk_token, self.max_input_chars_per_word)]

    def convert_tokens_to_ids(self, tokens) -> list[int]:
        unk = self.vocab[self.unk_token]
        return [self.vocab.get(t, unk) for t in tokens]

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Ids of ``text``; with ``add_special_tokens``, ``[CLS] ... [SEP]`` around them."""
        ids = self.convert_tokens_to_ids(self.tokenize(text))
        if add_special_tokens:
            ids = [self.vocab[self.cls_token]] + ids + [self.vocab[self.sep_token]]
        return ids

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """Tokens joined by spaces with the ``##`` continuations glued back (lower-cased, accents gone:
        WordPiece does not round-trip). Special tokens are dropped unless ``skip_special_tokens`` is False."""
        specials = {self.cls_token, self.sep_token, self.pad_token}
        toks = [self.ids_to_tokens[int(i)] for i in ids]
        if skip_special_tokens:
            toks = [t for t in toks if t not in specials]
        return " ".join(toks).replace(" ##", "").strip()

    @property
    def pad_id(self) -> int:
        return self.vocab[self.pad_token]

    @property
    def mask_id(self) -> int:
        return self.vocab[self.mask_token]
