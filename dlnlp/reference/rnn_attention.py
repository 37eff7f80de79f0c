"""Reference RNN encoder-decoder with attention (notebook 06), and the plain seq2seq it is compared with.

What lives here:

- :func:`masked_attention`: softmax over the source axis with a padding mask applied *before* the
  softmax, and the context vectors it weighs;
- :class:`AdditiveScore` (Bahdanau) and :class:`LuongScore` (``"dot"`` / ``"general"``): score
  functions mapping decoder states (queries) and encoder states (keys) to ``(B, T, S)`` scores;
- :class:`Encoder` (bidirectional GRU over padded batches) and :class:`AttnDecoder` (a GRU decoder
  with Luong-style global attention; without a score module it is the plain seq2seq decoder);
- :class:`Seq2Seq`, :func:`build_model`, :func:`seq2seq_loss`, :func:`train_seq2seq`;
- decoding: :func:`greedy_decode` (batched, autoregressive) and :func:`beam_search` (one sentence,
  length-normalised scores), with :func:`beam_translate` gluing the model to the beam search;
- :func:`fit_translation`: the trained-model builder notebook 06 uses and later notebooks import to
  train the same model for their comparisons.

Shapes: ``B`` batch, ``S`` source length, ``T`` target length, ``H`` model width, ``V`` vocabulary.
Masks are bool with ``True`` on real tokens (as :func:`dlnlp.text.pad_batch` returns them).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "masked_attention", "AdditiveScore", "LuongScore", "make_score", "Encoder", "AttnDecoder",
    "Seq2Seq", "build_model", "seq2seq_loss", "train_seq2seq", "greedy_decode", "beam_search",
    "beam_translate", "Translator", "fit_translation", "romanize", "hangul_labels",
]


# ----------------------------------------------------------------------------------------------
# attention
# ----------------------------------------------------------------------------------------------
def masked_attention(scores: torch.Tensor, values: torch.Tensor,
                     mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention weights and context vectors.

    ``scores`` (B, T, S): one score per (query t, key s); ``values`` (B, S, D); ``mask`` (B, S) bool,
    ``True`` on real source tokens (``None``: all real). Masked scores are set to ``-inf`` *before*
    the softmax over the key axis ``S``, so padded positions get exactly 0 weight and the real ones
    still sum to 1. Every row needs at least one real key.

    Returns ``context`` (B, T, D) = ``weights @ values`` and ``weights`` (B, T, S).
    """
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)          # (B, T, S), rows sum to 1
    context = weights @ values                       # (B, T, S) @ (B, S, D) -> (B, T, D)
    return context, weights


class AdditiveScore(nn.Module):
    """Bahdanau's additive score ``e[t, s] = v^T tanh(W_q q_t + W_k k_s)``.

    ``W_q``: ``nn.Linear(query_dim, attn_dim, bias=False)``, ``W_k``: ``nn.Linear(key_dim, attn_dim,
    bias=False)``, ``v``: ``nn.Linear(attn_dim, 1, bias=False)``.
    ``forward(query (B, T, Dq), keys (B, S, Dk)) -> scores (B, T, S)``.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int):
        super().__init__()
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        q = self.W_q(query)[:, :, None, :]           # (B, T, 1, A)
        k = self.W_k(keys)[:, None, :, :]            # (B, 1, S, A)
        return self.v(torch.tanh(q + k)).squeeze(-1)  # (B, T, S, 1) -> (B, T, S)


class LuongScore(nn.Module):
    """Luong's multiplicative scores: ``"dot"``: ``q_t . k_s`` (needs ``query_dim == key_dim``);
    ``"general"``: ``q_t^T W k_s`` with ``W = nn.Linear(key_dim, query_dim, bias=False)`` (so the
    score is ``q_t . W(k_s)``). ``forward(query (B, T, Dq), keys (B, S, Dk)) -> scores (B, T, S)``.
    No ``1/sqrt(d)`` scaling: that is the Transformer's (notebook 07)."""

    def __init__(self, query_dim: int, key_dim: int, method: str = "general"):
        super().__init__()
        if method not in ("dot", "general"):
            raise ValueError(f"method must be 'dot' or 'general', got {method!r}")
        if method == "dot" and query_dim != key_dim:
            raise ValueError(f"dot scores need query_dim == key_dim, got {query_dim} and {key_dim}")
        self.method = method
        self.W = nn.Linear(key_dim, query_dim, bias=False) if method == "general" else None

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        if self.W is not None:
            keys = self.W(keys)                      # (B, S, Dq)
        return query @ keys.transpose(1, 2)          # (B, T, Dq) @ (B, Dq, S) -> (B, T, S)


