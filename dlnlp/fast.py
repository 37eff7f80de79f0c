"""Train with PyTorch's fused attention once your own attention is verified.

The notebooks have you write attention by hand (scores, mask, softmax, weighted sum) and check it against
``F.scaled_dot_product_attention``. The hand-written version materialises the (B, h, T_q, T_k) score
matrix, copies it for the mask and keeps it for the backward pass; the fused kernel does the same
arithmetic in tiles and is faster and lighter. :func:`fused_attention` swaps the fused kernel into the
attention modules of a model for as long as a ``with`` block lasts, after checking on a probe batch that
each module gives the same numbers both ways::

    with fused_attention(model) as fused:      # prints how many modules were swapped
        train(model)                           # forward passes use the fused kernel
    weights = model.layers[0].self_attn(x, x, x)[1]     # your forward again, attention weights included

Only ``forward`` is swapped; parameters, state dicts, hooks and checkpoints are the model's own. A module
whose output differs from the fused kernel's (beyond ``atol`` + ``rtol`` times the size of its output) keeps
its own forward, and the report says which and by how much. Three layouts are recognised, by the
attribute names the course's exercises fix:

- multi-head attention (notebooks 07 and 08): ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``,
  ``num_heads``, ``dropout``; ``forward(query, key, value, mask=None) -> (out, weights)``, ``mask`` bool
  with ``True`` = may attend. While fused, ``weights`` is ``None``.
- GPT-2 causal self-attention (notebook 11): ``c_attn``, ``c_proj``, ``n_head``, ``attn_dropout``,
  ``resid_dropout``; ``forward(x, past_kv=None) -> (y, (k, v))``.
- a BERT encoder layer (notebook 10): ``query``, ``key``, ``value``, ``attn_out``, ``attn_norm``,
  ``ffn_in``, ``ffn_out``, ``ffn_norm``, ``attn_dropout``, ``dropout``, ``n_heads``;
  ``forward(x, attention_mask=None)``. Its attention is written inline, so the whole layer's forward is
  swapped for one that computes the same post-norm layer around the fused kernel.

Masked scores get the most negative finite number of the dtype, as in the course's own attention, so a
row with no visible key gets uniform weights (not NaN) both ways.
"""
from __future__ import annotations

import contextlib
import math
import types
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["sdpa", "fused_attention", "FusedReport", "MHA_ATTRS", "GPT_ATTRS", "BERT_ATTRS"]

MHA_ATTRS = ("q_proj", "k_proj", "v_proj", "out_proj", "num_heads")
GPT_ATTRS = ("c_attn", "c_proj", "n_head", "attn_dropout", "resid_dropout")
BERT_ATTRS = ("query", "key", "value", "attn_out", "attn_norm", "ffn_in", "ffn_out", "ffn_norm", "n_heads")


