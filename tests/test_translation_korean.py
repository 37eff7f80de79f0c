"""Does the synthetic English-Korean corpus read as natural Korean?

Each rule below is a fault a Korean reader notices at once. The rules read only the sentence pair (the
two strings), with a lexicon of their own, so they measure any version of the generator. Run this file
as a script to print how many of ``generate_pairs(5000, seed=0)`` break each rule:

    python tests/test_translation_korean.py

The tests require every rule to hold on every one of those 5,000 pairs.
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from functools import lru_cache
from typing import Callable

import pytest

from dlnlp.data import translation as T

N_SENTENCES, SEED = 5000, 0

# ---------------------------------------------------------------- the checker's own lexicon
ATTRIBUTIVE = set("""젊은 어린 친절한 행복한 바쁜 피곤한 똑똑한 맛있는 따뜻한 달콤한 신선한 큰 작은 싼 비싼 빨간
파란 검은 하얀 오래된 무거운 예쁜 긴 짧은 재미있는 슬픈 귀여운 배고픈 졸린 더러운 조용한 붐비는""".split())
DETERMINERS = {"내", "너의", "그의", "그녀의", "우리", "자기", "그들의", "새"}
HONORIFIC_NOUNS = {"선생님", "어머니", "아버지", "할머니"}
FEMALE_NOUNS = {"어머니", "할머니", "여동생", "그녀"}
MALE_NOUNS = {"아버지", "남동생", "그"}
ANIMALS = {"개", "고양이", "토끼", "말", "오리", "강아지", "거북이"}
MASS_FOODS = {"밥", "국", "김치", "고기", "치즈", "빵"}
CHILDREN = {"아이", "아기"}
FAMILY_AND_DOCTOR = {"어머니", "아버지", "할머니", "선생님", "의사"}
SIZE = {"큰", "작은", "크고", "작고"}
# what an animal (or a baby) can do: verb stems, and the places it can be
ANIMAL_VERBS = ("먹", "본", "봤", "볼", "좋아한", "좋아했", "좋아할", "사랑한", "사랑했", "사랑할", "찾",
                "있", "간", "갔", "갈")
ANIMAL_PLACES = {"집", "공원", "해변", "부엌", "정원", "마당"}
BABY_VERBS = ANIMAL_VERBS
BABY_PLACES = ANIMAL_PLACES | {"병원"}
# verbs that do not fit an object (object stems -> verb stems that are wrong for them)
_COOKED_ELSEWISE = {"쿠키", "케이크", "빵", "피자", "국", "밥", "김치", "치즈", "사과", "바나나", "오렌지", "멜론",
                    "샌드위치"}
_WIPED = {"의자", "탁자", "창문", "컵", "자동차", "자전거", "문", "가방", "우산", "모자", "열쇠", "컴퓨터", "연필",
          "상자", "시계", "전화기", "카메라"}
_NOT_WASHED = {"케이크", "샌드위치", "피자", "쿠키", "빵", "밥", "국", "김치", "치즈", "계란"}
_WRITTEN = {"편지", "이야기", "보고서", "신문"}
_UNCARRIABLE = {"자동차", "창문", "문"}

PARTICLE_RE = re.compile(r"^(.+?)(에서|께서|은|는|이|가|을|를|와|과|에)$")


@lru_cache(maxsize=None)
def _nouns() -> set[str]:
    nouns = set(ANIMALS | MASS_FOODS | CHILDREN | FAMILY_AND_DOCTOR | _COOKED_ELSEWISE | _WIPED | _WRITTEN)
    nouns |= {"나", "너", "그", "그녀", "우리", "그들", "친구", "여동생", "남동생", "학생", "이웃", "계란", "토마토",
              "책", "신문", "카드", "방", "부엌", "정원", "마당", "학교", "집", "도서관", "공원", "시장", "지하철", "버스",
              "역", "사무실", "카페", "교실", "병원", "식당", "해변", "박물관", "빵집"}
    return nouns


def _split(word: str) -> tuple[str, str] | None:
    """(noun, particle) when ``word`` is a known noun with a particle attached."""
    m = PARTICLE_RE.match(word)
    if m and m.group(1) in _nouns():
        return m.group(1), m.group(2)
    return None


def _phrases(ko: str) -> list[tuple[list[str], str, str]]:
    """The noun phrases of a Korean sentence: (modifier words, noun, particle) in order."""
    out, mods = [], []
    words = ko.split()
    for i, word in enumerate(words):
        sp = None if words[i + 1:i + 2] == ["것이다"] else _split(word)  # 나를 것이다: a verb
        if sp:
            out.append((mods, sp[0], sp[1]))
            mods = []
        elif word in ATTRIBUTIVE or word in DETERMINERS or word.endswith("고") and word != "함께":
            mods.append(word)
        else:
            mods = []
    return out


def _topic(ko: str) -> tuple[list[str], str] | None:
    """The subject: the first noun with 은/는 (or, in a 'there is' sentence, 이/가)."""
    phrases = _phrases(ko)
    for mods, noun, p in phrases:
        if p in ("은", "는", "께서"):
            return mods, noun
    for mods, noun, p in phrases:
        if p in ("이", "가"):
            return mods, noun
    return None


def _verb(ko: str) -> str:
    words = ko.split()
    return words[-2] if words[-1] == "것이다" and len(words) > 1 else words[-1]


# ---------------------------------------------------------------- the rules: True = the pair has the fault
def adjectives_stacked(en: str, ko: str) -> bool:
    """Two descriptive adjectives in a row without -고 (비싼 달콤한 바나나, not 비싸고 달콤한 바나나)."""
    words = ko.split()
    return any(a in ATTRIBUTIVE and b in ATTRIBUTIVE for a, b in zip(words, words[1:]))


def honorific_mismatch(en: str, ko: str) -> bool:
    """A 선생님/어머니/아버지/할머니 subject with a plain verb (있다 for 계신다, 먹는다 for 드신다), or a
    plain subject with an honorific verb."""
    topic = _topic(ko)
    if topic is None:
        return False
    verb = _verb(ko)
    honorific_verb = bool(re.search(r"(시|셨|실|신|계)", verb)) and not verb.startswith(("시", "신"))
    return (topic[1] in HONORIFIC_NOUNS) != honorific_verb


def wrong_verb_for_object(en: str, ko: str) -> bool:
    """A verb that does not go with its object (쿠키를 요리한다, 국을 요리했다, 의자를 청소할, 개를 씻었다)."""
    verb = _verb(ko)
    for _, noun, p in _phrases(ko):
        if p not in ("을", "를"):
            continue
        if verb.startswith("요리") and noun in _COOKED_ELSEWISE:
            return True
        if verb.startswith("만들") or verb.startswith("만든"):
            if noun in {"국", "밥"} | {"편지", "이야기"}:
                return True
        if verb.startswith("청소") and noun in _WIPED:
            return True
        if verb.startswith("씻") and not verb.startswith(("씻기", "씻긴", "씻겼", "씻길")):
            if noun in ANIMALS or noun in _NOT_WASHED:
                return True
        if verb.startswith(("씻기", "씻긴", "씻겼", "씻길")) and noun not in ANIMALS | CHILDREN:
            return True
    return False


def size_on_mass_food(en: str, ko: str) -> bool:
    """큰/작은 on a food that has no size of its own (큰 밥, 작은 국)."""
    return any(noun in MASS_FOODS and SIZE & set(mods) for mods, noun, _ in _phrases(ko))


def young_child(en: str, ko: str) -> bool:
    """젊은 for a child or a baby (어린 아이)."""
    return any(noun in CHILDREN and {"젊은", "젊고"} & set(mods) for mods, noun, _ in _phrases(ko))


def my_family(en: str, ko: str) -> bool:
    """내 with family, a teacher or a doctor (우리 어머니, not 내 어머니)."""
    return any(noun in FAMILY_AND_DOCTOR and "내" in mods for mods, noun, _ in _phrases(ko))


def own_as_pronoun(en: str, ko: str) -> bool:
    """그녀는 ... 그녀의 (or 그는 ... 그의) where the subject's own is meant (자기)."""
    topic = _topic(ko)
    if topic is None:
        return False
    later = [m for mods, _, _ in _phrases(ko)[1:] for m in mods]
    return (topic[1] in FEMALE_NOUNS and "그녀의" in later) or (topic[1] in MALE_NOUNS and "그의" in later)


