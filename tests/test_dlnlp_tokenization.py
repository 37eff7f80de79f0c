"""Tests of dlnlp.reference.bpe, dlnlp.reference.wordpiece, dlnlp.data.korean and dlnlp.data.pretrained."""
from __future__ import annotations

import json
import random
import warnings
from collections import Counter

import pytest

from dlnlp.data.korean import bills, constitution, korean_sentences, load_korean
from dlnlp.data.pretrained import minilm_folder, minilm_vocab
from dlnlp.reference import bpe
from dlnlp.reference.wordpiece import WordPiece, basic_tokenize, wordpiece

KOREAN = "제1조 ① 대한민국은 민주공화국이다. 모든 국민은 인간으로서의 존엄과 가치를 가지며, 행복을 추구할 권리를 가진다."
ENGLISH = "To be, or not to be: that is the question. Whether 'tis nobler in the mind to suffer 1,600 slings!"


def naive_merges(text, num_merges, key=lambda pair: pair, special_tokens=()):
    """BPE by the definition: recount every pair over every chunk after each merge; the most frequent
    pair wins, ties to the smallest key(pair)."""
    words = Counter()
    for piece, special in bpe.split_special(text, special_tokens):
        if not special:
            words.update(tuple(w.encode("utf-8")) for w in bpe.pre_split(piece))
    merges = []
    for k in range(num_merges):
        counts = bpe.pair_counts(words)
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], key(p)))
        merges.append(best)
        new = Counter()
        for w, f in words.items():
            new[tuple(bpe.merge_pair(list(w), best, 256 + k))] += f
        words = new
    return merges


# ----------------------------------------------------------------------------- BPE

def test_pre_split_gpt2_pattern():
    text = "Hello  world's 1234 dogs!!\n\n 안녕하세요, 세계 😀"
    chunks = bpe.pre_split(text)
    assert "".join(chunks) == text
    assert chunks[:5] == ["Hello", " ", " world", "'s", " 1234"]
    assert " 안녕하세요" in chunks and "," in chunks and " 😀" in chunks


def test_merge_pair_left_to_right_without_overlap():
    assert bpe.merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]
    assert bpe.merge_pair([1, 2, 3, 1, 2], (1, 2), 7) == [7, 3, 7]
    assert bpe.merge_pair([5], (5, 5), 6) == [5]
    assert bpe.pair_counts({(1, 2, 1, 2): 3, (2, 1): 1}) == {(1, 2): 6, (2, 1): 4}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_training_equals_the_definition(seed):
    rng = random.Random(seed)
    words = ["lower", "low", "newest", "widest", " 는", "은", "이다", "a", "aa", "aaa", "ab", "ba"]
    text = " ".join(rng.choice(words) for _ in range(400))
    assert bpe.train_merges(text, 60) == naive_merges(text, 60)


def test_tie_rule_smallest_pair():
    # "ab" and "cd" both occur twice (the commas are chunks of their own): (97, 98) < (99, 100) wins.
    assert bpe.train_merges("cd,ab,cd,ab", 1) == [(97, 98)]
    assert bpe.train_merges("ab,cd,ab,cd", 1) == [(97, 98)]
    assert bpe.train_merges("cd ab cd ab", 1) == [(32, 97)]          # " a" ties with "ab", "cd" and wins
    # "aaa": (97, 97) counted twice, merged left to right -> [256, 97], then (256, 97).
    assert bpe.train_merges("aaa", 5) == [(97, 97), (256, 97)]


