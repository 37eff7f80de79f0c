"""Unit tests of the English-Korean data (dlnlp.data.translation) and the seq2seq helpers (dlnlp.seq2seq)."""
from __future__ import annotations

import pytest
import torch

from dlnlp import seq2seq as S
from dlnlp.data import translation as T


# ---------------------------------------------------------------- the final-consonant rule
@pytest.mark.parametrize("word,has", [("책", True), ("사과", False), ("물", True), ("학교", False),
                                      ("선생님", True), ("고양이", False), ("빵", True), ("가", False)])
def test_final_consonant(word, has):
    assert T.final_consonant(word) is has


def test_final_consonant_rejects_non_hangul():
    with pytest.raises(ValueError):
        T.final_consonant("a")
    with pytest.raises(ValueError):
        T.final_consonant("")


@pytest.mark.parametrize("word,kind,expected", [
    ("책", "object", "을"), ("사과", "object", "를"), ("책", "을/를", "을"),
    ("선생님", "topic", "은"), ("나", "topic", "는"), ("나", "은/는", "는"),
    ("개", "subject", "가"), ("빵", "subject", "이"), ("빵", "이/가", "이"),
    ("친구", "with", "와"), ("선생님", "with", "과"),
])
def test_particle(word, kind, expected):
    assert T.particle(word, kind) == expected
    assert T.attach(word, kind) == word + expected


def test_particle_rejects_unknown_kind():
    with pytest.raises(ValueError):
        T.particle("책", "dative")


# ---------------------------------------------------------------- the generator
def test_handwritten_has_the_seed_example():
    assert ("I'm on the subway now", "난 이제 지하철 안 이야") in T.HANDWRITTEN
    assert all(isinstance(e, str) and isinstance(k, str) for e, k in T.HANDWRITTEN)


def test_generate_pairs_is_seeded_and_prefix_stable():
    a = T.generate_pairs(200, seed=3)
    assert a == T.generate_pairs(200, seed=3)
    assert a[:50] == T.generate_pairs(50, seed=3)
    assert a != T.generate_pairs(200, seed=4)


def test_generate_pairs_lengths_spread():
    pairs = T.generate_pairs(1400, seed=0)
    lengths = [len(e.split()) for e, _ in pairs]
    assert min(lengths) == 3 and max(lengths) == 16
    for n in range(3, 17):  # roughly uniform: 100 expected per length
        assert 50 <= lengths.count(n) <= 160, (n, lengths.count(n))
    short = T.generate_pairs(100, seed=0, min_words=5, max_words=7)
    assert all(5 <= len(e.split()) <= 7 for e, _ in short)
    with pytest.raises(ValueError):
        T.generate_pairs(5, min_words=2)


def test_generated_korean_is_sov_with_the_right_particles():
    pairs = T.generate_pairs(1000, seed=1)
    verb_endings = ("다",)
    for en, ko in pairs:
        words = ko.split()
        assert words[-1].endswith(verb_endings), (en, ko)  # the verb (or 있다/것이다) comes last
        toks = T.tokenize(ko)
        for stem, p in zip(toks[:-1], toks[1:]):
            if p in ("을", "를"):
                assert p == T.particle(stem, "object"), (en, ko)
            if p in ("은", "는"):
                assert p == T.particle(stem, "topic"), (en, ko)
            if p in ("와", "과"):
                assert p == T.particle(stem, "with"), (en, ko)
            if p in ("이", "가") and stem in T._STEMS:
                assert p == T.particle(stem, "subject"), (en, ko)


def test_known_translations():
    # sentences the grammar makes, translated by hand
    grammatical = T.HANDWRITTEN[2:]
    pairs = T.generate_pairs(4000, seed=0)
    en_vocab = {t for e, _ in pairs for t in T.tokenize(e)}
    ko_vocab = {t for _, k in pairs for t in T.tokenize(k)}
    for en, ko in grammatical:
        assert set(T.tokenize(en)) <= en_vocab, en
        assert set(T.tokenize(ko)) <= ko_vocab, ko


def test_one_to_one():
    pairs = T.generate_pairs(3000, seed=2)
    en2ko: dict[str, str] = {}
    ko2en: dict[str, str] = {}
    for en, ko in pairs:
        assert en2ko.setdefault(en, ko) == ko
        assert ko2en.setdefault(ko, en) == en


# ---------------------------------------------------------------- tokens
def test_tokenize_splits_particles_and_detokenize_restores():
    assert T.tokenize("나는 사과를 먹었다") == ["나", "는", "사과", "를", "먹었다"]
    assert T.tokenize("어제 고양이는 학교에서 책을 읽었다") == \
        ["어제", "고양이", "는", "학교", "에서", "책", "을", "읽었다"]
    assert T.tokenize("I'm on the subway now") == ["i", "'", "m", "on", "the", "subway", "now"]
    assert T.tokenize("아이가 거북이를 봤다") == ["아이", "가", "거북이", "를", "봤다"]
    assert T.tokenize("사과") == ["사과"]          # 과 ends the word but 사 is no stem
    for _, ko in T.generate_pairs(300, seed=5):
        toks = T.tokenize(ko)
        assert T.detokenize(toks) == ko
        assert T.tokenize(" ".join(toks)) == toks   # idempotent


