"""A small GPT (decoder-only causal language model) with a KV cache, sampling, n-gram baselines, and
weight mapping to and from Hugging Face ``GPT2LMHeadModel``.

The reference for notebook 11. Parameter names are GPT-2's (``wte``, ``wpe``, ``h.{i}.ln_1``,
``h.{i}.attn.c_attn``, ...), without the ``transformer.`` prefix, and the linear layers are
``nn.Linear``: GPT-2's ``Conv1D`` stores the same matrices transposed, which :func:`load_hf_gpt2`
undoes. GPT-2 is *pre-norm* (``x + sublayer(LN(x))``), uses the tanh approximation of GELU and ties the
output layer to the token embedding.

Shapes: ``B`` batch, ``T`` new tokens, ``P`` cached (past) tokens, ``C`` width, ``V`` vocabulary.
A KV cache is a list with one ``(k, v)`` pair per layer, each (B, n_head, P, C // n_head).
"""
from __future__ import annotations

import inspect
import math
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["GPTConfig", "next_token_pairs", "ngram_nll", "unigram_nll", "bigram_nll", "CausalSelfAttention",
           "MLP", "Block", "GPT", "init_gpt_weights", "filter_logits", "sample_next", "generate",
           "hf_gpt2_config", "hf_gpt2", "gpt2_key_map", "load_hf_gpt2", "to_hf_gpt2", "distinct_n"]


@dataclass
class GPTConfig:
    """Sizes of a GPT; ``n_positions`` is the longest context (prompt plus generated tokens)."""

    vocab_size: int
    n_positions: int = 128
    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    dropout: float = 0.0
    layer_norm_epsilon: float = 1e-5