def test_round_trip_any_unicode_and_the_decode_contract():
    tok = bpe.train_bpe(load_korean()[:20_000] + ENGLISH * 20, 256 + 300)
    rng = random.Random(0)
    samples = [KOREAN, ENGLISH, "😀👍🏽 e\u0301 \x00\t\n  ", "", " ", "漢字 ﬁ"]
    samples += ["".join(chr(rng.choice([rng.randrange(32, 0x7F), rng.randrange(0xAC00, 0xD7A4),
                                        rng.randrange(0x1F300, 0x1FAFF), rng.randrange(0x80, 0x800)]))
                        for _ in range(rng.randrange(1, 40))) for _ in range(50)]
    for s in samples:
        ids = tok.encode(s)
        assert all(0 <= i < len(tok) for i in ids)
        assert tok.decode(ids) == s
    with pytest.raises(UnicodeEncodeError):
        tok.encode("\ud800")
    assert tok.decode([0xFF]) == "\ufffd"
    han = list("한".encode("utf-8"))            # three bytes; the first two alone are an invalid sequence
    assert tok.decode(han[:2]) == "\ufffd"
    assert tok.decode(han[:2] + han) == "\ufffd한"
    # tokens that cut a character in the middle still decode together
    ids = [tok.encode(ch) for ch in "대한민국"]
    assert tok.decode([i for x in ids for i in x]) == "대한민국"


def test_encode_applies_merges_in_rank_order():
    # merges: (b, c) first, then (a, b). "abc": rank order gives a + bc, not ab + c.
    tok = bpe.BPETokenizer(merges=[(98, 99), (97, 98)])
    assert tok.encode("abc") == [97, 256]
    tok2 = bpe.BPETokenizer(merges=[(97, 98), (98, 99)])
    assert tok2.encode("abc") == [256, 99]


def test_special_tokens_never_merged_and_allowed_special():
    eot = "<|endoftext|>"
    text = (f"hello world{eot}" * 50) + "hello"
    tok = bpe.train_bpe(text, 256 + 30 + 1, special_tokens=(eot,))
    vocab = tok.vocab
    assert all(b"<|" not in vocab[256 + k] and b"|>" not in vocab[256 + k] for k in range(len(tok.merges)))
    assert tok.special_ids == {eot: 256 + len(tok.merges)}
    ids = tok.encode(f"hello{eot}world")
    assert ids.count(tok.special_ids[eot]) == 1
    assert tok.decode(ids) == f"hello{eot}world"
    plain = tok.encode(f"hello{eot}", allowed_special="none")
    assert tok.special_ids[eot] not in plain and tok.decode(plain) == f"hello{eot}"


def test_save_load(tmp_path):
    tok = bpe.train_bpe(KOREAN * 5, 256 + 40, special_tokens=("<|endoftext|>",))
    tok.save(tmp_path / "bpe.json")
    back = bpe.BPETokenizer.load(tmp_path / "bpe.json")
    assert back.merges == tok.merges and back.special_tokens == tok.special_tokens
    assert back.encode(KOREAN) == tok.encode(KOREAN)
    assert json.loads((tmp_path / "bpe.json").read_text())["kind"] == "byte-level-bpe"


def _library_merges(text, num_merges):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=256 + num_merges, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.train_from_iterator([text], trainer)
    u2b = {c: b for b, c in bpe.bytes_to_unicode().items()}
    model = json.loads(t.to_str())["model"]
    merges = [m if isinstance(m, list) else m.split(" ") for m in model["merges"]]
    return [(bytes(u2b[c] for c in a), bytes(u2b[c] for c in b)) for a, b in merges], model["vocab"], u2b


def test_parity_with_tokenizers_trainer_under_its_tie_order():
    # tokenizers breaks ties by the smallest pair of *its* ids: the 256 byte characters sorted by code
    # point, then merges in order. Under that order the definition gives the library's merges exactly.
    text = load_korean()[:15_000] + ENGLISH * 30
    theirs, vocab, u2b = _library_merges(text, 120)
    byte_id = {u2b[c]: i for c, i in vocab.items() if len(c) == 1}
    def their_id(i, merges):
        return byte_id[i] if i < 256 else 256 + (i - 256)
    mine = naive_merges(text, 120, key=lambda p: (their_id(p[0], None), their_id(p[1], None)))
    tok = bpe.BPETokenizer(mine)
    assert [(tok.vocab[a], tok.vocab[b]) for a, b in mine] == theirs
    # with our own tie rule the learned vocabularies are nearly the same set
    ours = bpe.BPETokenizer(bpe.train_merges(text, 120))
    assert len({(ours.vocab[a], ours.vocab[b]) for a, b in ours.merges} & set(theirs)) >= 110


