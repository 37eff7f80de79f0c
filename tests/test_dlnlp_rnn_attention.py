"""Unit tests of dlnlp.reference.rnn_attention (fast: tiny models, no training beyond a few steps)."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from dlnlp.reference.rnn_attention import (
    AdditiveScore,
    LuongScore,
    Translator,
    beam_search,
    build_model,
    greedy_decode,
    masked_attention,
    seq2seq_loss,
    train_seq2seq,
)


def test_masked_attention_masks_before_softmax():
    g = torch.Generator().manual_seed(0)
    scores, values = torch.randn(2, 3, 5, generator=g), torch.randn(2, 5, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    ctx, w = masked_attention(scores, values, mask)
    assert ctx.shape == (2, 3, 4) and w.shape == (2, 3, 5)
    assert torch.all(w[0, :, 3:] == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3))
    # the masked row equals a softmax over the real keys only
    torch.testing.assert_close(w[0, :, :3], torch.softmax(scores[0, :, :3], -1))
    torch.testing.assert_close(ctx[0], w[0, :, :3] @ values[0, :3])


def test_masked_attention_matches_sdpa_with_unit_scale():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(3, 4, 8, generator=g), torch.randn(3, 6, 8, generator=g)
    v = torch.randn(3, 6, 5, generator=g)
    mask = torch.arange(6)[None] < torch.tensor([6, 2, 4])[:, None]
    ctx, _ = masked_attention(q @ k.transpose(1, 2), v, mask)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, :], scale=1.0)
    torch.testing.assert_close(ctx, ref, atol=1e-5, rtol=1e-5)


def test_scores_shapes_and_formulas():
    g = torch.Generator().manual_seed(2)
    q, k = torch.randn(2, 3, 6, generator=g), torch.randn(2, 4, 10, generator=g)
    add = AdditiveScore(6, 10, 7)
    s = add(q, k)
    assert s.shape == (2, 3, 4)
    e = add.v(torch.tanh(add.W_q(q[1, 2]) + add.W_k(k[1, 3])))
    torch.testing.assert_close(s[1, 2, 3], e.squeeze())
    gen = LuongScore(6, 10, "general")
    torch.testing.assert_close(gen(q, k)[0, 1, 2], q[0, 1] @ gen.W.weight @ k[0, 2])
    dot = LuongScore(6, 6, "dot")
    k6 = torch.randn(2, 4, 6, generator=g)
    torch.testing.assert_close(dot(q, k6), torch.einsum("btd,bsd->bts", q, k6))
    with pytest.raises(ValueError):
        LuongScore(6, 10, "dot")


@pytest.mark.parametrize("kind", ["additive", "dot", "general", "none"])
def test_model_forward_loss_and_padding_invariance(kind):
    torch.manual_seed(0)
    model = build_model(11, 13, kind, emb_dim=8, hidden=12, dropout=0.0).eval()
    src = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0]])
    mask = src != 0
    tgt = torch.tensor([[2, 4, 5, 6, 3], [2, 7, 3, 0, 0]])
    logits, w = model(src, mask, tgt[:, :-1])
    assert logits.shape == (2, 4, 13)
    if kind == "none":
        assert w is None
    else:
        assert w.shape == (2, 4, 4) and torch.all(w[1, :, 2:] == 0)
    # the padded sentence gives the same outputs as the same sentence alone
    alone, _ = model(src[1:, :2], mask[1:, :2], tgt[1:, :2])
    torch.testing.assert_close(logits[1, :2], alone[0], atol=1e-5, rtol=1e-5)
    loss = seq2seq_loss(logits, tgt[:, 1:])
    ref = torch.nn.functional.cross_entropy(logits[0], tgt[0, 1:], reduction="sum")
    ref = ref + torch.nn.functional.cross_entropy(logits[1, :2], tgt[1, 1:3], reduction="sum")
    torch.testing.assert_close(loss, ref / 2)


def test_greedy_decode_matches_stepwise_argmax():
    torch.manual_seed(0)
    model = build_model(10, 9, "additive", emb_dim=8, hidden=12, dropout=0.0).eval()
    src = torch.tensor([[4, 5, 6], [7, 8, 0]])
    mask = src != 0
    ids, w = greedy_decode(model, src, mask, max_len=6)
    assert ids.shape[0] == 2 and ids.shape[1] <= 6 and w.shape == (2, ids.shape[1], 3)
    for b in range(2):  # one sentence at a time, by hand
        enc, h = model.encode(src[b:b + 1, :int(mask[b].sum())], mask[b:b + 1, :int(mask[b].sum())])
        y, out = torch.tensor([[model.sos_id]]), []
        for _ in range(ids.shape[1]):
            logits, h, _ = model.decoder(y, h, enc, mask[b:b + 1, :int(mask[b].sum())])
            y = logits[:, -1:].argmax(-1)
            out.append(int(y))
            if out[-1] == model.eos_id:
                break
        assert ids[b, :len(out)].tolist() == out
        assert torch.all(ids[b, len(out):] == model.pad_id)


def _markov_step(table):
    """A step function whose state is the last token: log_probs = table[token]."""
    def step(tokens, state):
        return table[tokens], tokens.clone()
    return step


def test_beam_one_is_greedy_and_big_beam_is_exhaustive():
    torch.manual_seed(3)
    V, eos, sos, max_len = 4, 1, 0, 4
    # a state-dependent step: a tiny GRU cell, in float64 (in float32 a batch of k hypotheses and a batch
    # of one round differently, by more than the 1e-9 the scores are compared to)
    cell = torch.nn.GRUCell(3, 5).double()
    emb, out = torch.nn.Embedding(V, 3).double(), torch.nn.Linear(5, V).double()

    @torch.no_grad()
    def step(tokens, h):
        h = cell(emb(tokens), h)
        return torch.log_softmax(out(h), -1), h

    h0 = torch.zeros(1, 5, dtype=torch.float64)
    # greedy by hand
    tok, h, greedy = torch.tensor([sos]), h0, []
    for _ in range(max_len):
        lp, h = step(tok, h)
        tok = lp.argmax(-1)
        if int(tok) == eos:
            break
        greedy.append(int(tok))
    assert beam_search(step, h0, sos, eos, 1, max_len, alpha=0.0)[0] == greedy
    # exhaustive search over every sequence (ending in eos, or max_len tokens without eos)
    for alpha in (0.0, 1.0):
        best, best_seq = -math.inf, None
        for n in range(1, max_len + 1):
            for seq in itertools.product(range(V), repeat=n):
                if eos in seq[:-1] or (n < max_len and seq[-1] != eos):
                    continue
                tok, h, total = torch.tensor([sos]), h0, 0.0
                for t in seq:
                    lp, h = step(tok, h)
                    total += float(lp[0, t])
                    tok = torch.tensor([t])
                score = total / n ** alpha
                if score > best:
                    best, best_seq = score, [t for t in seq if t != eos]
        got, score = beam_search(step, h0, sos, eos, V ** max_len, max_len, alpha=alpha)
        assert got == best_seq and abs(score - best) < 1e-9


def test_beam_beats_greedy_on_a_garden_path():
    # greedy takes token 2 (p=.6) then must pay log .1; beam 2 finds 3 (p=.4) then eos (p=.9)
    lp = torch.log(torch.tensor([
        [0.0, 0.0, 0.6, 0.4],   # from sos (0)
        [1.0, 0.0, 0.0, 0.0],   # eos row (unused)
        [0.0, 0.1, 0.5, 0.4],   # after 2 (no ties: torch.topk's order among equal scores is unspecified)
        [0.0, 0.9, 0.06, 0.04],  # after 3
    ]).clamp_min(1e-12))
    step = _markov_step(lp)
    assert beam_search(step, torch.tensor([0]), 0, 1, 1, 2, alpha=0.0)[0] == [2, 2]
    assert beam_search(step, torch.tensor([0]), 0, 1, 2, 2, alpha=0.0)[0] == [3]



def test_beam_search_edge_cases():
    lp = torch.log(torch.tensor([[0.0, 0.3, 0.7, 0.0], [1.0, 0.0, 0.0, 0.0],
                                 [0.0, 0.8, 0.0, 0.2], [0.0, 1.0, 0.0, 0.0]], dtype=torch.float64))  # 0: -inf
    seen = []

    def step(tokens, state):
        seen.extend(tokens.tolist())
        return lp[tokens], tokens.clone()

    # max_len = 0: no step, the empty hypothesis with score 0.0
    assert beam_search(step, torch.tensor([0]), 0, 1, 3, 0, alpha=1.0) == ([], 0.0) and seen == []
    # a beam wider than k * V keeps every finite candidate and never an impossible (-inf) one
    toks, score = beam_search(step, torch.tensor([0]), 0, 1, 100, 3, alpha=0.0)
    assert toks == [2] and abs(score - math.log(0.7 * 0.8)) < 1e-12
    assert set(seen) <= {0, 2, 3} and isinstance(score, float)
    # every candidate impossible: ([], -inf)
    def dead(tokens, state):
        return torch.full((tokens.shape[0], 4), -math.inf), state
    assert beam_search(dead, torch.tensor([0]), 0, 1, 3, 4) == ([], -math.inf)
    # an <eos> id above 256 ends hypotheses (ids compared with ==)
    big = torch.full((400, 400), -math.inf)
    big[0, 300] = 0.0
    assert beam_search(lambda t, s: (big[t], s), torch.tensor([0]), 0, 300, 2, 5) == ([], 0.0)


def test_greedy_decode_plain_model_weights_follow_the_model_dtype():
    torch.manual_seed(0)
    model = build_model(7, 6, "none", emb_dim=4, hidden=6, dropout=0.0).double().eval()
    src = torch.tensor([[4, 5, 6]])
    ids, w = greedy_decode(model, src, src != 0, max_len=3)
    assert w.dtype == torch.float64 and w.shape == (1, ids.shape[1], 3) and torch.all(w == 0)


def test_train_and_translate_tiny_copy_task():
    from dlnlp.text import Vocab, pad_batch

    torch.manual_seed(0)
    words = "a b c d".split()
    g = torch.Generator().manual_seed(0)
    pairs = [[words[int(i)] for i in torch.randint(0, 4, (int(n),), generator=g)]
             for n in torch.randint(1, 4, (200,), generator=g)]
    sv = tv = Vocab(pairs)
    src, mask = pad_batch([sv.encode(p) for p in pairs])
    tgt, _ = pad_batch([tv.encode(p[::-1], add_sos=True, add_eos=True) for p in pairs])
    model = build_model(len(sv), len(tv), "dot", emb_dim=16, hidden=32, dropout=0.0)
    losses = train_seq2seq(model, src, mask, tgt, epochs=25, batch_size=32, lr=1e-2)
    assert losses[-1] < losses[0] / 5
    tr = Translator(model, sv, tv)
    out = tr.translate(["a b c", "d d a"])
    assert out == ["c b a", "a d d"], out
    assert tr.translate(["a b c"], beam_size=3) == ["c b a"]
    src_toks, out_toks, w = tr.attention("a b c")
    assert src_toks == ["a", "b", "c"] and out_toks[-1] == "<eos>" and w.shape == (len(out_toks), 3)


def test_romanize_and_hangul_labels():
    from dlnlp.reference.rnn_attention import hangul_labels, romanize

    assert romanize("학생") == "haksaeng" and romanize("선생님") == "seonsaengnim"
    assert romanize("<eos> a") == "<eos> a"
    labels = hangul_labels(["학생", "<eos>"])
    assert labels in (["학생", "<eos>"], ["haksaeng", "<eos>"])


def test_fit_translation_runs_and_is_seeded():
    from dlnlp.data.translation import load_translation
    from dlnlp.reference.rnn_attention import AdditiveScore, fit_translation

    pairs = load_translation(seed=0, n_train=150, n_valid=10, n_test=10)["train"]
    a = fit_translation(pairs, epochs=1, hidden=16, emb_dim=8, seed=1)
    b = fit_translation(pairs, epochs=1, hidden=16, emb_dim=8, seed=1,
                        score=lambda q, k: AdditiveScore(q, k, q))
    assert a.losses == b.losses            # a score factory builds the same model as kind="additive"
    out = a.translate([pairs[0][0], pairs[1][0]])
    assert len(out) == 2 and all(isinstance(o, str) for o in out)
    plain = fit_translation(pairs, kind="none", epochs=1, hidden=16, emb_dim=8)
    assert sum(p.numel() for p in plain.model.parameters()) < sum(p.numel() for p in a.model.parameters())
