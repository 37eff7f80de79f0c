"""Reference recurrent networks: a plain tanh RNN forward (a test fixture for hand-written BPTT) and
the character-level language model of notebook 03, reusable by later notebooks as a baseline.

- :func:`tanh_rnn_states`: ``h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b)``, differentiable, any dtype.
- :class:`CharRNN`: embedding -> ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` -> linear read-out.
- :func:`stream_nll`: validation loss of a character LM in nats per character.
- :func:`sample_text`: sample characters from a character LM with a temperature.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["tanh_rnn_states", "CharRNN", "stream_nll", "sample_text"]


def tanh_rnn_states(x: torch.Tensor, h0: torch.Tensor, W_xh: torch.Tensor, W_hh: torch.Tensor,
                    b: torch.Tensor) -> torch.Tensor:
    """Run ``h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b)`` for ``t = 1..T`` and return every ``h_t``.

    Shapes: ``x`` (B, T, D), ``h0`` (B, H), ``W_xh`` (H, D), ``W_hh`` (H, H), ``b`` (H,).
    Returns ``(B, T, H)`` (``h_1 .. h_T``; ``h0`` is not included). Differentiable in every input.
    """
    h, states = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh.T + b)   # (B, H)
        states.append(h)
    return torch.stack(states, dim=1)


_CELLS: dict[str, type[nn.Module]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class CharRNN(nn.Module):
    """A character-level language model: ``logits_t = W_out h_t + b_out`` with ``h_t`` from a
    recurrent layer over character embeddings.

    ``forward(x, state=None)``: ``x`` LongTensor (B, T) of ids; returns ``logits`` (B, T, V) for the
    *next* character at each position and the final recurrent state (pass it back in to continue a
    stream). ``cell`` is ``"rnn"`` (tanh Elman RNN), ``"gru"`` or ``"lstm"``.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 1, cell: str = "rnn"):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}; got {cell!r}")
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = _CELLS[cell](embed_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        h, state = self.rnn(self.embed(x), state)   # (B, T, H)
        return self.out(h), state                    # (B, T, V)


@torch.no_grad()
def stream_nll(model: Callable, ids: torch.Tensor, num_streams: int = 16,
               chunk: int | None = None) -> float:
    """Mean negative log-likelihood (nats per character) of ``ids`` (1-D LongTensor) under a model that
    maps (B, T) ids to ``(logits (B, T, V), state)``.

    The text is cut into ``num_streams`` contiguous streams that are read in parallel (inputs
    ``ids[:-1]``, targets ``ids[1:]``; the last ``< num_streams`` characters are dropped); ``chunk``
    limits how many steps run at once, carrying the state across chunks. Every target is predicted
    from all the text before it in its stream.
    """
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    n = (ids.shape[0] - 1) // num_streams
    x = ids[: num_streams * n].view(num_streams, n)
    y = ids[1: num_streams * n + 1].view(num_streams, n)
    chunk = chunk or n
    total, state = 0.0, None
    for s in range(0, n, chunk):
        logits, state = model(x[:, s:s + chunk], state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, s:s + chunk].reshape(-1),
                                 reduction="sum").item()
    if was_training and hasattr(model, "train"):
        model.train()
    return total / y.numel()


@torch.no_grad()
def sample_text(model: Callable, encode: Callable[[str], torch.Tensor], decode: Callable,
                prompt: str, length: int, temperature: float = 1.0,
                generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> str:
    """Continue ``prompt`` by ``length`` characters sampled from ``softmax(logits / temperature)``.

    ``encode`` maps a string to a 1-D LongTensor of ids, ``decode`` ids back to a string (e.g. a
    :class:`dlnlp.data.corpus.CharVocab`'s methods). ``generator`` (a CPU generator) makes it repeatable.
    Returns the prompt followed by the sampled characters.
    """
    if temperature <= 0 or not math.isfinite(temperature):
        raise ValueError(f"temperature must be positive; got {temperature}")
    if hasattr(model, "eval"):
        model.eval()
    x = encode(prompt).to(device)[None, :]            # (1, T)
    logits, state = model(x, None)
    out = []
    for _ in range(length):
        probs = F.softmax(logits[0, -1].double().cpu() / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=generator)   # (1,)
        out.append(int(nxt))
        logits, state = model(nxt.to(device)[None, :], state)
    return prompt + decode(out)