def make_score(kind: str, query_dim: int, key_dim: int, attn_dim: int | None = None) -> nn.Module | None:
    """``"additive"`` / ``"dot"`` / ``"general"`` score module; ``"none"`` gives ``None`` (no attention)."""
    if kind == "none":
        return None
    if kind == "additive":
        return AdditiveScore(query_dim, key_dim, attn_dim or query_dim)
    return LuongScore(query_dim, key_dim, kind)


# ----------------------------------------------------------------------------------------------
# encoder and decoder
# ----------------------------------------------------------------------------------------------
class Encoder(nn.Module):
    """Embedding + bidirectional GRU with ``hidden // 2`` units per direction, over padded batches.

    ``forward(src (B, S) long, src_mask (B, S) bool) -> (outputs (B, S, H), state (1, B, H))``:
    ``outputs`` hold both directions' states at each position (zeros on padding); ``state`` is the
    decoder's initial state, ``tanh(W [h_fwd(last real token); h_bwd(first token)])``.
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden: int, pad_id: int = 0, dropout: float = 0.0):
        super().__init__()
        if hidden % 2:
            raise ValueError("hidden must be even (two directions of hidden // 2)")
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.rnn = nn.GRU(emb_dim, hidden // 2, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        S = src.shape[1]
        emb = self.dropout(self.embedding(src))                          # (B, S, E)
        lengths = src_mask.sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)                                        # h: (2, B, H/2)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=S)  # (B, S, H)
        state = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=-1)))[None]  # (1, B, H)
        return out, state


class AttnDecoder(nn.Module):
    """GRU decoder with Luong-style global attention (attention *after* the recurrent step).

    For each target step ``t`` (teacher-forced inputs ``tgt_in``, all steps at once)::

        x_t = Embedding(y_{t-1})                 # (B, T, E)
        h_t = GRU(x_t, h_{t-1})                  # (B, T, H)
        a_t = softmax_s(score(h_t, enc_out))     # (B, T, S), padding masked
        c_t = sum_s a_t[s] enc_out[s]            # (B, T, H)
        o_t = tanh(W_c [c_t; h_t])               # (B, T, H)
        logits_t = W_out o_t                     # (B, T, V)

    With ``score=None`` there is no attention: ``logits_t = W_out h_t`` (the plain seq2seq decoder,
    whose only view of the source is its initial state). ``attend`` is the masked-attention
    function (default :func:`masked_attention`).

    ``forward(tgt_in (B, T), hidden (1, B, H), enc_out (B, S, H), src_mask (B, S))
    -> (logits (B, T, V), hidden (1, B, H), weights (B, T, S) or None)``.
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden: int, score: nn.Module | None,
                 attend: Callable = masked_attention, pad_id: int = 0, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.rnn = nn.GRU(emb_dim, hidden, batch_first=True)
        self.score = score
        self.attend = attend
        self.W_c = nn.Linear(2 * hidden, hidden) if score is not None else None
        self.W_out = nn.Linear(hidden, vocab_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tgt_in, hidden, enc_out, src_mask):
        x = self.dropout(self.embedding(tgt_in))                         # (B, T, E)
        h, hidden = self.rnn(x, hidden)                                  # (B, T, H), (1, B, H)
        if self.score is None:
            return self.W_out(self.dropout(h)), hidden, None
        context, weights = self.attend(self.score(h, enc_out), enc_out, src_mask)  # (B,T,H), (B,T,S)
        o = torch.tanh(self.W_c(torch.cat([context, h], dim=-1)))        # (B, T, H)
        return self.W_out(self.dropout(o)), hidden, weights


