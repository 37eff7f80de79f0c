"""Fast unit tests of dlnlp.reference.bert, dlnlp.reference.gpt and dlnlp.pretrain."""
from __future__ import annotations

import math

import pytest
import torch

from dlnlp.reference import bert as rb
from dlnlp.reference import gpt as rg

TOL = dict(atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------------- BERT

def _bert_cfg(**kw):
    d = dict(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    d.update(kw)
    return rb.BertConfig(**d)


def test_make_pair():
    ids, seg = rb.make_pair([7, 8], [9], 2, 3)
    assert ids.tolist() == [2, 7, 8, 3, 9, 3] and seg.tolist() == [0, 0, 0, 0, 1, 1]
    ids, seg = rb.make_pair([], None, 2, 3)
    assert ids.tolist() == [2, 3] and seg.tolist() == [0, 0]


@pytest.mark.parametrize("kind", ["base", "mlm", "cls"])
def test_bert_matches_transformers(kind):
    cfg = _bert_cfg()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 40, (3, 9), generator=g)
    seg = torch.randint(0, 2, (3, 9), generator=g)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[1, 5:] = False
    if kind == "base":
        hf = rb.hf_bert(cfg, "base")
        ours = rb.load_hf_bert(rb.MiniBert(cfg).eval(), hf)
        a = ours(ids, seg, mask)[mask]
        b = hf(input_ids=ids, token_type_ids=seg, attention_mask=mask.long()).last_hidden_state[mask]
    elif kind == "mlm":
        hf = rb.hf_bert(cfg, "mlm")
        ours = rb.load_hf_bert(rb.BertForPretraining(cfg).eval(), hf)
        a = ours(ids, seg, mask)[mask]
        b = hf(input_ids=ids, token_type_ids=seg, attention_mask=mask.long()).logits[mask]
    else:
        hf = rb.hf_bert(cfg, "cls", num_labels=3)
        ours = rb.load_hf_bert(rb.BertClassifier(rb.MiniBert(cfg), 3).eval(), hf)
        a = ours(ids, seg, mask)
        b = hf(input_ids=ids, token_type_ids=seg, attention_mask=mask.long()).logits
    torch.testing.assert_close(a, b, **TOL)


def test_mask_tokens_follows_80_10_10():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 3000, (100, 200), generator=g)
    ids[:, 0] = 2
    inputs, labels = rb.mask_tokens(ids, 4, 3000, 5, 0.15, g)
    sel = labels != rb.IGNORE_INDEX
    assert not sel[:, 0].any()
    assert abs(sel[:, 1:].float().mean().item() - 0.15) < 0.01
    assert abs((inputs[sel] == 4).float().mean().item() - 0.8) < 0.03
    assert abs((inputs[sel] == ids[sel]).float().mean().item() - 0.1) < 0.02
    assert torch.equal(inputs[~sel], ids[~sel]) and torch.equal(labels[sel], ids[sel])


def test_nsp_pairs_are_two_segments_with_labels():
    # 40 single messages [CLS] w_1..w_n [SEP] of 3 to 12 words (ids 5..49), padded with 0
    cls_id, sep_id = 2, 3
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(3, 13, (40,), generator=g)
    ids = torch.zeros(40, 14, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        ids[i, :n + 2] = torch.tensor([cls_id] + torch.randint(5, 50, (n,), generator=g).tolist() + [sep_id])
    mask = ids != 0
    x, seg, m, is_next = rb.nsp_pairs(ids, mask, 16, cls_id, sep_id, torch.Generator().manual_seed(0))
    assert x.shape == seg.shape == m.shape and is_next.shape == (16,)
    assert (x[:, 0] == cls_id).all() and ((x == sep_id).sum(1) == 2).all()
    assert torch.equal(m, x != 0) and set(is_next.tolist()) <= {0, 1}
    for b in range(16):
        n = int(m[b].sum())
        first_sep = int((x[b] == sep_id).nonzero()[0])
        assert seg[b, :first_sep + 1].eq(0).all() and seg[b, first_sep + 1:n].eq(1).all()


def test_mlm_loss_ignores_unlabelled_positions():
    logits = torch.randn(2, 3, 7)
    labels = torch.full((2, 3), rb.IGNORE_INDEX)
    labels[1, 2] = 5
    expected = -torch.log_softmax(logits[1, 2], 0)[5]
    torch.testing.assert_close(rb.mlm_loss(logits, labels), expected)


def test_load_bert_weights_matches_load_hf_bert_and_checks_names_and_shapes():
    cfg = _bert_cfg(num_hidden_layers=3)
    hf = rb.hf_bert(cfg, "base", seed=3)
    a = rb.load_hf_bert(rb.MiniBert(cfg).eval(), hf)
    b = rb.load_bert_weights(rb.MiniBert(cfg).eval(), hf.state_dict())
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), n
    sd = {k: v for k, v in hf.state_dict().items() if k != "encoder.layer.2.output.dense.bias"}
    with pytest.raises(KeyError):
        rb.load_bert_weights(rb.MiniBert(cfg), sd)
    sd = dict(hf.state_dict(), **{"embeddings.position_embeddings.weight": torch.zeros(3, 32)})
    with pytest.raises(ValueError):
        rb.load_bert_weights(rb.MiniBert(cfg), sd)