def animal_acts_like_a_person(en: str, ko: str) -> bool:
    """An animal (or a baby) that buys, writes, cooks, cleans, helps, goes to the office..."""
    topic = _topic(ko)
    if topic is None or (topic[1] not in ANIMALS and topic[1] != "아기"):
        return False
    if ko.split()[-1] in ("있다", "있었다") or ko.endswith("있을 것이다"):
        is_existence = any(p in ("이", "가") and n == topic[1] for _, n, p in _phrases(ko))
        if is_existence:
            return False
    verbs, places = (ANIMAL_VERBS, ANIMAL_PLACES) if topic[1] in ANIMALS else (BABY_VERBS, BABY_PLACES)
    if not _verb(ko).startswith(verbs):
        return True
    return any(p in ("에", "에서") and n not in places for _, n, p in _phrases(ko))


def nonsense(en: str, ko: str) -> bool:
    """Sentences that make no sense in either language: one noun phrase in two roles ("I will meet the
    mother with the mother"), carrying a car or a door."""
    roles = [(tuple(m for m in mods if m in DETERMINERS), noun) for mods, noun, p in _phrases(ko)
             if p not in ("에", "에서")]
    if len(roles) != len(set(roles)):
        return True
    verb = _verb(ko)
    if verb.startswith(("나르", "나른", "날랐", "나를")):
        return any(noun in _UNCARRIABLE for _, noun, p in _phrases(ko) if p in ("을", "를"))
    return False


