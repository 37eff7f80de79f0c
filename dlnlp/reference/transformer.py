"""Reference Transformer pieces (Vaswani et al., 2017): the modules notebooks 07-10 build and test.

Everything here is plain PyTorch, small and explicit, written to match PyTorch's own modules once
weights are copied across (see the ``copy_*_from_torch`` helpers and ``tests/test_dlnlp_transformer.py``):

- :func:`scaled_dot_product_attention` matches ``F.scaled_dot_product_attention``;
- :class:`MultiHeadAttention` matches ``nn.MultiheadAttention(batch_first=True)``;
- :class:`EncoderLayer` / :class:`DecoderLayer` match ``nn.TransformerEncoderLayer`` /
  ``nn.TransformerDecoderLayer`` (``batch_first=True``, ReLU, post-norm or pre-norm).

**Mask convention.** A mask is a boolean tensor that is ``True`` where a query *may attend* to a key
(the convention of ``F.scaled_dot_product_attention``), broadcastable to the scores' shape
``(B, h, T_q, T_k)``: a padding mask is ``(B, 1, 1, T_k)``, a causal mask ``(T_q, T_k)``.
PyTorch's ``nn.MultiheadAttention`` and ``nn.Transformer*Layer`` use the opposite convention for
``key_padding_mask`` and boolean ``attn_mask`` (``True`` = masked out): negate with ``~``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "scaled_dot_product_attention", "causal_mask", "padding_mask", "split_heads", "merge_heads",
    "MultiHeadAttention", "copy_mha_from_torch", "sinusoidal_positional_encoding",
    "PositionalEncoding", "FeedForward", "EncoderLayer", "DecoderLayer",
    "copy_encoder_layer_from_torch", "copy_decoder_layer_from_torch", "make_src_mask",
    "make_tgt_mask", "Transformer", "noam_lr", "warmup_scheduler", "label_smoothed_cross_entropy",
]


# --------------------------------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------------------------------

def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None,
                                 dropout: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(d_k)) v``.

    q: (..., T_q, d_k), k: (..., T_k, d_k), v: (..., T_k, d_v); ``mask``: bool, broadcastable to
    (..., T_q, T_k), ``True`` = may attend. Masked scores are set to the most negative finite number
    of the dtype before the softmax, so their weights are (numerically) zero and every row that has
    at least one visible key still sums to 1. Returns ``(out (..., T_q, d_v), weights (..., T_q, T_k))``.
    """
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)          # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)                      # rows sum to 1 over the keys
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) bool, ``True`` on and below the diagonal: position ``i`` may attend to ``j <= i``."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(B, 1, 1, T) bool, ``True`` on the first ``lengths[b]`` positions (the real tokens)."""
    lengths = torch.as_tensor(lengths)
    keep = torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]    # (B, T)
    return keep[:, None, None, :]


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, T, D) -> (B, h, T, D // h): head ``i`` gets features ``i*d_k:(i+1)*d_k`` of every position."""
    B, T, D = x.shape
    if D % num_heads:
        raise ValueError(f"model width {D} is not divisible by {num_heads} heads")
    return x.reshape(B, T, num_heads, D // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, h, T, d_k) -> (B, T, h * d_k), the inverse of :func:`split_heads`."""
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_k)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: project, split into ``num_heads`` heads, attend, merge, project.

    ``forward(query (B, T_q, D), key (B, T_k, D), value (B, T_k, D), mask=None)`` returns
    ``(out (B, T_q, D), weights (B, h, T_q, T_k))``. Self-attention passes the same tensor three
    times; encoder-decoder attention passes the decoder states as ``query`` and the encoder output as
    ``key`` and ``value``. ``dropout`` acts on the attention weights (as in ``nn.MultiheadAttention``).
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.d_model, self.num_heads, self.d_k = d_model, num_heads, d_model // num_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        q = split_heads(self.q_proj(query), self.num_heads)      # (B, h, T_q, d_k)
        k = split_heads(self.k_proj(key), self.num_heads)        # (B, h, T_k, d_k)
        v = split_heads(self.v_proj(value), self.num_heads)      # (B, h, T_k, d_k)
        out, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout)
        return self.out_proj(merge_heads(out)), weights