def test_encoding_parity_with_tokenizers_on_the_same_merges():
    from tokenizers import Tokenizer, models, pre_tokenizers
    text = load_korean()[:30_000]
    tok = bpe.train_bpe(text, 256 + 200)
    b2u = bpe.bytes_to_unicode()
    vocab = {"".join(b2u[b] for b in v): i for i, v in tok.vocab.items()}
    merges = [("".join(b2u[b] for b in tok.vocab[a]), "".join(b2u[b] for b in tok.vocab[b])) for a, b in tok.merges]
    lib = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    lib.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    for s in korean_sentences(load_korean())[:200] + [ENGLISH, "😀 한국어"]:
        assert tok.encode(s) == lib.encode(s).ids


# ----------------------------------------------------------------------------- WordPiece

def test_minilm_folder_and_vocab():
    folder = minilm_folder()
    assert (folder / "vocab.txt").is_file()
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    assert cfg["do_lower_case"] is True and cfg["strip_accents"] is None
    wp = WordPiece.from_vocab(minilm_vocab())
    assert len(wp.vocab) == 30522 and wp.vocab["[CLS]"] == 101 and wp.vocab["[SEP]"] == 102


def test_wordpiece_rules():
    vocab = {"[UNK]": 0, "un": 1, "##aff": 2, "##able": 3, "a": 4, "##a": 5, "unaff": 6, "##ab": 7}
    assert wordpiece("unaffable", vocab) == ["unaff", "##able"]          # longest match first
    assert wordpiece("unx", vocab) == ["[UNK]"]                          # no cover: the whole word
    assert wordpiece("a" * 5, vocab, max_input_chars_per_word=4) == ["[UNK]"]
    assert wordpiece("aaaa", vocab, max_input_chars_per_word=4) == ["a", "##a", "##a", "##a"]
    assert basic_tokenize("Héllo,WORLD!  naïve\t漢字") == ["hello", ",", "world", "!", "naive", "漢", "字"]
    assert basic_tokenize("Héllo", do_lower_case=False) == ["Héllo"]
    assert basic_tokenize("Héllo", do_lower_case=True, strip_accents=False) == ["héllo"]


@pytest.fixture(scope="module")
def minilm():
    return WordPiece.from_vocab(minilm_vocab())


def test_wordpiece_parity_with_transformers(minilm):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from transformers import BertTokenizer
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy
        fast = BertTokenizer.from_pretrained(str(minilm_folder()))
        legacy = BertTokenizerLegacy(str(minilm_vocab()), do_lower_case=True)
    texts = korean_sentences(load_korean())[::10] + [ENGLISH, KOREAN, "Héllo wörld, naïve café!", "x" * 101,
                                                      "a\x00b\ufffdc\u200bd\te", "漢字とかなカナ", "😀 don't $5"]
    for s in texts:
        mine = minilm.tokenize(s)
        assert mine == fast.tokenize(s) == legacy.tokenize(s), s
        assert minilm.encode(s) == fast.encode(s)
    assert minilm.decode(minilm.encode("Hello, world!")) == "hello , world !"


# ----------------------------------------------------------------------------- Korean text

def test_korean_text_loaders():
    c = constitution()
    assert c.title == "대한민국헌법" and len(c.text) == 18884 and "\r" not in c.text
    assert len(bills()) == 10
    text = load_korean()
    assert len(text) == 65219 and len(text.encode("utf-8")) == 139473
    sents = korean_sentences(text)
    assert "제1조 ① 대한민국은 민주공화국이다." in sents
    assert all(len(s) >= 10 for s in sents)