def carry_split_as_me(en: str, ko: str) -> bool:
    """The tokenizer reads 나를 (the future of 나르다, "will carry") as 나 + 를 ("me")."""
    words = ko.split()
    if not any(a == "나를" and b == "것이다" for a, b in zip(words, words[1:])):
        return False
    toks = T.tokenize(ko)
    return any(a == "나" and b == "를" and c == "것이다" for a, b, c in zip(toks, toks[1:], toks[2:]))


RULES: dict[str, Callable[[str, str], bool]] = {
    "adjectives stacked without -고": adjectives_stacked,
    "honorific subject, plain verb": honorific_mismatch,
    "wrong verb for the object": wrong_verb_for_object,
    "size adjective on a mass food": size_on_mass_food,
    "젊은 for a child": young_child,
    "내 with family or a doctor": my_family,
    "그녀는 ... 그녀의 for one's own": own_as_pronoun,
    "animal does what people do": animal_acts_like_a_person,
    "nonsense in both languages": nonsense,
    "나를 (will carry) split as 나 + 를": carry_split_as_me,
}


def measure(pairs) -> tuple[Counter, int]:
    """Per rule, how many pairs break it; and how many pairs break at least one rule."""
    counts: Counter = Counter()
    any_fault = 0
    for en, ko in pairs:
        broken = [name for name, rule in RULES.items() if rule(en, ko)]
        counts.update(broken)
        any_fault += bool(broken)
    return counts, any_fault


@pytest.fixture(scope="module")
def pairs():
    return T.generate_pairs(N_SENTENCES, seed=SEED)


# ---------------------------------------------------------------- the rules catch what they should
@pytest.mark.parametrize("rule,bad,good", [
    (adjectives_stacked, "나는 비싼 달콤한 바나나를 샀다", "나는 비싸고 달콤한 바나나를 샀다"),
    (honorific_mismatch, "선생님은 사무실에 있다", "선생님은 사무실에 계신다"),
    (honorific_mismatch, "어제 어머니는 빵을 먹었다", "어제 어머니는 빵을 드셨다"),
    (wrong_verb_for_object, "나는 쿠키를 요리한다", "나는 쿠키를 굽는다"),
    (wrong_verb_for_object, "그는 국을 요리했다", "그는 국을 끓였다"),
    (wrong_verb_for_object, "나는 의자를 청소할 것이다", "나는 의자를 닦을 것이다"),
    (size_on_mass_food, "나는 큰 밥을 먹었다", "나는 따뜻한 밥을 먹었다"),
    (young_child, "젊은 아이는 공원에 갔다", "어린 아이는 공원에 갔다"),
    (my_family, "내 어머니는 집에 계신다", "우리 어머니는 집에 계신다"),
    (own_as_pronoun, "그녀는 그녀의 개를 씻겼다", "그녀는 자기 개를 씻겼다"),
    (animal_acts_like_a_person, "고양이는 편지를 썼다", "고양이는 사과를 먹었다"),
    (animal_acts_like_a_person, "개는 사무실에 갔다", "개는 공원에 갔다"),
    (nonsense, "나는 어머니와 함께 어머니를 만날 것이다", "나는 어머니와 함께 친구를 만날 것이다"),
])
def test_rule_tells_bad_from_good(rule, bad, good):
    assert rule("", bad) and not rule("", good)


@pytest.mark.parametrize("name", list(RULES))
def test_generated_korean_keeps_the_rule(pairs, name):
    rule = RULES[name]
    broken = [(en, ko) for en, ko in pairs if rule(en, ko)]
    assert not broken, f"{len(broken)} of {len(pairs)} pairs break {name!r}, e.g. {broken[:3]}"


def test_handwritten_pairs_keep_every_rule():
    for en, ko in T.HANDWRITTEN[2:]:  # the first two are casual speech outside the grammar
        assert not [name for name, rule in RULES.items() if rule(en, ko)], (en, ko)


def test_fewer_than_two_percent_have_any_fault(pairs):
    _, any_fault = measure(pairs)
    assert any_fault < 0.02 * len(pairs)


if __name__ == "__main__":
    generated = T.generate_pairs(N_SENTENCES, seed=SEED)
    counts, any_fault = measure(generated)
    width = max(map(len, RULES))
    for name in RULES:
        print(f"{name:<{width}}  {counts[name]:5d}  {100 * counts[name] / len(generated):5.1f}%")
    print(f"{'any of them':<{width}}  {any_fault:5d}  {100 * any_fault / len(generated):5.1f}%")
    if len(sys.argv) > 1:  # show examples of one rule
        rule = RULES[sys.argv[1]]
        for en, ko in [p for p in generated if rule(*p)][:15]:
            print(" ", en, "|", ko)