class Seq2Seq(nn.Module):
    """Encoder + decoder. ``encode(src, src_mask) -> (enc_out, hidden)``; ``forward(src, src_mask,
    tgt_in) -> (logits (B, T, V), weights (B, T, S) or None)`` with teacher forcing."""

    def __init__(self, encoder: Encoder, decoder: AttnDecoder, sos_id: int, eos_id: int, pad_id: int = 0):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.sos_id, self.eos_id, self.pad_id = sos_id, eos_id, pad_id

    def encode(self, src, src_mask):
        return self.encoder(src, src_mask)

    def forward(self, src, src_mask, tgt_in):
        enc_out, hidden = self.encode(src, src_mask)
        logits, _, weights = self.decoder(tgt_in, hidden, enc_out, src_mask)
        return logits, weights


def build_model(src_vocab_size: int, tgt_vocab_size: int, kind: str = "additive", *, emb_dim: int = 64,
                hidden: int = 128, dropout: float = 0.1, sos_id: int = 2, eos_id: int = 3, pad_id: int = 0,
                score: nn.Module | Callable[[int, int], nn.Module] | None = None,
                attend: Callable = masked_attention, decoder_cls: type | None = None) -> Seq2Seq:
    """A :class:`Seq2Seq` whose decoder scores with ``kind`` (``"additive"``, ``"dot"``, ``"general"``,
    or ``"none"`` for the plain seq2seq). ``score`` overrides the score module built from ``kind``: a
    module, or a factory called as ``score(hidden, hidden)`` where ``kind``'s module would be built;
    ``decoder_cls`` (default :class:`AttnDecoder`) is called with :class:`AttnDecoder`'s arguments.
    Special ids default to :mod:`dlnlp.text`'s order (``<pad>`` 0, ``<sos>`` 2, ``<eos>`` 3)."""
    enc = Encoder(src_vocab_size, emb_dim, hidden, pad_id, dropout)
    if score is None:
        score = make_score(kind, hidden, hidden)
    elif not isinstance(score, nn.Module):
        score = score(hidden, hidden)
    dec = (decoder_cls or AttnDecoder)(tgt_vocab_size, emb_dim, hidden, score, attend, pad_id, dropout)
    return Seq2Seq(enc, dec, sos_id, eos_id, pad_id)