def next_token_pairs(ids: torch.Tensor, starts: torch.Tensor, block_size: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of a 1-D id sequence for next-token prediction: ``x[b, t] = ids[starts[b] + t]`` and the
    target ``y[b, t] = ids[starts[b] + t + 1]`` (the token that *follows*). (N,), (B,) -> (B, T), (B, T)."""
    idx = starts[:, None] + torch.arange(block_size, device=ids.device)[None, :]   # (B, T)
    return ids[idx], ids[idx + 1]


def ngram_nll(train_ids: torch.Tensor, valid_ids: torch.Tensor, vocab_size: int, order: int = 2,
              alpha: float = 1.0) -> float:
    """Mean negative log-likelihood (nats per token) of ``valid_ids`` under an add-``alpha`` smoothed
    n-gram model (``order`` 1 = unigram, 2 = bigram) counted on ``train_ids``. The first token of
    ``valid_ids`` is not scored when ``order`` is 2."""
    tr, va = train_ids.long().cpu(), valid_ids.long().cpu()
    if order == 1:
        counts = torch.bincount(tr, minlength=vocab_size).double() + alpha
        logp = counts.log() - counts.sum().log()
        return float(-logp[va].mean())
    if order == 2:
        counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
        counts.index_put_((tr[:-1], tr[1:]), torch.ones(len(tr) - 1, dtype=torch.float64), accumulate=True)
        counts += alpha
        logp = counts.log() - counts.sum(dim=1, keepdim=True).log()      # rows: previous token
        return float(-logp[va[:-1], va[1:]].mean())
    raise ValueError("order must be 1 or 2")


def unigram_nll(train_ids, valid_ids, vocab_size, alpha: float = 1.0) -> float:
    return ngram_nll(train_ids, valid_ids, vocab_size, 1, alpha)


def bigram_nll(train_ids, valid_ids, vocab_size, alpha: float = 1.0) -> float:
    return ngram_nll(train_ids, valid_ids, vocab_size, 2, alpha)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with an optional KV cache.

    ``forward(x, past_kv)``: ``x`` (B, T, C) holds the *new* positions ``P .. P+T-1``; ``past_kv`` is
    ``None`` or ``(k, v)`` of the ``P`` earlier positions, each (B, n_head, P, hd). Returns ``y``
    (B, T, C) and ``present = (k, v)`` for all ``P + T`` positions. New position ``P + i`` attends to
    keys ``0 .. P + i``.

    The arithmetic is notebook 11's; it runs on ``F.scaled_dot_product_attention`` (the same numbers up
    to rounding, without keeping the (B, nh, T, P+T) weights), except in training mode with attention
    dropout, where it is written out so that dropout draws its random numbers as the notebook's does.
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        C = cfg.n_embd
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(C, 3 * C)     # q, k, v in one matrix, as GPT-2 stores them
        self.c_proj = nn.Linear(C, C)
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, past_kv: tuple[torch.Tensor, torch.Tensor] | None = None):
        B, T, C = x.shape
        nh, hd = self.n_head, C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, nh, hd).transpose(1, 2) for t in (q, k, v))   # (B, nh, T, hd)
        if past_kv is not None:
            k = torch.cat([past_kv[0], k], dim=2)                                 # (B, nh, P+T, hd)
            v = torch.cat([past_kv[1], v], dim=2)
        P = k.shape[2] - T
        if self.training and self.attn_dropout.p > 0:
            # written out, so that dropout draws its random numbers exactly as the notebook's version does
            scores = q @ k.transpose(-2, -1) / math.sqrt(hd)                      # (B, nh, T, P+T)
            allowed = torch.ones(T, P + T, dtype=torch.bool, device=x.device).tril(diagonal=P)
            scores = scores.masked_fill(~allowed, float("-inf"))
            att = self.attn_dropout(torch.softmax(scores, dim=-1))
            y = att @ v
        elif P == 0:                              # PyTorch's fused kernel: no (T, T) matrix is kept
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif T == 1:                              # one new token attends to every cached one
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            allowed = torch.ones(T, P + T, dtype=torch.bool, device=x.device).tril(diagonal=P)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    """GPT-2's feed-forward layer: C -> 4C, GELU (tanh approximation), 4C -> C."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    """A pre-norm decoder block: ``x = x + attn(ln_1(x))``, ``x = x + mlp(ln_2(x))``.
    ``forward(x, past_kv) -> (x, present)``."""

    def __init__(self, cfg: GPTConfig, attn_cls: type | None = None):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.attn = (attn_cls or CausalSelfAttention)(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)

    def forward(self, x, past_kv=None):
        a, present = self.attn(self.ln_1(x), past_kv)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, present


class GPT(nn.Module):
    """Token and position embeddings, ``n_layer`` blocks, a final LayerNorm and the output layer tied to
    the token embedding.

    ``forward(idx, targets=None, past_kv=None, last_only=False)``: ``idx`` (B, T) are the tokens at
    positions ``P .. P+T-1`` where ``P`` is the cached length (0 without a cache). Returns ``logits``
    (B, T, V), or (B, 1, V) for the last position only with ``last_only`` (all generation needs: the output
    layer then runs once instead of T times), ``loss`` (mean cross-entropy against ``targets`` (B, T),
    or ``None``; it needs every position, so ``last_only`` is refused with ``targets``) and ``present``
    (the new KV cache, one ``(k, v)`` per layer).
    """

    def __init__(self, cfg: GPTConfig, attn_cls: type | None = None):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList([Block(cfg, attn_cls) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, past_kv=None,
                last_only: bool = False):
        B, T = idx.shape
        if last_only and targets is not None:
            raise ValueError("last_only=True computes no loss: the loss needs the logits of every position")
        P = 0 if past_kv is None else past_kv[0][0].shape[2]
        if P + T > self.cfg.n_positions:
            raise ValueError(f"context of {P + T} tokens exceeds n_positions = {self.cfg.n_positions}")
        pos = torch.arange(P, P + T, device=idx.device)                            # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos)[None])                         # (B, T, C)
        present = []
        for i, block in enumerate(self.h):
            x, kv = block(x, None if past_kv is None else past_kv[i])
            present.append(kv)
        if last_only:
            x = x[:, -1:]                                                          # (B, 1, C)
        logits = self.ln_f(x) @ self.wte.weight.T                                  # (B, T, V), tied
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss, present


@torch.no_grad()
def init_gpt_weights(model: nn.Module, std: float = 0.02) -> nn.Module:
    """GPT-2's initialisation, in place: weights ~ N(0, std), the residual projections (``c_proj``)
    ~ N(0, std / sqrt(2 n_layer)), biases 0, LayerNorm weights 1."""
    n_layer = len(getattr(model, "h", [None]))
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            s = std / math.sqrt(2 * n_layer) if name.endswith("c_proj") else std
            mod.weight.normal_(0.0, s)
        if isinstance(mod, nn.Linear) and mod.bias is not None:
            mod.bias.zero_()
        if isinstance(mod, nn.LayerNorm):
            mod.weight.fill_(1.0)
            mod.bias.zero_()
    return model


# ---------------------------------------------------------------- sampling

def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Keep the ``top_k`` largest logits and/or the smallest set of most probable tokens whose
    probabilities sum to at least ``top_p`` (nucleus); set the rest to ``-inf``. (..., V) -> (..., V).

    The most probable token is always kept. With ``top_p``, the token whose probability makes the
    running sum reach ``top_p`` is kept, the ones after it are not.
    """
    out = logits.clone()
    if top_k is not None and top_k < out.shape[-1]:
        kth = torch.topk(out, top_k, dim=-1).values[..., -1:]                       # (..., 1)
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(out, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = probs.cumsum(dim=-1) - probs          # probability mass strictly before each token
        drop_sorted = before >= top_p                   # the first token always has 0 before it
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        out = out.masked_fill(drop, float("-inf"))
    return out


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row from logits (B, V) -> (B,) long. ``temperature == 0`` is greedy (argmax);
    otherwise the logits are divided by ``temperature``, filtered by :func:`filter_logits`, and a token
    is drawn from their softmax with ``generator``."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(filter_logits(logits / temperature, top_k, top_p), dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)


@torch.no_grad()
def generate(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Extend ``idx`` (B, T0) by ``max_new_tokens`` tokens -> (B, T0 + max_new_tokens).

    With ``use_cache`` the prompt goes through the model once and then each step feeds only the newest
    token together with the cache; without it every step feeds the whole sequence again (the last
    ``n_positions`` tokens). Both give the same tokens (up to floating-point rounding). A model whose
    ``forward`` takes ``last_only`` (as :class:`GPT` does) computes the logits of the last position only.
    """
    model.eval()
    last = {"last_only": True} if "last_only" in inspect.signature(model.forward).parameters else {}
    past = None
    x = idx
    for _ in range(max_new_tokens):
        if use_cache:
            logits, _, past = model(x, past_kv=past, **last)
        else:
            logits, _, _ = model(idx[:, -model.cfg.n_positions:], **last)
        nxt = sample_next(logits[:, -1], temperature, top_k, top_p, generator)      # (B,)
        idx = torch.cat([idx, nxt[:, None]], dim=1)
        x = nxt[:, None]
    return idx


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Diversity: distinct word n-grams divided by all word n-grams, over ``texts`` together (words are
    split on whitespace). 1.0 means no n-gram repeats; a model stuck in a loop scores near 0."""
    words = [t.split() for t in texts]
    grams = Counter(tuple(w[i:i + n]) for w in words for i in range(len(w) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


# ---------------------------------------------------------------- Hugging Face interoperability

def _gpt2_config_kwargs(cfg: GPTConfig, **overrides) -> dict:
    kw = dict(vocab_size=cfg.vocab_size, n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
              n_head=cfg.n_head, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout,
              layer_norm_epsilon=cfg.layer_norm_epsilon, bos_token_id=0, eos_token_id=0)
    kw.update(overrides)
    return kw


def hf_gpt2_config(cfg: GPTConfig, **overrides):
    """The ``transformers.GPT2Config`` with the same sizes, eager attention and no dropout."""
    from transformers import GPT2Config

    return GPT2Config(**{"attn_implementation": "eager", **_gpt2_config_kwargs(cfg, **overrides)})


def hf_gpt2(cfg: GPTConfig, seed: int = 0, initializer_range: float = 0.2, **overrides):
    """A ``transformers.GPT2LMHeadModel`` with random weights (no download), in eval mode. The weights'
    standard deviation ``initializer_range`` is larger than GPT-2's 0.02 so activations are of order one;
    biases and LayerNorm parameters are random too, so that a test can tell every parameter apart. The
    weights depend on ``seed`` only (the global random state is left as it was). While a notebook is graded
    this is a :class:`dlnlp.reference.hf.HFModel` with the same weights, answering from outputs
    ``transformers`` gave for them (see that module)."""
    from . import hf

    config = _gpt2_config_kwargs(cfg, **overrides)
    weights = hf.draw_weights(hf.shapes("gpt2", "lm", config), seed, initializer_range)
    return hf.hf_model("gpt2", "lm", config, weights, {"seed": seed, "std": initializer_range})


def gpt2_key_map(n_layer: int) -> dict[str, tuple[str, bool]]:
    """Our names -> (Hugging Face ``GPT2LMHeadModel`` name, whether the matrix is stored transposed)."""
    m = {"wte.weight": ("transformer.wte.weight", False), "wpe.weight": ("transformer.wpe.weight", False),
         "ln_f.weight": ("transformer.ln_f.weight", False), "ln_f.bias": ("transformer.ln_f.bias", False)}
    for i in range(n_layer):
        for ln in ("ln_1", "ln_2"):
            for w in ("weight", "bias"):
                m[f"h.{i}.{ln}.{w}"] = (f"transformer.h.{i}.{ln}.{w}", False)
        for lin in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            m[f"h.{i}.{lin}.weight"] = (f"transformer.h.{i}.{lin}.weight", True)   # Conv1D: (in, out)
            m[f"h.{i}.{lin}.bias"] = (f"transformer.h.{i}.{lin}.bias", False)
    return m


@torch.no_grad()
def load_hf_gpt2(model: GPT, hf_state_dict) -> GPT:
    """Copy a Hugging Face ``GPT2LMHeadModel`` (or its state dict) into ``model``, in place.

    Conv1D weights (``c_attn``, ``c_proj``, ``c_fc``) are stored as (in, out); ``nn.Linear`` wants
    (out, in), hence the ``.t()``. The output layer is tied to ``wte``, so ``lm_head.weight`` is not
    copied separately.
    """
    sd = hf_state_dict.state_dict() if hasattr(hf_state_dict, "state_dict") else hf_state_dict
    params = dict(model.named_parameters())
    for ours, (theirs, transposed) in gpt2_key_map(len(model.h)).items():
        w = sd[theirs]
        params[ours].copy_(w.t() if transposed else w)
    return model


@torch.no_grad()
def to_hf_gpt2(model: GPT):
    """The inverse of :func:`load_hf_gpt2`: a ``transformers.GPT2LMHeadModel`` holding ``model``'s weights."""
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel(hf_gpt2_config(model.cfg)).eval()
    sd = hf.state_dict()
    for ours, (theirs, transposed) in gpt2_key_map(len(model.h)).items():
        w = dict(model.named_parameters())[ours]
        sd[theirs].copy_(w.t() if transposed else w)
    return hf