def test_minilm_weights_are_pinned_and_match_transformers():
    import transformers

    from dlnlp.data import pretrained
    from dlnlp.reference.wordpiece import WordPiece

    sd = pretrained.load_minilm_state_dict()
    assert len(sd) == 103 and sum(v.numel() for v in sd.values()) == 22_713_216
    cfg = pretrained.minilm_config()
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.vocab_size) == (6, 384, 12, 30522)
    tok = WordPiece.from_vocab(pretrained.minilm_vocab())
    ids = torch.zeros(2, 12, dtype=torch.long)
    for i, text in enumerate(["Now is the winter of our discontent", "Out, damned spot!"]):
        x = tok.encode(text)
        ids[i, :len(x)] = torch.tensor(x)
    mask = ids != 0
    ours = rb.load_bert_weights(rb.MiniBert(cfg).eval(), sd)
    hf = transformers.BertModel.from_pretrained(pretrained.minilm_folder(), attn_implementation="eager").eval()
    with torch.no_grad():
        diff = (ours(ids, None, mask) - hf(input_ids=ids, attention_mask=mask.long()).last_hidden_state)[mask]
    assert diff.abs().max().item() < 1e-5


def test_minilm_hash_is_checked(monkeypatch):
    from dlnlp.data import pretrained

    monkeypatch.setattr(pretrained, "MINILM_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        pretrained.load_minilm_state_dict()


def test_genre_passages_hold_out_whole_plays_and_are_seeded():
    from dlnlp.data.play_genres import TEST_PLAYS, genre_passages

    a, b = genre_passages(), genre_passages()
    assert a == b
    assert {p.play for p in a["test"]} == set(TEST_PLAYS)
    assert not {p.play for p in a["train"]} & set(TEST_PLAYS)
    assert len(a["train"]) == 1260 and len(a["test"]) == 240
    assert sum(p.label for p in a["test"]) == 120
    for p in a["train"] + a["test"]:
        assert 20 <= len(p.text.split()) <= 40 and p.label in (0, 1)
    assert genre_passages(seed=1) != a


# ----------------------------------------------------------------------------- GPT

def _gpt_cfg(**kw):
    d = dict(vocab_size=50, n_positions=64, n_embd=32, n_layer=2, n_head=4)
    d.update(kw)
    return rg.GPTConfig(**d)


def test_next_token_pairs_are_shifted_by_one():
    ids = torch.arange(100)
    x, y = rg.next_token_pairs(ids, torch.tensor([0, 10]), 5)
    assert x.tolist() == [[0, 1, 2, 3, 4], [10, 11, 12, 13, 14]]
    assert torch.equal(y, x + 1)


def test_ngram_baselines():
    tr = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    va = torch.tensor([0, 1, 0, 1])
    # unigram with alpha=0: p = 1/2 for both tokens
    assert rg.unigram_nll(tr, va, 2, alpha=0.0) == pytest.approx(math.log(2))
    # bigram with alpha=0: deterministic alternation
    assert rg.bigram_nll(tr, va, 2, alpha=0.0) == pytest.approx(0.0, abs=1e-12)
    # alpha=1, 3 symbols: p(1|0) = (4+1)/(4+3), p(0|1) = (3+1)/(3+3)
    assert rg.bigram_nll(tr, va, 3, alpha=1.0) == pytest.approx(-(2 * math.log(5 / 7) + math.log(4 / 6)) / 3)


def test_gpt_matches_transformers_and_cache_is_consistent():
    cfg = _gpt_cfg()
    hf = rg.hf_gpt2(cfg)
    model = rg.load_hf_gpt2(rg.GPT(cfg).eval(), hf)
    idx = torch.randint(0, 50, (3, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, loss, _ = model(idx[:, :-1], idx[:, 1:])
        out = hf(input_ids=idx, labels=idx)
        torch.testing.assert_close(logits, out.logits[:, :-1], **TOL)
        torch.testing.assert_close(loss, out.loss, **TOL)
        a, _, past = model(idx[:, :12])
        b, _, past = model(idx[:, 12:13], past_kv=past)
        c, _, _ = model(idx[:, 13:], past_kv=past)
        full = model(idx)[0]
        torch.testing.assert_close(torch.cat([a, b, c], 1), full, **TOL)
        back = rg.to_hf_gpt2(model)
        torch.testing.assert_close(back(input_ids=idx).logits, full, **TOL)


def test_generate_with_and_without_cache_agree():
    cfg = _gpt_cfg()
    torch.manual_seed(0)
    model = rg.init_gpt_weights(rg.GPT(cfg), std=0.2).eval()
    prompt = torch.randint(0, 50, (2, 4))
    a = rg.generate(model, prompt, 30, temperature=0, use_cache=True)
    b = rg.generate(model, prompt, 30, temperature=0, use_cache=False)
    assert a.shape == (2, 34) and torch.equal(a, b)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    s1 = rg.generate(model, prompt, 20, temperature=1.0, top_p=0.9, generator=g1)
    s2 = rg.generate(model, prompt, 20, temperature=1.0, top_p=0.9, generator=g2, use_cache=False)
    assert torch.equal(s1, s2)


def test_filter_logits_top_k_and_top_p():
    lg = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]])
    assert torch.isfinite(rg.filter_logits(lg, top_k=2)).sum().item() == 2
    # probabilities 0.563, 0.207, 0.126, ...: top_p=0.5 keeps one, 0.8 keeps three
    assert torch.isfinite(rg.filter_logits(lg, top_p=0.5)).sum().item() == 1
    assert torch.isfinite(rg.filter_logits(lg, top_p=0.8)).sum().item() == 3
    assert torch.isfinite(rg.filter_logits(lg, top_p=1.0)).sum().item() == 5
    assert rg.sample_next(lg, temperature=0).item() == 0