def seq2seq_loss(logits: torch.Tensor, tgt_out: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Cross-entropy summed over the target steps (padding ignored), averaged over the sentences.

    ``logits`` (B, T, V), ``tgt_out`` (B, T) long (the targets shifted left: step t predicts y_t)."""
    B = logits.shape[0]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                           ignore_index=pad_id, reduction="sum") / B


# ----------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------
def train_seq2seq(model: Seq2Seq, src: torch.Tensor, src_mask: torch.Tensor, tgt: torch.Tensor, *,
                  epochs: int = 10, batch_size: int = 64, lr: float = 3e-3, clip: float = 1.0,
                  seed: int = 0, progress: bool = False) -> list[float]:
    """Teacher-forced training with Adam. ``src`` (N, S), ``src_mask`` (N, S), ``tgt`` (N, T+1) holding
    ``<sos> y_1 ... y_n <eos> <pad>...``. Batches are sorted into buckets of similar source length
    (shuffled with ``seed``), which saves the padding's compute. Returns the mean loss per epoch.
    ``progress`` shows a bar over all the batches of all epochs (with tqdm's time estimate), removed
    when training ends."""
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    N = src.shape[0]
    losses = []
    chunk = batch_size * 50
    per_epoch = sum(-(-min(chunk, N - start) // batch_size) for start in range(0, N, chunk))
    bar = tqdm(total=epochs * per_epoch, disable=not progress, leave=False, desc="train", unit="batch")
    for epoch in range(epochs):
        model.train()
        # bucket by length: shuffle, sort chunks of 50 batches by length, then shuffle the batches
        order = torch.randperm(N, generator=g)
        lengths = src_mask.sum(1)
        batches = []
        for start in range(0, N, chunk):
            idx = order[start:start + chunk]
            idx = idx[torch.argsort(lengths[idx], stable=True)]
            batches += [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
        perm = torch.randperm(len(batches), generator=g).tolist()
        total, count = 0.0, 0
        for b in perm:
            idx = batches[b]
            m = src_mask[idx]
            S = int(m.sum(1).max())
            t = tgt[idx]
            T = int((t != model.pad_id).sum(1).max())
            s_b, m_b, t_b = src[idx, :S].to(device), m[:, :S].to(device), t[:, :T].to(device)
            logits, _ = model(s_b, m_b, t_b[:, :-1])
            loss = seq2seq_loss(logits, t_b[:, 1:], model.pad_id)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
            bar.update(1)
        losses.append(total / count)
        bar.set_postfix(epoch=f"{epoch + 1}/{epochs}", loss=f"{losses[-1]:.2f}")
    bar.close()
    return losses


# ----------------------------------------------------------------------------------------------
# decoding
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def greedy_decode(model: Seq2Seq, src: torch.Tensor, src_mask: torch.Tensor,
                  max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy (autoregressive) decoding, a batch at a time.

    Step ``t`` feeds the token chosen at step ``t-1`` (``<sos>`` at the first step) and the hidden
    state the previous step returned, and picks the most probable token (``argmax``; ties go to the
    lowest id). Once a sentence has produced ``<eos>``, its later tokens are ``pad_id`` and its later
    attention rows are 0. The loop stops after ``max_len`` steps, or earlier once every sentence has
    produced ``<eos>``.

    Returns ``ids`` (B, L) long (the ``<eos>`` included, ``<sos>`` not) and ``weights`` (B, L, S)
    (zeros if the model has no attention), with ``L <= max_len``.
    """
    B, S = src.shape
    enc_out, hidden = model.encode(src, src_mask)
    y = torch.full((B,), model.sos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    ids, attn = [], []
    for _ in range(max_len):
        logits, hidden, w = model.decoder(y[:, None], hidden, enc_out, src_mask)  # (B, 1, V)
        y = logits[:, -1].argmax(-1)                                             # (B,)
        y = y.masked_fill(done, model.pad_id)
        w = torch.zeros(B, 1, S, dtype=enc_out.dtype, device=enc_out.device) if w is None else w
        attn.append(w[:, 0].masked_fill(done[:, None], 0.0))
        ids.append(y)
        done = done | (y == model.eos_id)
        if bool(done.all()):
            break
    return torch.stack(ids, 1), torch.stack(attn, 1)


def beam_search(step_fn: Callable, state, sos_id: int, eos_id: int, beam_size: int, max_len: int,
                alpha: float = 1.0) -> tuple[list[int], float]:
    """Beam search for one sentence, with length-normalised final scores.

    ``step_fn(tokens (k,) long, state) -> (log_probs (k, V), new_state)`` advances ``k`` hypotheses
    by one step; ``state`` is a tensor whose first axis indexes the hypotheses, or a tuple of such
    tensors (the initial ``state`` has first axis 1). The search starts from the single hypothesis
    ``[sos_id]`` with score 0. At each of at most ``max_len`` steps:

    1. ``step_fn`` scores every extension of the ``k`` alive hypotheses: candidate score =
       hypothesis score + log-probability of the token (``k * V`` candidates);
    2. the ``beam_size`` best candidates (by that summed log-probability) are kept, all of them when
       there are fewer than ``beam_size``; a candidate scoring ``-inf`` (an impossible token) is never
       kept, so the beam shrinks rather than hold it. ``torch.topk`` leaves the order of equal scores
       unspecified, and so is which of several candidates tied at the cut is kept;
    3. kept candidates that end in ``eos_id`` are finished; the others stay alive, and their states
       are the new states of the hypotheses they extend (reordered to match);
    4. the search stops when no hypothesis is alive.

    Hypotheses still alive after ``max_len`` steps are finished as they are. A finished hypothesis
    of ``n`` generated tokens (``<eos>`` counted) and summed log-probability ``L`` has the final score
    ``L / n ** alpha`` (``alpha = 0``: no length normalisation). Returns the best finished
    hypothesis's tokens (without ``<sos>``, and without the final ``<eos>``) and its final score as a
    float; ties go to the hypothesis finished first. ``max_len = 0`` returns ``([], 0.0)`` without
    calling ``step_fn``; if every candidate is impossible before any hypothesis finished, the result
    is ``([], -inf)``.
    """
    if max_len == 0:
        return [], 0.0
    tokens = torch.tensor([sos_id])
    hyps: list[list[int]] = [[]]
    scores = torch.zeros(1, dtype=torch.double)
    finished: list[tuple[float, list[int]]] = []
    for _ in range(max_len):
        log_probs, state = step_fn(tokens, state)                        # (k, V)
        V = log_probs.shape[-1]
        cand = (scores[:, None] + log_probs.detach().cpu().double()).flatten()  # (k * V,)
        top = torch.topk(cand, min(beam_size, cand.numel()))
        # topk does not promise an order among ties: sort by (score desc, index asc)
        order = sorted(zip(top.values.tolist(), top.indices.tolist()), key=lambda p: (-p[0], p[1]))
        keep_origin, keep_tok, keep_score, new_hyps = [], [], [], []
        for score, flat in order:
            if score == -math.inf:                                       # impossible: never kept
                continue
            origin, tok = divmod(flat, V)
            seq = hyps[origin] + [tok]
            if tok == eos_id:
                finished.append((score / len(seq) ** alpha, seq[:-1]))
            else:
                keep_origin.append(origin)
                keep_tok.append(tok)
                keep_score.append(score)
                new_hyps.append(seq)
        hyps = new_hyps
        if not hyps:
            break
        state = _index_state(state, torch.tensor(keep_origin))
        tokens, scores = torch.tensor(keep_tok), torch.tensor(keep_score, dtype=torch.double)
    # hypotheses still alive after max_len steps finish as they are
    finished += [(s / len(seq) ** alpha, seq) for s, seq in zip(scores.tolist(), hyps)]
    if not finished:                                                     # every candidate impossible
        return [], -math.inf
    best = max(range(len(finished)), key=lambda i: (finished[i][0], -i))
    return finished[best][1], float(finished[best][0])


def _index_state(state, origin: torch.Tensor):
    if isinstance(state, torch.Tensor):
        return state.index_select(0, origin.to(state.device))
    return tuple(_index_state(s, origin) for s in state)


@torch.no_grad()
def beam_translate(model: Seq2Seq, src: torch.Tensor, beam_size: int = 4, max_len: int = 40,
                   alpha: float = 1.0, search: Callable = beam_search) -> list[int]:
    """Beam-search translation of one sentence ``src`` (S,) long (no padding). Returns target ids
    without ``<sos>``/``<eos>``. ``search`` is the beam-search function (default :func:`beam_search`)."""
    src = src[None]                                                       # (1, S)
    mask = torch.ones_like(src, dtype=torch.bool)
    enc_out, hidden = model.encode(src, mask)

    def step(tokens, h):                                                  # h: (k, H)
        k = tokens.shape[0]
        logits, h_new, _ = model.decoder(tokens[:, None].to(src.device), h[None].contiguous(),
                                         enc_out.expand(k, -1, -1), mask.expand(k, -1))
        return torch.log_softmax(logits[:, -1].float(), -1), h_new[0]

    ids, _ = search(step, hidden[0], model.sos_id, model.eos_id, beam_size, max_len, alpha)
    return ids


# ----------------------------------------------------------------------------------------------
# the trained-model builder
# ----------------------------------------------------------------------------------------------
@dataclass
class Translator:
    """A trained :class:`Seq2Seq` with its vocabularies; ``translate`` maps sentences to sentences."""

    model: Seq2Seq
    src_vocab: object
    tgt_vocab: object
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def encode_src(self, sentences: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        from dlnlp.data.translation import tokenize
        from dlnlp.text import pad_batch

        device = next(self.model.parameters()).device
        ids, mask = pad_batch([self.src_vocab.encode(tokenize(s)) for s in sentences], self.src_vocab.pad_id)
        return ids.to(device), mask.to(device)

    @torch.no_grad()
    def translate(self, sentences: Sequence[str], max_len: int = 40, batch_size: int = 256,
                  beam_size: int = 1, alpha: float = 1.0, decode: Callable | None = None,
                  search: Callable | None = None) -> list[str]:
        """Translate with greedy decoding (``beam_size=1``) or beam search. Outputs are tokens joined by
        :func:`dlnlp.data.translation.detokenize` (Korean particles attached to their nouns).
        ``decode`` / ``search`` replace :func:`greedy_decode` / :func:`beam_search`."""
        from dlnlp.data.translation import detokenize

        decode, search = decode or greedy_decode, search or beam_search
        self.model.eval()
        out: list[str] = []
        for start in range(0, len(sentences), batch_size):
            chunk = list(sentences[start:start + batch_size])
            src, mask = self.encode_src(chunk)
            if beam_size == 1:
                ids, _ = decode(self.model, src, mask, max_len)
                out += [detokenize(self.tgt_vocab.decode(row.tolist())) for row in ids]
            else:
                for row, m in zip(src, mask):
                    ids = beam_translate(self.model, row[m], beam_size, max_len, alpha, search)
                    out.append(detokenize(self.tgt_vocab.decode(ids)))
        return out

    @torch.no_grad()
    def attention(self, sentence: str, max_len: int = 40,
                  decode: Callable | None = None) -> tuple[list[str], list[str], torch.Tensor]:
        """Greedy translation of one sentence with its attention: (source tokens, output tokens with
        ``<eos>``, weights (len(output), len(source))). ``decode`` replaces :func:`greedy_decode`."""
        from dlnlp.data.translation import tokenize

        self.model.eval()
        src, mask = self.encode_src([sentence])
        ids, w = (decode or greedy_decode)(self.model, src, mask, max_len)
        out = [self.tgt_vocab.itos[i] for i in ids[0].tolist()]
        n = out.index("<eos>") + 1 if "<eos>" in out else len(out)
        return tokenize(sentence), out[:n], w[0, :n].cpu()


def fit_translation(pairs: Sequence[tuple[str, str]], kind: str = "additive", *, epochs: int = 8,
                    emb_dim: int = 64, hidden: int = 128, dropout: float = 0.1, batch_size: int = 128,
                    lr: float = 5e-3, seed: int = 0, device: torch.device | str | None = None,
                    progress: bool = False, score: nn.Module | Callable[[int, int], nn.Module] | None = None,
                    attend: Callable = masked_attention, decoder_cls: type | None = None) -> Translator:
    """Train a translation model on ``pairs`` and return it as a :class:`Translator`.

    Vocabularies come from ``pairs`` (:func:`dlnlp.seq2seq.build_vocabs`, tokens of
    :func:`dlnlp.data.translation.tokenize`), the model from :func:`build_model` with ``kind``
    (``"additive"``, ``"dot"``, ``"general"``, or ``"none"`` for the plain seq2seq), and training is
    teacher-forced (:func:`train_seq2seq`). The defaults are notebook 06's: with 6,000 training pairs of
    ``load_translation(seed=0)``, the additive model reaches about 99% exact match on the test split.
    ``score``, ``attend`` and ``decoder_cls`` swap in other implementations of those parts (notebook 06
    trains the learner's); ``score`` may be a module or a factory called as ``score(hidden, hidden)``
    (see :func:`build_model`). Seeded by ``seed``: the same
    arguments give the same model.
    """
    from dlnlp.seq2seq import build_vocabs, encode_pairs

    torch.manual_seed(seed)
    sv, tv = build_vocabs(pairs)
    src, mask, tgt = encode_pairs(pairs, sv, tv)
    device = torch.device(device) if device is not None else torch.device("cpu")
    model = build_model(len(sv), len(tv), kind, emb_dim=emb_dim, hidden=hidden, dropout=dropout,
                        sos_id=tv.sos_id, eos_id=tv.eos_id, pad_id=tv.pad_id, score=score,
                        attend=attend, decoder_cls=decoder_cls or AttnDecoder).to(device)
    start = time.perf_counter()
    losses = train_seq2seq(model, src, mask, tgt, epochs=epochs, batch_size=batch_size, lr=lr,
                           seed=seed, progress=progress)
    return Translator(model, sv, tv, losses, time.perf_counter() - start)


# ----------------------------------------------------------------------------------------------
# Korean labels in plots
# ----------------------------------------------------------------------------------------------
_RR_INITIAL = ["g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h"]
_RR_MEDIAL = ["a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we",
              "wi", "yu", "eu", "ui", "i"]
_RR_FINAL = ["", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t",
             "t", "ng", "t", "t", "k", "t", "p", "t"]
_HANGUL_FONTS = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic", "Apple SD Gothic Neo",
                 "AppleGothic", "UnDotum", "Baekmuk Gulim", "Noto Sans CJK JP", "Noto Sans CJK SC")
_FONT_FILES = ("/usr/share/fonts/**/*CJK*.tt[cf]", "/usr/share/fonts/**/Nanum*.ttf", "/usr/share/fonts/**/*KR*.[ot]tf",
               "/System/Library/Fonts/AppleSDGothicNeo.ttc", "/Library/Fonts/AppleGothic.ttf",
               "C:/Windows/Fonts/malgun.ttf")
_hangul_font: str | None | bool = False   # False: not looked for yet


def romanize(text: str) -> str:
    """Hangul syllables to Latin letters, syllable by syllable (Revised Romanization's letters, without
    its sound-change rules): ``"학생" -> "haksaeng"``, ``"선생님" -> "seonsaengnim"``. Other characters
    are kept."""
    out = []
    for ch in text:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            out.append(_RR_INITIAL[code // 588] + _RR_MEDIAL[(code % 588) // 28] + _RR_FINAL[code % 28])
        else:
            out.append(ch)
    return "".join(out)


def _find_hangul_font() -> str | None:
    """Name of a font with Hangul that matplotlib can use (registering system CJK fonts it has not
    indexed yet), or None."""
    import glob

    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in _HANGUL_FONTS:
        if name in names:
            return name
    for pattern in _FONT_FILES:
        try:
            paths = sorted(glob.glob(pattern, recursive=True))
        except OSError:  # a folder this process may not read (a sandbox): no font there
            continue
        for path in paths:
            try:
                font_manager.fontManager.addfont(path)
            except Exception:  # an unreadable font file: try the next one
                continue
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _HANGUL_FONTS if name in names), None)


def hangul_labels(tokens: Sequence[str]) -> list[str]:
    """Tick labels for Korean tokens. If a font with Hangul is installed, it is added to matplotlib's
    font fallback list and the tokens are returned unchanged; otherwise each token becomes
    romanized with :func:`romanize` (so labels never render as empty boxes)."""
    global _hangul_font
    if _hangul_font is False:
        import matplotlib.pyplot as plt

        _hangul_font = _find_hangul_font()
        if _hangul_font is not None:
            family = plt.rcParams["font.family"]
            family = [family] if isinstance(family, str) else list(family)
            if family == ["sans-serif"]:
                family = list(plt.rcParams["font.sans-serif"][:1])
            if _hangul_font not in family:
                plt.rcParams["font.family"] = family + [_hangul_font]
    if _hangul_font:
        return list(tokens)
    return [romanize(t) for t in tokens]
