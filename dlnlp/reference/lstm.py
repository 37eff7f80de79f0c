"""Reference LSTM and GRU cells in PyTorch's conventions, and the forget-gate bias initialisation.

Notebook 04 has learners write these; its tests use them as fixtures (e.g. the multi-step LSTM is tested
with this cell, so that a wrong cell from an earlier exercise does not fail a later one).

PyTorch stacks the gates' weights in one matrix per input: ``weight_ih`` is ``(4H, I)`` for the LSTM with
the gates in the order **i, f, g, o** (input, forget, candidate, output) and ``(3H, I)`` for the GRU in the
order **r, z, n** (reset, update, candidate); ``weight_hh`` is ``(4H, H)`` / ``(3H, H)`` in the same order.

LSTM (``nn.LSTMCell``)::

    i = sigmoid(x W_ii^T + b_ii + h W_hi^T + b_hi)      f, o likewise
    g = tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)
    c' = f * c + i * g
    h' = o * tanh(c')

GRU (``nn.GRUCell``; the reset gate multiplies the hidden projection *including its bias*)::

    r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)      z likewise
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
    h' = (1 - z) * n + z * h
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["lstm_cell", "gru_cell", "init_forget_bias"]


def _affine(x: torch.Tensor, h: torch.Tensor, W_ih: torch.Tensor, W_hh: torch.Tensor,
            b_ih: torch.Tensor | None, b_hh: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    gx = x @ W_ih.T
    gh = h @ W_hh.T
    if b_ih is not None:
        gx = gx + b_ih
    if b_hh is not None:
        gh = gh + b_hh
    return gx, gh


def lstm_cell(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, W_ih: torch.Tensor,
              W_hh: torch.Tensor, b_ih: torch.Tensor | None = None,
              b_hh: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, exactly as ``nn.LSTMCell``.

    Shapes: ``x`` (B, I), ``h`` and ``c`` (B, H), ``W_ih`` (4H, I), ``W_hh`` (4H, H), ``b_ih`` and
    ``b_hh`` (4H,) or ``None``. Returns ``(h', c')``, each (B, H). Differentiable in every argument.
    """
    gx, gh = _affine(x, h, W_ih, W_hh, b_ih, b_hh)
    i, f, g, o = (gx + gh).chunk(4, dim=-1)                    # each (B, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    return h_new, c_new


def gru_cell(x: torch.Tensor, h: torch.Tensor, W_ih: torch.Tensor, W_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None) -> torch.Tensor:
    """One GRU step, exactly as ``nn.GRUCell``.

    Shapes: ``x`` (B, I), ``h`` (B, H), ``W_ih`` (3H, I), ``W_hh`` (3H, H), ``b_ih`` and ``b_hh``
    (3H,) or ``None``. Returns ``h'`` (B, H). Differentiable in every argument.
    """
    gx, gh = _affine(x, h, W_ih, W_hh, b_ih, b_hh)
    xr, xz, xn = gx.chunk(3, dim=-1)
    hr, hz, hn = gh.chunk(3, dim=-1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


@torch.no_grad()
def init_forget_bias(lstm: nn.Module, value: float = 1.0) -> nn.Module:
    """Set every LSTM layer's forget-gate bias so that ``b_if + b_hf == value``; return ``lstm``.

    Works on ``nn.LSTM``, ``nn.LSTMCell`` and any module with PyTorch's parameter names
    (``bias_ih*`` / ``bias_hh*``, gate order i, f, g, o). ``b_if`` is set to ``value`` and ``b_hf`` to 0;
    the other gates' biases are untouched.
    """
    for name, p in lstm.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf.startswith(("bias_ih", "bias_hh")):
            H = p.shape[0] // 4
            p[H:2 * H] = value if leaf.startswith("bias_ih") else 0.0
    return lstm
