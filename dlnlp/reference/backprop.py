"""Hand-written forward and backward passes of an MLP (the reference for notebook 01).

Conventions follow ``torch.nn.Linear``: ``W`` has shape (out, in) and ``y = x @ W.T + b``.
"""
from __future__ import annotations

import torch

Tensor = torch.Tensor


def linear_forward(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
    """(N, D_in), (D_out, D_in), (D_out,) -> (N, D_out)."""
    return x @ W.T + b


def linear_backward(x: Tensor, W: Tensor, b: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of a loss w.r.t. ``x``, ``W``, ``b`` given ``grad_out`` = dL/dy (N, D_out)."""
    return grad_out @ W, grad_out.T @ x, grad_out.sum(dim=0)


def softmax_cross_entropy(logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy of ``logits`` (N, C) against labels ``y`` (N,), and its gradient (N, C)."""
    N = logits.shape[0]
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs[torch.arange(N), y].mean()
    grad = log_probs.exp()
    grad[torch.arange(N), y] -= 1
    return loss, grad / N


def init_mlp(sizes: list[int], generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float64) -> list[tuple[Tensor, Tensor]]:
    """He-initialised layers ``[(W1, b1), (W2, b2), ...]`` for layer widths ``sizes``."""
    params = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        W = torch.randn(d_out, d_in, generator=generator, dtype=dtype) * (2.0 / d_in) ** 0.5
        params.append((W, torch.zeros(d_out, dtype=dtype)))
    return params


def mlp_loss_and_grads(params, X: Tensor, y: Tensor) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    """Loss of the ReLU MLP ``params`` on (X, y) and the gradient of every (W, b), same structure."""
    acts, h = [X], X
    for i, (W, b) in enumerate(params):
        z = linear_forward(h, W, b)
        h = z.clamp_min(0) if i < len(params) - 1 else z
        acts.append(h)
    loss, grad = softmax_cross_entropy(h, y)
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        W, b = params[i]
        if i < len(params) - 1:
            grad = grad * (acts[i + 1] > 0)
        grad, dW, db = linear_backward(acts[i], W, b, grad)
        grads[i] = (dW, db)
    return loss, grads
