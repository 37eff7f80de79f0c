"""dlnlp.fast.fused_attention: the fused kernel is swapped in only where it gives the module's own numbers,
gradients agree, masks keep the course's convention, and every module gets its own forward back."""
import pytest
import torch
import torch.nn as nn

from dlnlp.fast import fused_attention, sdpa
from dlnlp.reference import bert as rb
from dlnlp.reference import gpt as rg
from dlnlp.reference import transformer as rt


def _grads(model, loss_fn):
    model.zero_grad()
    loss_fn().backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _gpt():
    torch.manual_seed(0)
    return rg.init_gpt_weights(rg.GPT(rg.GPTConfig(vocab_size=23, n_positions=32, n_embd=32, n_head=4, n_layer=2)),
                               std=0.2).double()


class _ManualGPTAttention(rg.CausalSelfAttention):
    """The notebook's hand-written attention: materialised scores, -inf mask, softmax."""

    def forward(self, x, past_kv=None):
        B, T, C = x.shape
        nh, hd = self.n_head, C // self.n_head
        q, k, v = (t.view(B, T, nh, hd).transpose(1, 2) for t in self.c_attn(x).split(C, dim=2))
        if past_kv is not None:
            k, v = torch.cat([past_kv[0], k], 2), torch.cat([past_kv[1], v], 2)
        P = k.shape[2] - T
        s = (q @ k.transpose(-2, -1)) / hd ** 0.5
        s = s.masked_fill(~torch.ones(T, P + T, dtype=torch.bool).tril(P), float("-inf"))
        y = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y), (k, v)


def test_gpt_logits_and_gradients_match_the_hand_written_attention():
    torch.manual_seed(0)
    cfg = rg.GPTConfig(vocab_size=23, n_positions=32, n_embd=32, n_head=4, n_layer=2)
    model = rg.init_gpt_weights(rg.GPT(cfg, attn_cls=_ManualGPTAttention), std=0.2).double()
    idx = torch.randint(0, 23, (3, 17))
    logits = model(idx)[0]
    g_ref = _grads(model, lambda: model(idx, idx)[1])
    with fused_attention(model, verbose=False) as rep:
        assert len(rep.fused) == 2 and not rep.kept
        assert all("forward" in vars(b.attn) for b in model.h)
        torch.testing.assert_close(model(idx)[0], logits, atol=1e-12, rtol=0)
        g = _grads(model, lambda: model(idx, idx)[1])
        for n in g_ref:
            torch.testing.assert_close(g[n], g_ref[n], atol=1e-12, rtol=0, msg=n)
        # the KV cache: a prompt, then one token, then two at once
        _, _, past = model(idx[:, :9])
        l1, _, past = model(idx[:, 9:10], past_kv=past)
        l2, _, _ = model(idx[:, 10:12], past_kv=past)
        torch.testing.assert_close(torch.cat([l1, l2], 1), logits[:, 9:12], atol=1e-12, rtol=0)
    assert not any("forward" in vars(b.attn) for b in model.h)      # restored


def test_a_wrong_attention_keeps_its_own_forward_and_is_reported(capsys):
    class Unscaled(_ManualGPTAttention):                 # forgets 1/sqrt(d): a plausible learner's mistake
        def forward(self, x, past_kv=None):
            y, kv = super().forward(x * 2.0, past_kv)
            return y, kv

    model = rg.GPT(rg.GPTConfig(vocab_size=11, n_embd=16, n_head=2, n_layer=1), attn_cls=Unscaled)
    with fused_attention(model) as rep:
        assert rep.fused == [] and [n for n, _ in rep.kept] == ["h.0.attn"]
        assert "forward" not in vars(model.h[0].attn)
    assert "kept your own forward in h.0.attn" in capsys.readouterr().out


def test_a_module_that_raises_on_the_probe_is_kept():
    class Odd(nn.Module):                                 # has the attribute names, not the behaviour
        def __init__(self):
            super().__init__()
            self.q_proj = self.k_proj = self.v_proj = self.out_proj = nn.Linear(4, 4)
            self.num_heads = 3                            # 4 is not divisible by 3

        def forward(self, q, k, v, mask=None):
            return q, None

    with fused_attention(nn.Sequential(Odd()), verbose=False) as rep:
        assert rep.fused == [] and len(rep.kept) == 1


