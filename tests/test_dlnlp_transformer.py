"""Fast tests of dlnlp.reference.transformer (parity with PyTorch's modules) and
dlnlp.data.coreference (the "animal / street ... it" task)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from dlnlp.data import coreference as coref
from dlnlp.reference import transformer as T

F64 = dict(dtype=torch.float64)
ATOL = 1e-10  # float64 parity with PyTorch's modules


def _lengths_mask(lengths: list[int], n: int) -> torch.Tensor:
    return T.padding_mask(torch.tensor(lengths), n)


def test_attention_matches_sdpa_with_masks():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 5, 8, generator=g, **F64)
    k = torch.randn(2, 3, 5, 8, generator=g, **F64)
    v = torch.randn(2, 3, 5, 4, generator=g, **F64)
    for mask in (None, _lengths_mask([5, 2], 5), T.causal_mask(5), _lengths_mask([5, 2], 5) & T.causal_mask(5)):
        out, w = T.scaled_dot_product_attention(q, k, v, mask)
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=ATOL, rtol=0)
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5, **F64), atol=ATOL, rtol=0)
        if mask is not None:
            assert w.masked_select(~mask.expand_as(w)).abs().max() < 1e-12


def test_masks():
    assert torch.equal(T.causal_mask(3).int(), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.int32))
    pm = T.padding_mask(torch.tensor([3, 1]), 4)
    assert pm.shape == (2, 1, 1, 4)
    assert pm[:, 0, 0].tolist() == [[True, True, True, False], [True, False, False, False]]
    src = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert torch.equal(T.make_src_mask(src), (src != 0)[:, None, None, :])
    tm = T.make_tgt_mask(src)
    assert tm.shape == (2, 1, 3, 3)
    assert tm[0, 0].int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 0]]


def test_split_merge_roundtrip():
    x = torch.randn(2, 5, 12)
    s = T.split_heads(x, 3)
    assert s.shape == (2, 3, 5, 4)
    torch.testing.assert_close(s[:, 1], x[..., 4:8], atol=0, rtol=0)
    torch.testing.assert_close(T.merge_heads(s), x, atol=0, rtol=0)


@pytest.mark.parametrize("same_kv", [True, False])
def test_mha_matches_torch(same_kv):
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True).double()
    mine = T.copy_mha_from_torch(T.MultiHeadAttention(16, 4).double(), theirs)
    x = torch.randn(3, 5, 16, **F64)
    mem = x if same_kv else torch.randn(3, 7, 16, **F64)
    S = mem.size(1)
    keep = T.padding_mask(torch.tensor([S, 3, 1]), S)
    o1, w1 = theirs(x, mem, mem, key_padding_mask=~keep[:, 0, 0], average_attn_weights=False)
    o2, w2 = mine(x, mem, mem, keep)
    torch.testing.assert_close(o2, o1, atol=ATOL, rtol=0)
    torch.testing.assert_close(w2, w1, atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_layers_match_torch(norm_first):
    torch.manual_seed(1)
    D, h, ff = 16, 4, 32
    x, mem = torch.randn(3, 5, D, **F64), torch.randn(3, 6, D, **F64)
    enc_t = nn.TransformerEncoderLayer(D, h, ff, dropout=0.0, batch_first=True, norm_first=norm_first).double()
    enc = T.copy_encoder_layer_from_torch(T.EncoderLayer(D, h, ff, norm_first=norm_first).double(), enc_t)
    keep = T.padding_mask(torch.tensor([5, 2, 1]), 5)
    torch.testing.assert_close(enc(x, keep), enc_t(x, src_key_padding_mask=~keep[:, 0, 0]), atol=ATOL, rtol=0)
    dec_t = nn.TransformerDecoderLayer(D, h, ff, dropout=0.0, batch_first=True, norm_first=norm_first).double()
    dec = T.copy_decoder_layer_from_torch(T.DecoderLayer(D, h, ff, norm_first=norm_first).double(), dec_t)
    mkeep = T.padding_mask(torch.tensor([6, 4, 2]), 6)
    expected = dec_t(x, mem, tgt_mask=~T.causal_mask(5), memory_key_padding_mask=~mkeep[:, 0, 0])
    torch.testing.assert_close(dec(x, mem, T.causal_mask(5), mkeep), expected, atol=ATOL, rtol=0)


def test_positional_encoding():
    pe = T.sinusoidal_positional_encoding(50, 16, dtype=torch.float64)
    assert pe.shape == (50, 16)
    pos, i = 7, 3
    assert math.isclose(pe[pos, 2 * i].item(), math.sin(pos / 10000 ** (2 * i / 16)), abs_tol=1e-12)
    assert math.isclose(pe[pos, 2 * i + 1].item(), math.cos(pos / 10000 ** (2 * i / 16)), abs_tol=1e-12)
    assert T.sinusoidal_positional_encoding(4, 5).shape == (4, 5)           # odd width


def test_transformer_shapes_padding_and_causality():
    torch.manual_seed(0)
    model = T.Transformer(20, 22, d_model=16, num_heads=2, num_layers=2, d_ff=32, dropout=0.0).eval()
    src = torch.tensor([[4, 5, 6, 0], [7, 8, 0, 0]])
    tgt = torch.tensor([[2, 9, 10], [2, 11, 12]])
    logits = model(src, tgt)
    assert logits.shape == (2, 3, 22)
    # extra source padding changes nothing
    torch.testing.assert_close(model(torch.cat([src, torch.zeros(2, 3, dtype=torch.long)], 1), tgt), logits,
                               atol=1e-5, rtol=0)
    # a later target token does not change earlier logits (causal decoder)
    tgt2 = tgt.clone()
    tgt2[:, 2] = 13
    torch.testing.assert_close(model(src, tgt2)[:, :2], logits[:, :2], atol=1e-5, rtol=0)
    out = model.greedy_decode(src, sos_id=2, eos_id=3, max_len=5)
    assert out.shape[0] == 2 and out.shape[1] <= 5


def test_noam_and_label_smoothing():
    d, w = 64, 100
    assert math.isclose(T.noam_lr(w, d, w), d ** -0.5 * w ** -0.5)
    assert T.noam_lr(10, d, w) < T.noam_lr(w, d, w) > T.noam_lr(400, d, w)
    assert T.noam_lr(0, d, w) == T.noam_lr(1, d, w)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 6, 9, generator=g, **F64)
    target = torch.randint(0, 9, (4, 6), generator=g)
    target[0, 3:] = 0
    expected = F.cross_entropy(logits.reshape(-1, 9), target.reshape(-1), label_smoothing=0.1, ignore_index=0)
    torch.testing.assert_close(T.label_smoothed_cross_entropy(logits, target, 0.1, pad_id=0), expected,
                               atol=ATOL, rtol=0)


def test_coreference_data():
    data = coref.load_coreference(n_train=200, n_valid=50, n_test=100, seed=0)
    assert [len(data[s]) for s in ("train", "valid", "test")] == [200, 50, 100]
    texts = [e.text for s in data.values() for e in s]
    assert len(set(texts)) == len(texts)                                     # distinct across splits
    assert not set(coref.SEED_SENTENCES) & set(texts)
    assert coref.load_coreference(n_train=200, n_valid=50, n_test=100, seed=0) == data   # deterministic
    for e in data["train"]:
        assert e.tokens[e.it_pos] == "it" and e.tokens[-1] in coref.ANIMATE_ADJ + coref.PLACE_ADJ
        animate_ref = e.tokens[-1] in coref.ANIMATE_ADJ
        assert (e.referent in coref.ANIMATE) == animate_ref
        assert (e.tokens[e.other_pos] in coref.PLACES) == animate_ref
        assert coref.parse_sentence(e.text) == e
    tired, wide = (coref.parse_sentence(s) for s in coref.SEED_SENTENCES)
    assert tired.referent == "animal" and wide.referent == "street"
    assert coref.parse_sentence("the animal the street because it was too tired") is None
    vocab = coref.coreference_vocab()
    enc = coref.encode_coreference(data["test"], vocab)
    assert enc["ids"].shape[0] == 100 and enc["mask"].sum(1).tolist() == [len(e.tokens) for e in data["test"]]
    assert vocab.decode([enc["target"][0].item()]) == [data["test"][0].referent]


def test_dropout_placement():
    layer = T.EncoderLayer(16, 2, 32, dropout=0.1)                      # PyTorch's placement: one rate
    assert layer.self_attn.dropout.p == 0.1 and layer.ff.dropout.p == 0.1 and layer.dropout1.p == 0.1
    paper = T.Transformer(10, 10, d_model=16, num_heads=2, dropout=0.1, inner_dropout=0.0)
    for enc, dec in zip(paper.encoder, paper.decoder):
        assert enc.self_attn.dropout.p == 0.0 and enc.ff.dropout.p == 0.0 and enc.dropout1.p == 0.1
        assert dec.cross_attn.dropout.p == 0.0 and dec.dropout3.p == 0.1
    assert paper.pos.dropout.p == 0.1


def test_transformer_built_from_given_classes():
    # a notebook passes its own classes; the model is built from them and computes what the reference does
    built = []

    class Enc(T.EncoderLayer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append("enc")

    class Dec(T.DecoderLayer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append("dec")

    class Pos(T.PositionalEncoding):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append("pos")

    kw = {"d_model": 16, "num_heads": 2, "num_layers": 3, "d_ff": 32, "dropout": 0.0, "norm_first": True}
    torch.manual_seed(0)
    mine = T.Transformer(11, 13, positional=Pos, encoder_layer=Enc, decoder_layer=Dec, **kw).eval()
    assert sorted(built) == ["dec"] * 3 + ["enc"] * 3 + ["pos"]
    assert all(type(layer) is Enc for layer in mine.encoder) and all(type(layer) is Dec for layer in mine.decoder)
    torch.manual_seed(0)
    reference = T.Transformer(11, 13, **kw).eval()
    src, tgt = torch.tensor([[3, 4, 5, 0]]), torch.tensor([[1, 6, 7]])
    torch.testing.assert_close(mine(src, tgt), reference(src, tgt), rtol=0, atol=0)
