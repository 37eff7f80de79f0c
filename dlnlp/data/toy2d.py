"""Two-dimensional toy classification sets, generated (no files, no downloads).

``make_spirals`` draws the classic interleaved spirals (as in CS231n's and Karpathy's demos):
points of class k lie on an arm of angle offset ``2*pi*k/classes`` with Gaussian angle noise. A linear
model cannot separate them, so a classifier that does has learned a non-linear boundary. Generated
by this course's code; public domain.
"""
from __future__ import annotations

import math

import torch


def make_spirals(n_per_class: int = 100, classes: int = 3, noise: float = 0.2, turns: float = 1.0,
                 seed: int = 0, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``X`` (n_per_class * classes, 2) and labels ``y`` (same length,) long, seeded."""
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for k in range(classes):
        r = torch.linspace(0.05, 1.0, n_per_class, dtype=dtype)
        theta = (torch.linspace(0, 2 * math.pi * turns, n_per_class, dtype=dtype) + 2 * math.pi * k / classes
                 + noise * torch.randn(n_per_class, generator=g, dtype=dtype))
        xs.append(torch.stack([r * torch.sin(theta), r * torch.cos(theta)], dim=1))
        ys.append(torch.full((n_per_class,), k, dtype=torch.long))
    return torch.cat(xs), torch.cat(ys)