@torch.no_grad()
def copy_mha_from_torch(mine: nn.Module, theirs: nn.MultiheadAttention) -> nn.Module:
    """Copy an ``nn.MultiheadAttention``'s weights into a module with ``q_proj``, ``k_proj``,
    ``v_proj``, ``out_proj`` (``nn.Linear``). PyTorch stacks the three input projections in
    ``in_proj_weight`` (3D, D) in the order q, k, v. Returns ``mine``."""
    D = theirs.embed_dim
    if theirs.in_proj_weight is None:
        raise ValueError("copy_mha_from_torch needs kdim == vdim == embed_dim (in_proj_weight)")
    for i, name in enumerate(("q_proj", "k_proj", "v_proj")):
        lin = getattr(mine, name)
        lin.weight.copy_(theirs.in_proj_weight[i * D:(i + 1) * D])
        if lin.bias is not None:
            lin.bias.copy_(theirs.in_proj_bias[i * D:(i + 1) * D])
    mine.out_proj.weight.copy_(theirs.out_proj.weight)
    if mine.out_proj.bias is not None:
        mine.out_proj.bias.copy_(theirs.out_proj.bias)
    return mine


# --------------------------------------------------------------------------------------------------
# Position, feed-forward, layers
# --------------------------------------------------------------------------------------------------

def sinusoidal_positional_encoding(max_len: int, d_model: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(max_len, d_model): ``PE[pos, 2i] = sin(pos / 10000^(2i/d))``, ``PE[pos, 2i+1] = cos(...)``.

    Column pairs (2i, 2i+1) share one frequency ``1 / 10000^(2i/d)``; for odd ``d_model`` the last
    column is a sine.
    """
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]                  # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)                   # (ceil(d/2),)
    angle = pos / 10000.0 ** (two_i / d_model)                                 # (L, ceil(d/2))
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.to(dtype)


class PositionalEncoding(nn.Module):
    """Add the sinusoidal encoding to a batch of embeddings (B, T, D), then dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.pe[: x.size(1)].to(x.dtype))