def test_distinct_n():
    assert rg.distinct_n(["a a a a"], 2) == pytest.approx(1 / 3)
    assert rg.distinct_n(["a b c d"], 2) == 1.0


def test_gpt_checkpoint_if_present_loads():
    from dlnlp.pretrain import ROOT
    path = ROOT / "solutions" / "11_gpt" / "gpt_shakespeare.pt"
    if not path.exists():
        pytest.skip("no checkpoint")
    ckpt = torch.load(path, weights_only=True)
    model = rg.GPT(rg.GPTConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    assert path.stat().st_size < 5e6


def test_check_follows_device_catches_tensors_made_on_the_default_device():
    from dlnlp.checks import check_follows_device

    cfg = _bert_cfg()
    emb, enc = rb.BertEmbeddings(cfg).eval(), rb.MiniBert(cfg).eval()
    ids = torch.randint(0, 40, (2, 5))
    check_follows_device(lambda: emb(ids), "embeddings", module=emb)
    check_follows_device(lambda: enc(ids), "encoder", module=enc)
    with pytest.raises(AssertionError, match="arange"):
        check_follows_device(lambda: emb.position_embeddings(torch.arange(5)) + emb.word_embeddings(ids), "positions")
    with pytest.raises(AssertionError):
        check_follows_device(lambda: enc(ids, None, torch.ones(2, 5, dtype=torch.bool)), "mask on the CPU")