def _dropout_p(module: nn.Module | None) -> float:
    return float(module.p) if isinstance(module, nn.Dropout) and module.training else 0.0


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
         dropout_p: float = 0.0, is_causal: bool = False) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` with the course's mask convention: ``mask`` bool, ``True`` = may
    attend, broadcastable to (..., T_q, T_k); masked scores get the dtype's most negative finite value."""
    if mask is not None:
        mask = mask.to(q.device)
        if mask.dtype == torch.bool:
            mask = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill(
                ~mask, torch.finfo(q.dtype).min)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal)


def _heads(t: torch.Tensor, n: int) -> torch.Tensor:
    B, T, D = t.shape
    return t.reshape(B, T, n, D // n).transpose(1, 2)


def _merge(t: torch.Tensor) -> torch.Tensor:
    B, h, T, d = t.shape
    return t.transpose(1, 2).reshape(B, T, h * d)


def _mha_forward(self, query, key, value, mask=None):
    h = self.num_heads
    q, k, v = _heads(self.q_proj(query), h), _heads(self.k_proj(key), h), _heads(self.v_proj(value), h)
    out = sdpa(q, k, v, mask, _dropout_p(getattr(self, "dropout", None)))
    return self.out_proj(_merge(out)), None


def _gpt_forward(self, x, past_kv=None):
    B, T, C = x.shape
    nh = self.n_head
    q, k, v = (_heads(t, nh) for t in self.c_attn(x).split(C, dim=2))
    if past_kv is not None:
        k = torch.cat([past_kv[0], k], dim=2)
        v = torch.cat([past_kv[1], v], dim=2)
    P = k.shape[2] - T
    p = _dropout_p(self.attn_dropout)
    if P == 0:
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
    elif T == 1:
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)             # the newest token sees all
    else:
        allowed = torch.ones(T, P + T, dtype=torch.bool, device=x.device).tril(diagonal=P)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p)
    return self.resid_dropout(self.c_proj(_merge(y))), (k, v)


def _bert_forward(self, x, attention_mask=None):
    nh = self.n_heads
    q, k, v = _heads(self.query(x), nh), _heads(self.key(x), nh), _heads(self.value(x), nh)
    mask = None if attention_mask is None else attention_mask.bool()[:, None, None, :]
    ctx = _merge(sdpa(q, k, v, mask, _dropout_p(getattr(self, "attn_dropout", None))))
    drop = getattr(self, "dropout", None) or nn.Identity()
    x = self.attn_norm(x + drop(self.attn_out(ctx)))
    return self.ffn_norm(x + drop(self.ffn_out(F.gelu(self.ffn_in(x)))))


def _first_param(module: nn.Module) -> torch.Tensor:
    return next(module.parameters())


def _probe_mha(module: nn.Module, fused) -> float:
    p = _first_param(module)
    D = module.q_proj.in_features
    g = torch.Generator().manual_seed(0)
    q, kv = (torch.randn(2, n, D, generator=g).to(p) for n in (5, 7))
    pad = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])[:, None, None, :].to(p.device)
    causal = torch.ones(5, 7, dtype=torch.bool, device=p.device).tril(diagonal=2)
    gap = 0.0
    for args in ((q, kv, kv, pad), (q, kv, kv, causal), (q, kv, kv, None)):
        gap = max(gap, _gap(module.forward(*args)[0], fused(*args)[0]))
    return gap


def _probe_gpt(module: nn.Module, fused) -> float:
    p = _first_param(module)
    C = module.c_attn.in_features
    x = torch.randn(2, 6, C, generator=torch.Generator().manual_seed(0)).to(p)
    y, (k, v) = module.forward(x)
    gap = max(_gap(y, fused(x)[0]), _gap(k, fused(x)[1][0]))
    past = (k[:, :, :4], v[:, :, :4])
    for new in (x[:, 4:5], x[:, 4:6]):
        gap = max(gap, _gap(module.forward(new, past)[0], fused(new, past)[0]))
    return gap


def _probe_bert(module: nn.Module, fused) -> float:
    p = _first_param(module)
    H = module.query.in_features
    x = torch.randn(2, 6, H, generator=torch.Generator().manual_seed(0)).to(p)
    m = torch.tensor([[True] * 6, [True] * 3 + [False] * 3], device=p.device)
    return max(_gap(module.forward(x, m), fused(x, m)), _gap(module.forward(x), fused(x)))


def _gap(expected: torch.Tensor, got: torch.Tensor) -> float:
    """Largest difference relative to the output's size (inf when a shape differs or a value is NaN)."""
    if not isinstance(expected, torch.Tensor) or not isinstance(got, torch.Tensor) or expected.shape != got.shape:
        return math.inf
    diff = (expected.double() - got.double()).abs().max().item() if expected.numel() else 0.0
    scale = 1.0 + (expected.double().abs().max().item() if expected.numel() else 0.0)
    return math.inf if math.isnan(diff) else diff / scale


LAYOUTS = (("multi-head attention", MHA_ATTRS, _mha_forward, _probe_mha),
           ("GPT-2 causal self-attention", GPT_ATTRS, _gpt_forward, _probe_gpt),
           ("BERT layer", BERT_ATTRS, _bert_forward, _probe_bert))


@dataclass
class FusedReport:
    """What :func:`fused_attention` did: ``fused`` lists ``(module name, layout)`` of the modules it
    swapped, ``kept`` lists ``(module name, reason)`` of those it left alone."""

    fused: list[tuple[str, str]] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        kinds = sorted({kind for _, kind in self.fused})
        s = f"fused attention: {len(self.fused)} module(s) use F.scaled_dot_product_attention"
        if kinds:
            s += f" ({', '.join(kinds)})"
        for name, why in self.kept:
            s += f"\n  kept your own forward in {name or 'the model'}: {why}"
        return s


def _layout(module: nn.Module):
    for kind, attrs, forward, probe in LAYOUTS:
        if all(hasattr(module, a) for a in attrs) and "forward" not in vars(module):
            return kind, forward, probe
    return None


@contextlib.contextmanager
def fused_attention(model: nn.Module, check: bool = True, atol: float = 1e-5, verbose: bool = True):
    """Within the ``with`` block, the attention modules of ``model`` (see the module docstring) run on
    ``F.scaled_dot_product_attention``. With ``check`` each module is first compared with its own forward
    on a probe batch in eval mode (no dropout, no gradients); one that differs by more than ``atol``
    relative to its output's size keeps its own forward. Yields a :class:`FusedReport` (printed when
    ``verbose``); every swapped forward is restored on exit, even after an exception."""
    report = FusedReport()
    swapped: list[nn.Module] = []
    try:
        for name, module in model.named_modules():
            found = _layout(module)
            if found is None:
                continue
            kind, forward, probe = found
            fused = types.MethodType(forward, module)
            if check:
                modes = [(m, m.training) for m in module.modules()]
                module.eval()
                try:
                    with torch.no_grad():
                        gap = probe(module, fused)
                except Exception as e:                       # a layout that only looks like ours
                    gap, why = math.inf, f"{type(e).__name__}: {e}"
                else:
                    why = f"its output differs from the fused kernel's by {gap:.2e} (relative)"
                finally:
                    for m, mode in modes:
                        m.train(mode)
                if not gap <= atol:
                    report.kept.append((name, why))
                    continue
            module.forward = fused
            swapped.append(module)
            report.fused.append((name, kind))
        if verbose:
            print(report)
        yield report
    finally:
        for module in swapped:
            vars(module).pop("forward", None)