# ---------------------------------------------------------------- splits
def test_load_translation_splits_are_disjoint_and_stable():
    d = T.load_translation(seed=0, n_train=3000, n_valid=200, n_test=400)
    assert [len(d[k]) for k in ("train", "valid", "test")] == [3000, 200, 400]
    tr = {e for e, _ in d["train"]}
    assert not tr & {e for e, _ in d["test"]} and not tr & {e for e, _ in d["valid"]}
    assert not {k for _, k in d["train"]} & {k for _, k in d["test"]}
    small = T.load_translation(seed=0, n_train=500, n_valid=200, n_test=400)
    assert small["test"] == d["test"] and small["valid"] == d["valid"]   # test does not depend on n_train
    assert T.load_translation(seed=1, n_train=10, n_valid=10, n_test=50)["test"] != d["test"][:50]
    rev = T.load_translation(seed=0, n_train=3000, n_valid=200, n_test=400, reverse=True)
    assert rev["test"] == T.reverse_pairs(d["test"])
    hw = T.load_translation(seed=0, n_train=3000, n_valid=200, n_test=400, include_handwritten=True)
    assert len(hw["train"]) > 3000 and hw["test"] == d["test"]


# ---------------------------------------------------------------- seq2seq helpers
@pytest.fixture(scope="module")
def data():
    d = T.load_translation(seed=0, n_train=2000, n_valid=100, n_test=300)
    src, tgt = S.build_vocabs(d["train"])
    return d, src, tgt


def test_encode_pairs(data):
    d, sv, tv = data
    pairs = [("I ate the apple", "나는 사과를 먹었다"), ("I went home", "나는 갔다")]
    src, mask, tgt = S.encode_pairs(pairs, sv, tv)
    assert src.shape == (2, 4) and mask.shape == (2, 4) and tgt.shape == (2, 7)
    assert mask.tolist() == [[True] * 4, [True] * 3 + [False]]
    assert src[1, 3].item() == sv.pad_id == 0
    assert tgt[0, 0].item() == tv.sos_id and tgt[0, 6].item() == tv.eos_id
    assert tgt[1, 4].item() == tv.eos_id and tgt[1, 5:].tolist() == [tv.pad_id] * 2
    assert tv.decode(tgt[0].tolist()) == ["나", "는", "사과", "를", "먹었다"]


def test_make_batches_cover_every_pair(data):
    d, sv, tv = data
    batches = S.make_batches(d["train"], sv, tv, batch_size=64, seed=1)
    assert sum(b[0].shape[0] for b in batches) == len(d["train"])
    assert all(b[0].shape[0] <= 64 for b in batches)
    again = S.make_batches(d["train"], sv, tv, batch_size=64, seed=1)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again))
    pad_fraction = sum((~b[1]).sum().item() for b in batches) / sum(b[1].numel() for b in batches)
    assert pad_fraction < 0.1  # sorted by length: little padding


def test_bleu_and_exact_match():
    refs = ["나는 사과를 먹었다", "어제 그는 학교에 갔다"]
    assert S.bleu(refs, refs) == pytest.approx(100.0)
    assert S.exact_match(refs, refs) == 1.0
    assert S.exact_match(["나 는 사과 를 먹었다", "그는 학교에 갔다"], refs) == 0.5  # tokens, not spacing
    assert S.bleu(["나 는 사과 를 먹었다"], ["나는 사과를 먹었다"]) == pytest.approx(100.0)
    wrong_particle = S.bleu(["나는 사과을 먹었다"], ["나는 사과를 먹었다"])
    assert 0 < wrong_particle < 100
    assert S.bleu([], []) == 0.0 and S.exact_match([], []) == 0.0
    with pytest.raises(ValueError):
        S.bleu(["a"], [])


def test_length_buckets_and_evaluate_by_length(data):
    d, _, _ = data
    test = d["test"]
    buckets = S.length_buckets(test, (3, 6, 9, 17))
    assert sum(map(len, buckets)) == len(test)
    assert all(3 <= S.source_length(p) < 6 for p in buckets[0])
    assert S.bucket_labels((3, 6, 9, 17)) == ["3-5", "6-8", "9-16"]
    ref = dict(test)
    perfect = S.evaluate_by_length(lambda xs: [ref[x] for x in xs], test, batch_size=37)
    assert perfect["overall_exact"] == 1.0 and all(b == pytest.approx(100) for b in perfect["bleu"])
    assert sum(perfect["n"]) == len(test) and perfect["labels"] == S.bucket_labels(S.DEFAULT_EDGES)
    # a translator that is right only on short sentences
    half = S.evaluate_by_length(lambda xs: [ref[x] if len(x.split()) < 9 else "나는" for x in xs], test)
    assert half["exact"][0] == 1.0 and half["exact"][-1] == 0.0
    assert half["hypotheses"][0] == (ref[test[0][0]] if len(test[0][0].split()) < 9 else "나는")
