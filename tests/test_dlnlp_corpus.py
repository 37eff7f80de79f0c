"""Unit tests of dlnlp.data.corpus (the offline English corpus and character helpers) and of the
character-LM reference in dlnlp.reference.rnn that is built on it."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dlnlp.data.corpus import CharVocab, lm_windows, load_corpus, normalize_text, train_valid_split
from dlnlp.reference.rnn import CharRNN, sample_text, stream_nll, tanh_rnn_states


@pytest.fixture(scope="module")
def corpus() -> str:
    return load_corpus()


def test_load_corpus_is_real_english_ascii(corpus):
    assert isinstance(corpus, str)
    assert len(corpus) > 300_000
    assert set(corpus) <= {"\n"} | {chr(i) for i in range(32, 127)}
    assert "\n\n\n" not in corpus and " \n" not in corpus
    assert corpus.endswith("\n") and not corpus.endswith("\n\n")
    assert 'The "assert" statement' in corpus
    words = corpus.split()
    assert sum(w in {"the", "a", "is", "of", "to"} for w in words) > 0.05 * len(words)


def test_load_corpus_is_deterministic(corpus):
    assert load_corpus("python-docs") == corpus


def test_load_corpus_unknown_name():
    with pytest.raises(ValueError, match="python-docs"):
        load_corpus("shakespeare")


def test_normalize_text():
    raw = "\u201cQuote\u201d \u2014 it\u2019s\u2026\tok  \n\n\n\nnext\u00e9\r\nend"
    assert normalize_text(raw) == '"Quote" -- it\'s...    ok\n\nnext\nend\n'
    assert normalize_text("") == ""
    assert normalize_text("\n\n\n") == ""
    assert normalize_text(normalize_text(raw)) == normalize_text(raw)


def test_train_valid_split():
    text = "abcdefghij" * 10
    train, valid = train_valid_split(text, 0.1)
    assert train + valid == text and len(valid) == 10
    assert train_valid_split(text, 0.0) == (text, "")
    assert train_valid_split(text, 0.25) == train_valid_split(text, 0.25)
    with pytest.raises(ValueError):
        train_valid_split(text, 1.0)


def test_char_vocab_round_trip(corpus):
    vocab = CharVocab(corpus)
    assert len(vocab) == len(set(corpus))
    assert vocab.itos == sorted(vocab.itos)
    sample = corpus[1000:1500]
    ids = vocab.encode(sample)
    assert ids.dtype == torch.long and ids.shape == (500,)
    assert vocab.decode(ids) == sample and vocab.decode(ids.tolist()) == sample
    assert "a" in vocab and "\u00e9" not in vocab
    with pytest.raises(KeyError):
        vocab.encode("\u00e9")
    assert CharVocab(["ba", "c"]).itos == ["a", "b", "c"]


def test_lm_windows_shift_by_one():
    ids = torch.arange(100)
    g = torch.Generator().manual_seed(0)
    x, y = lm_windows(ids, seq_len=7, batch_size=50, generator=g)
    assert x.shape == y.shape == (50, 7)
    assert torch.equal(y, x + 1)                                 # the next id, since ids[i] == i
    assert torch.equal(x[:, 1:], x[:, :-1] + 1)                  # contiguous windows
    assert x.min() >= 0 and y.max() <= 99
    x2, _ = lm_windows(ids, 7, 50, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    x3, y3 = lm_windows(torch.arange(8), 7, 3)                   # exactly one window fits
    assert torch.equal(x3, torch.arange(7).expand(3, 7)) and torch.equal(y3, x3 + 1)
    with pytest.raises(ValueError):
        lm_windows(torch.arange(7), 7, 1)


def test_tanh_rnn_states_matches_nn_rnn():
    torch.manual_seed(0)
    rnn = nn.RNN(3, 5, batch_first=True).double()
    x, h0 = torch.randn(2, 6, 3, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
    out, _ = rnn(x, h0[None])
    hs = tanh_rnn_states(x, h0, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0)
    assert hs.shape == (2, 6, 5)
    torch.testing.assert_close(hs, out, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_char_rnn_shapes_and_streaming(cell):
    torch.manual_seed(0)
    model = CharRNN(11, embed_dim=4, hidden_size=6, cell=cell)
    x = torch.randint(0, 11, (3, 8))
    logits, state = model(x)
    assert logits.shape == (3, 8, 11)
    # Reading in two chunks with the state carried over equals reading at once.
    a, s = model(x[:, :5])
    b, _ = model(x[:, 5:], s)
    torch.testing.assert_close(torch.cat([a, b], dim=1), logits, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError):
        CharRNN(11, cell="transformer")


def test_stream_nll_of_a_uniform_model_is_log_v():
    V = 13

    def uniform(x, state=None):
        return torch.zeros(*x.shape, V), state

    ids = torch.randint(0, V, (1001,))
    assert math.isclose(stream_nll(uniform, ids, num_streams=8, chunk=17), math.log(V), rel_tol=1e-6)


def test_stream_nll_chunks_agree():
    torch.manual_seed(0)
    model = CharRNN(7, embed_dim=3, hidden_size=5)
    ids = torch.randint(0, 7, (500,))
    whole = stream_nll(model, ids, num_streams=4)
    chunked = stream_nll(model, ids, num_streams=4, chunk=9)
    assert math.isclose(whole, chunked, rel_tol=1e-5)
    assert model.training                                          # restored after evaluation


def test_sample_text_is_repeatable():
    vocab = CharVocab("abc \n")
    torch.manual_seed(0)
    model = CharRNN(len(vocab), embed_dim=3, hidden_size=4)
    a = sample_text(model, vocab.encode, vocab.decode, "ab", 30, 0.8, torch.Generator().manual_seed(1))
    b = sample_text(model, vocab.encode, vocab.decode, "ab", 30, 0.8, torch.Generator().manual_seed(1))
    assert a == b and a.startswith("ab") and len(a) == 32 and set(a) <= set("abc \n")
    with pytest.raises(ValueError):
        sample_text(model, vocab.encode, vocab.decode, "ab", 3, 0.0)
