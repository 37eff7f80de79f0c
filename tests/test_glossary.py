"""One Korean term per English term, course-wide.

Every solution notebook opens with a **용어 (terms)** table (English | 한국어 | meaning); the course
glossary `docs/glossary.md` lists every term (English | 한국어 | notebook | meaning). This test reads
both and requires that

- every term in a notebook's terms box is in the glossary, and
- the notebook gives it the glossary's Korean term.

How a table cell becomes terms: text in parentheses is a gloss (an abbreviation, the English word, a
second name) and is set aside, so "어텐션 (주의)" is the term 어텐션; backticks and case are ignored on
the English side. A cell that lists several terms separated by " / " or ", " is paired term by term
with the Korean cell when both list the same number ("parameter / weight, bias" with
"파라미터 / 가중치, 편향"); otherwise the whole cell is one term.
"""
from __future__ import annotations

import json
import re

import pytest
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.md"


@dataclass(frozen=True)
class Term:
    english: str  # normalised key
    korean: str  # the head term, glosses removed
    source: str  # where it was read: "docs/glossary.md" or a notebook's name
    row: str  # the table row's English and Korean cells, as written


def _strip_glosses(text: str) -> str:
    """Remove parenthesised glosses (nested ones too) and collapse whitespace."""
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"\s*\([^()]*\)", "", text)
    return " ".join(text.split())


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"\s+/\s+|,\s+", text) if part.strip()]


def _english_key(text: str) -> str:
    return " ".join(text.replace("`", "").lower().split())


def terms_of_row(english: str, korean: str, source: str) -> list[Term]:
    """The terms one table row defines (see the module docstring)."""
    en, ko = _strip_glosses(english), _strip_glosses(korean)
    en_parts, ko_parts = _split(en), _split(ko)
    if len(en_parts) != len(ko_parts) or len(en_parts) < 2:
        en_parts, ko_parts = [en], [ko]
    row = f"{english.strip()} | {korean.strip()}"
    return [Term(_english_key(e), k, source, row) for e, k in zip(en_parts, ko_parts)]


def _table_rows(markdown: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        line = line.strip()
        if not (line.startswith("|") and line.endswith("|")):
            continue
        cells = [c.strip() for c in line[1:-1].split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the separator row
        rows.append(cells)
    return rows[1:] if rows else rows  # drop the header row


def glossary_terms() -> list[Term]:
    terms = []
    for cells in _table_rows(GLOSSARY.read_text(encoding="utf-8")):
        terms += terms_of_row(cells[0], cells[1], "docs/glossary.md")
    return terms


def terms_box(notebook: Path) -> str | None:
    """The markdown of the notebook's 용어 (terms) cell, or None."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and re.search(r"^#+\s*용어", source, re.M):
            return source
    return None


def notebook_terms(notebook: Path) -> list[Term]:
    box = terms_box(notebook)
    return [t for cells in _table_rows(box or "") for t in terms_of_row(cells[0], cells[1], notebook.stem)]


NOTEBOOKS = sorted((ROOT / "solutions").glob("*/*.ipynb"))


def test_parser_pairs_terms_and_drops_glosses():
    terms = terms_of_row("parameter / weight, bias", "파라미터 / 가중치, 편향", "x")
    assert [(t.english, t.korean) for t in terms] == [
        ("parameter", "파라미터"), ("weight", "가중치"), ("bias", "편향")]
    (t,) = terms_of_row("attention", "어텐션 (주의)", "x")
    assert (t.english, t.korean) == ("attention", "어텐션")
    (t,) = terms_of_row("`[CLS]` token", "분류 토큰", "x")
    assert t.english == "[cls] token"
    # different counts on the two sides: the whole cell is one term
    (t,) = terms_of_row("add & norm (residual connection, layer normalization)", "잔차 연결과 층 정규화", "x")
    assert (t.english, t.korean) == ("add & norm", "잔차 연결과 층 정규화")


def test_glossary_gives_one_korean_term_per_english_term():
    seen: dict[str, Term] = {}
    clashes = []
    for term in glossary_terms():
        first = seen.setdefault(term.english, term)
        if first.korean != term.korean:
            clashes.append(f"  {term.english!r}: {first.korean!r} (row {first.row!r}) vs "
                           f"{term.korean!r} (row {term.row!r})")
    assert not clashes, "the glossary gives two Korean terms for one English term:\n" + "\n".join(clashes)


def test_every_notebook_has_a_terms_box():
    missing = [nb.stem for nb in NOTEBOOKS if not notebook_terms(nb)]
    assert not missing, f"no 용어 (terms) table in: {missing}"


def test_terms_boxes_use_the_glossary_terms():
    glossary = {t.english: t for t in glossary_terms()}
    problems = []
    for nb in NOTEBOOKS:
        for term in notebook_terms(nb):
            entry = glossary.get(term.english)
            if entry is None:
                problems.append(f"  {nb.stem}: {term.english!r} is not in the glossary "
                                f"(notebook's Korean {term.korean!r}; row {term.row!r})")
            elif entry.korean != term.korean:
                problems.append(f"  {nb.stem}: {term.english!r}: glossary {entry.korean!r}, "
                                f"notebook {term.korean!r} (row {term.row!r})")
    if problems:
        pytest.fail(f"{len(problems)} terms-box entries disagree with docs/glossary.md "
                    "(notebook: English term: glossary's Korean, notebook's Korean):\n"
                    + "\n".join(problems), pytrace=False)