class FeedForward(nn.Module):
    """Position-wise feed-forward network ``linear2(dropout(relu(linear1(x))))``: (B, T, D) -> (B, T, D)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(torch.relu(self.linear1(x))))


class EncoderLayer(nn.Module):
    """Self-attention and feed-forward, each wrapped in a residual connection and a LayerNorm.

    Post-norm (the paper, ``norm_first=False``): ``x = norm(x + sublayer(x))``.
    Pre-norm (``norm_first=True``): ``x = x + sublayer(norm(x))``.
    ``forward(x (B, T, D), mask=None)`` with ``mask`` (B, 1, 1, T) bool, True on real tokens.
    ``dropout`` acts on each sublayer's output before the residual sum; ``inner_dropout`` (default:
    ``dropout``, as in PyTorch's layers) acts inside the sublayers, on the attention weights and on the
    feed-forward hidden layer. The paper drops only sublayer outputs and embeddings: ``inner_dropout=0``.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, eps: float = 1e-5, inner_dropout: float | None = None):
        super().__init__()
        inner_dropout = dropout if inner_dropout is None else inner_dropout
        self.self_attn = MultiHeadAttention(d_model, num_heads, inner_dropout)
        self.ff = FeedForward(d_model, d_ff, inner_dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm_first = norm_first

    def _sa(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.dropout1(self.self_attn(x, x, x, mask)[0])

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.ff(x))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask)
            x = x + self._ff(self.norm2(x))
        else:
            x = self.norm1(x + self._sa(x, mask))
            x = self.norm2(x + self._ff(x))
        return x


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder (cross) attention and feed-forward, each with a
    residual connection and a LayerNorm (post-norm or pre-norm, as in :class:`EncoderLayer`).

    ``forward(y (B, T, D), memory (B, S, D), tgt_mask=None, memory_mask=None)``: ``tgt_mask``
    (B, 1, T, T) or (T, T), causal and padding; ``memory_mask`` (B, 1, 1, S), True on real source tokens.
    ``dropout`` and ``inner_dropout`` as in :class:`EncoderLayer`.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, eps: float = 1e-5, inner_dropout: float | None = None):
        super().__init__()
        inner_dropout = dropout if inner_dropout is None else inner_dropout
        self.self_attn = MultiHeadAttention(d_model, num_heads, inner_dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, inner_dropout)
        self.ff = FeedForward(d_model, d_ff, inner_dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.norm3 = nn.LayerNorm(d_model, eps=eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.norm_first = norm_first

    def _sa(self, y, tgt_mask):
        return self.dropout1(self.self_attn(y, y, y, tgt_mask)[0])

    def _ca(self, y, memory, memory_mask):
        return self.dropout2(self.cross_attn(y, memory, memory, memory_mask)[0])

    def _ff(self, y):
        return self.dropout3(self.ff(y))

    def forward(self, y: torch.Tensor, memory: torch.Tensor, tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            y = y + self._sa(self.norm1(y), tgt_mask)
            y = y + self._ca(self.norm2(y), memory, memory_mask)
            y = y + self._ff(self.norm3(y))
        else:
            y = self.norm1(y + self._sa(y, tgt_mask))
            y = self.norm2(y + self._ca(y, memory, memory_mask))
            y = self.norm3(y + self._ff(y))
        return y


@torch.no_grad()
def _copy_linear(dst: nn.Linear, src: nn.Linear) -> None:
    dst.weight.copy_(src.weight)
    if dst.bias is not None:
        dst.bias.copy_(src.bias)


@torch.no_grad()
def _copy_norm(dst: nn.LayerNorm, src: nn.LayerNorm) -> None:
    dst.weight.copy_(src.weight)
    dst.bias.copy_(src.bias)


def copy_encoder_layer_from_torch(mine: nn.Module, theirs: nn.TransformerEncoderLayer) -> nn.Module:
    """Copy ``nn.TransformerEncoderLayer`` weights into a module laid out like :class:`EncoderLayer`
    (``self_attn``, ``ff.linear1``, ``ff.linear2``, ``norm1``, ``norm2``). Returns ``mine``."""
    copy_mha_from_torch(mine.self_attn, theirs.self_attn)
    _copy_linear(mine.ff.linear1, theirs.linear1)
    _copy_linear(mine.ff.linear2, theirs.linear2)
    _copy_norm(mine.norm1, theirs.norm1)
    _copy_norm(mine.norm2, theirs.norm2)
    return mine


def copy_decoder_layer_from_torch(mine: nn.Module, theirs: nn.TransformerDecoderLayer) -> nn.Module:
    """Copy ``nn.TransformerDecoderLayer`` weights into a module laid out like :class:`DecoderLayer`
    (``self_attn``, ``cross_attn`` <- ``multihead_attn``, ``ff``, ``norm1..3``). Returns ``mine``."""
    copy_mha_from_torch(mine.self_attn, theirs.self_attn)
    copy_mha_from_torch(mine.cross_attn, theirs.multihead_attn)
    _copy_linear(mine.ff.linear1, theirs.linear1)
    _copy_linear(mine.ff.linear2, theirs.linear2)
    for i in (1, 2, 3):
        _copy_norm(getattr(mine, f"norm{i}"), getattr(theirs, f"norm{i}"))
    return mine


# --------------------------------------------------------------------------------------------------
# The encoder-decoder model
# --------------------------------------------------------------------------------------------------

def make_src_mask(src: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """src (B, S) ids -> (B, 1, 1, S) bool, True on real (non-pad) tokens."""
    return (src != pad_id)[:, None, None, :]


def make_tgt_mask(tgt: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """tgt (B, T) decoder-input ids -> (B, 1, T, T) bool: position ``i`` may attend to ``j`` when
    ``j <= i`` (causal) and ``j`` is not padding."""
    T = tgt.size(1)
    return (tgt != pad_id)[:, None, None, :] & causal_mask(T, tgt.device)


class Transformer(nn.Module):
    """The encoder-decoder Transformer for translation (token ids in, next-token logits out).

    ``forward(src (B, S), tgt_in (B, T)) -> logits (B, T, tgt_vocab)`` where ``tgt_in`` is the
    target shifted right (``<sos> y_1 ... y_{T-1}``). Embeddings are scaled by ``sqrt(d_model)`` and
    summed with the sinusoidal positional encoding, as in the paper. With ``norm_first=True``
    (pre-norm) a final LayerNorm closes each stack.

    ``positional``, ``encoder_layer`` and ``decoder_layer`` are the classes the model is built from
    (default: this module's); a notebook passes its own classes with the same constructor signatures
    (``positional(d_model, max_len, dropout)``, ``encoder_layer(d_model, num_heads, d_ff, dropout,
    norm_first, inner_dropout=...)``, ``decoder_layer`` likewise).
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, num_heads: int = 4,
                 num_layers: int = 2, d_ff: int = 128, dropout: float = 0.1, max_len: int = 256,
                 norm_first: bool = False, pad_id: int = 0, inner_dropout: float | None = None,
                 positional: type[nn.Module] | None = None, encoder_layer: type[nn.Module] | None = None,
                 decoder_layer: type[nn.Module] | None = None):
        super().__init__()
        positional = positional or PositionalEncoding
        encoder_layer, decoder_layer = encoder_layer or EncoderLayer, decoder_layer or DecoderLayer
        self.d_model, self.pad_id = d_model, pad_id
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=pad_id)
        self.pos = positional(d_model, max_len, dropout)
        self.encoder = nn.ModuleList(encoder_layer(d_model, num_heads, d_ff, dropout, norm_first,
                                                   inner_dropout=inner_dropout) for _ in range(num_layers))
        self.decoder = nn.ModuleList(decoder_layer(d_model, num_heads, d_ff, dropout, norm_first,
                                                   inner_dropout=inner_dropout) for _ in range(num_layers))
        self.enc_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.dec_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.generator = nn.Linear(d_model, tgt_vocab)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S) -> (memory (B, S, D), src_mask (B, 1, 1, S))."""
        src_mask = make_src_mask(src, self.pad_id)
        x = self.pos(self.src_embed(src) * math.sqrt(self.d_model))
        for layer in self.encoder:
            x = layer(x, src_mask)
        return self.enc_norm(x), src_mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """tgt_in (B, T), memory (B, S, D) -> logits (B, T, tgt_vocab)."""
        tgt_mask = make_tgt_mask(tgt_in, self.pad_id)
        y = self.pos(self.tgt_embed(tgt_in) * math.sqrt(self.d_model))
        for layer in self.decoder:
            y = layer(y, memory, tgt_mask, src_mask)
        return self.generator(self.dec_norm(y))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, sos_id: int, eos_id: int, max_len: int = 40) -> torch.Tensor:
        """Greedy decoding: src (B, S) -> ids (B, <= max_len) without ``<sos>``; after a row has
        produced ``<eos>`` it is padded with ``pad_id``. Encodes once, re-decodes the growing prefix."""
        was_training = self.training
        self.eval()
        memory, src_mask = self.encode(src)
        B = src.size(0)
        ys = torch.full((B, 1), sos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            nxt = self.decode(ys, memory, src_mask)[:, -1].argmax(-1)           # (B,)
            nxt = nxt.masked_fill(done, self.pad_id)
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == eos_id
            if bool(done.all()):
                break
        self.train(was_training)
        return ys[:, 1:]


# --------------------------------------------------------------------------------------------------
# Training: warm-up schedule and label smoothing
# --------------------------------------------------------------------------------------------------

def noam_lr(step: int, d_model: int, warmup: int) -> float:
    """The paper's learning rate ``d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)`` (step >= 1):
    linear warm-up for ``warmup`` steps, then decay as ``1/sqrt(step)``. Step 0 is treated as step 1."""
    step = max(int(step), 1)
    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def warmup_scheduler(optimizer: torch.optim.Optimizer, d_model: int, warmup: int,
                     factor: float = 1.0) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that sets the learning rate to ``factor * noam_lr(step + 1, d_model, warmup)``
    (create the optimizer with ``lr=1.0``; call ``scheduler.step()`` after every optimizer step)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: factor * noam_lr(s + 1, d_model, warmup))


def label_smoothed_cross_entropy(logits: torch.Tensor, target: torch.Tensor, eps: float = 0.1,
                                 pad_id: int | None = None) -> torch.Tensor:
    """Cross-entropy against the smoothed target ``(1 - eps) * one_hot + eps / V`` (V classes),
    averaged over the positions whose target is not ``pad_id``. logits (N, V) or (B, T, V), target
    (N,) or (B, T). Equals ``F.cross_entropy(logits, target, label_smoothing=eps, ignore_index=pad_id)``."""
    V = logits.size(-1)
    logp = F.log_softmax(logits.reshape(-1, V), dim=-1)            # (N, V)
    target = target.reshape(-1)
    nll = -logp.gather(1, target[:, None]).squeeze(1)              # (N,)
    uniform = -logp.mean(dim=-1)                                   # (N,)  cross-entropy with 1/V
    loss = (1 - eps) * nll + eps * uniform
    if pad_id is not None:
        keep = target != pad_id
        return (loss * keep).sum() / keep.sum().clamp_min(1)
    return loss.mean()
