"""Real Korean text, shipped in the repository: the Constitution of the Republic of Korea and ten bills.

Provenance: the plain-text files of the ``kolaw`` and ``kobill`` corpora of KoNLPy 0.6.0
(``konlpy/data/corpus/``), copied unchanged into ``dlnlp/data/text/`` (KoNLPy itself is not needed).

- ``constitution_ko.txt``: 대한민국헌법 (the Constitution of the Republic of Korea, as amended in 1987),
  45,503 bytes of UTF-8, 18,884 characters.
- ``kobill/18098{90..99}.txt``: ten bills introduced in the 18th National Assembly in 2010 (amendments
  to the Local and State Public Officials Acts, the Educational Public Officials Act, the Administrative
  Procedures Act, ...; two motions on deploying army units abroad), 93,950 bytes, 46,315 characters.

License: under Article 7 of the Korean Copyright Act (저작권법 제7조, 보호받지 못하는 저작물) the
Constitution, laws, treaties, orders and ordinances, and notices and similar documents of the State, are
not protected works; the bills are the State's drafts of such laws, published by the National Assembly.
The course ships them as public-domain text.

Nothing is downloaded. :func:`load_korean` returns all of it as one string: 65,219 characters, 139,473
bytes of UTF-8.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex

__all__ = ["Document", "TEXT_FOLDER", "constitution", "bills", "load_korean", "korean_sentences"]

TEXT_FOLDER = Path(__file__).resolve().parent / "text"


@dataclass(frozen=True)
class Document:
    """One document: ``name`` (file name without ``.txt``), ``title`` (its first line) and ``text``."""

    name: str
    title: str
    text: str


def _read(path: Path) -> Document:
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    first = next((line.strip() for line in text.splitlines() if line.strip()), path.stem)
    return Document(name=path.stem, title=first, text=text)


@lru_cache(maxsize=None)
def constitution() -> Document:
    """대한민국헌법, the Constitution of the Republic of Korea."""
    path = TEXT_FOLDER / "constitution_ko.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the Korean texts ship with the repository")
    return _read(path)


@lru_cache(maxsize=None)
def bills() -> tuple[Document, ...]:
    """The ten bills of the 18th National Assembly, in file-name order."""
    return tuple(_read(p) for p in sorted((TEXT_FOLDER / "kobill").glob("*.txt")))


def load_korean() -> str:
    """The Constitution, then the ten bills, separated by blank lines."""
    return "\n\n".join([constitution().text] + [b.text for b in bills()])


_SENTENCE_END = regex.compile(r"(?<=[.?!])\s+|\n+")


def korean_sentences(text: str, min_chars: int = 10) -> list[str]:
    """Sentences of ``text``: cut after . ? ! followed by whitespace and at line breaks; runs of spaces
    collapsed; pieces shorter than ``min_chars`` characters or without a Hangul syllable dropped."""
    out = []
    for piece in _SENTENCE_END.split(text):
        s = " ".join(piece.split())
        if len(s) >= min_chars and regex.search(r"\p{Hangul}", s):
            out.append(s)
    return out