def test_transformer_with_padding_and_causal_masks_matches_and_restores():
    torch.manual_seed(0)
    model = rt.Transformer(30, 31, d_model=32, num_heads=4, num_layers=2, d_ff=64).double().eval()
    src, tgt = torch.randint(3, 30, (4, 9)), torch.randint(3, 31, (4, 7))
    src[1, 5:] = 0
    src[3, 2:] = 0
    expected = model(src, tgt)
    with fused_attention(model, verbose=False) as rep:
        assert len(rep.fused) == 6 and not rep.kept
        torch.testing.assert_close(model(src, tgt), expected, atol=1e-10, rtol=0)
        assert model.decoder[0].cross_attn(torch.zeros(1, 2, 32).double(), torch.zeros(1, 3, 32).double(),
                                           torch.zeros(1, 3, 32).double())[1] is None
    w = model.decoder[0].cross_attn(torch.zeros(1, 2, 32).double(), torch.zeros(1, 3, 32).double(),
                                    torch.zeros(1, 3, 32).double())[1]
    assert w.shape == (1, 4, 2, 3)                        # the module's own forward, weights included


def test_bert_layer_matches_in_eval_and_uses_dropout_in_training():
    torch.manual_seed(0)
    cfg = rb.BertConfig(vocab_size=40, hidden_size=32, num_attention_heads=4, intermediate_size=64)
    model = rb.init_bert_weights(rb.MiniBert(cfg)).double().eval()
    ids = torch.randint(5, 40, (3, 10))
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[0, 6:] = False
    expected = model(ids, None, mask)
    with fused_attention(model, verbose=False) as rep:
        assert len(rep.fused) == 2
        torch.testing.assert_close(model(ids, None, mask), expected, atol=1e-10, rtol=0)
        model.train()
        a, b = model(ids, None, mask), model(ids, None, mask)
        assert not torch.allclose(a, b)                   # dropout acts while training
        model.eval()
    assert model.training is False


def test_probe_leaves_training_mode_and_grad_state_alone():
    model = _gpt().train()
    with fused_attention(model, verbose=False):
        assert model.training and all(m.training for m in model.modules())


def test_restored_after_an_exception():
    model = _gpt()
    with pytest.raises(RuntimeError):
        with fused_attention(model, verbose=False):
            raise RuntimeError("stop")
    assert not any("forward" in vars(b.attn) for b in model.h)


def test_sdpa_fully_masked_row_is_uniform_like_the_course_attention():
    q, k, v = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4)
    mask = torch.tensor([[True, True, False, False, False], [False] * 5, [True] * 5])
    out = sdpa(q, k, v, mask)
    ref_out, _ = rt.scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, ref_out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out[:, :, 1], v.mean(2), atol=1e-6, rtol=1e-5)


def test_reference_gpt_last_only_and_generation():
    model = _gpt().eval()
    idx = torch.randint(0, 23, (2, 12))
    full = model(idx)[0]
    last = model(idx, last_only=True)[0]
    assert last.shape == (2, 1, 23)
    torch.testing.assert_close(last, full[:, -1:], atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="last_only"):
        model(idx, idx, last_only=True)
    a = rg.generate(model, idx[:, :3], 10, temperature=0)
    b = rg.generate(model, idx[:, :3], 10, temperature=0, use_cache=False)
    assert torch.equal(a, b)


def test_reference_gpt_attention_dropout_in_training_keeps_the_written_out_path():
    # dropout's random draws stay those of the notebook's version: the same seed gives the same output
    cfg = rg.GPTConfig(vocab_size=11, n_embd=16, n_head=2, dropout=0.5)
    torch.manual_seed(0)
    ours = rg.CausalSelfAttention(cfg).train()
    manual = _ManualGPTAttention(cfg).train()
    manual.load_state_dict(ours.state_dict())
    manual.attn_dropout = nn.Dropout(0.5)
    x = torch.randn(2, 5, 16)

    def with_dropout(m):
        torch.manual_seed(3)
        B, T, C = x.shape
        q, k, v = (t.view(B, T, 2, 8).transpose(1, 2) for t in m.c_attn(x).split(C, dim=2))
        s = (q @ k.transpose(-2, -1)) / 8 ** 0.5
        s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        return m.resid_dropout(m.c_proj((m.attn_dropout(torch.softmax(s, -1)) @ v).transpose(1, 2).reshape(B, T, C)))

    torch.manual_seed(3)
    got = ours(x)[0]
    torch.testing.assert_close(got, with_dropout(manual))
