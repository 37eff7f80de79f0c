"""Plotting helpers: loss curves, attention/alignment heatmaps, 2-D decision boundaries, bar tables.

Each returns the matplotlib ``Axes`` it drew on so a notebook can add to it.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["plot_losses", "heatmap", "plot_decision_boundary", "plot_lines"]


def _axes(ax, figsize=(5, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_losses(curves: Mapping[str, Sequence[float]], *, ax=None, title: str = "loss",
                xlabel: str = "epoch", ylabel: str = "loss", logy: bool = False):
    """Plot one or more named curves, e.g. ``{"train": h.loss, "val": h.val}``."""
    ax = _axes(ax)
    for name, ys in curves.items():
        ax.plot(range(1, len(ys) + 1), list(ys), label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_lines(x: Sequence, series: Mapping[str, Sequence[float]], *, ax=None, title: str = "",
               xlabel: str = "", ylabel: str = "", logy: bool = False, marker: str = "o"):
    """Plot several named series against the same ``x`` (e.g. BLEU by source length, time by length)."""
    ax = _axes(ax)
    for name, ys in series.items():
        ax.plot(list(x), list(ys), marker=marker, label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def heatmap(matrix, *, xlabels: Sequence[str] | None = None, ylabels: Sequence[str] | None = None,
            ax=None, title: str = "", xlabel: str = "", ylabel: str = "", cmap: str = "viridis",
            annotate: bool = False, colorbar: bool = True):
    """Draw a 2-D matrix (rows = ``ylabels``, columns = ``xlabels``), e.g. attention weights
    with queries as rows and keys as columns."""
    m = matrix.detach().cpu().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix)
    ax = _axes(ax, figsize=(max(3, 0.45 * m.shape[1] + 1.5), max(2.5, 0.45 * m.shape[0] + 1)))
    im = ax.imshow(m, cmap=cmap, aspect="auto")
    if xlabels is not None:
        ax.set_xticks(range(len(xlabels)), labels=list(xlabels), rotation=60, ha="right")
    if ylabels is not None:
        ax.set_yticks(range(len(ylabels)), labels=list(ylabels))
    if annotate:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] < m.max() / 2 else "black")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def plot_decision_boundary(predict: Callable[[torch.Tensor], torch.Tensor], X, y, *, ax=None,
                           steps: int = 200, title: str = "decision boundary"):
    """Shade the class ``predict`` gives each point of a grid over the 2-D data ``X`` (N, 2), and
    scatter the points coloured by label ``y`` (N,). ``predict`` maps (M, 2) float tensors to (M,) labels."""
    X = torch.as_tensor(X, dtype=torch.float64).cpu()
    y = torch.as_tensor(y).cpu()
    ax = _axes(ax, figsize=(4.5, 4))
    pad = 0.5
    x0, x1 = X[:, 0].min().item() - pad, X[:, 0].max().item() + pad
    y0, y1 = X[:, 1].min().item() - pad, X[:, 1].max().item() + pad
    gx, gy = torch.meshgrid(torch.linspace(x0, x1, steps, dtype=torch.float64),
                            torch.linspace(y0, y1, steps, dtype=torch.float64), indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], dim=1)
    with torch.no_grad():
        z = torch.as_tensor(predict(grid)).reshape(steps, steps).cpu().numpy()
    ax.contourf(gx.numpy(), gy.numpy(), z, alpha=0.3, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=y.numpy(), s=12, cmap="coolwarm", edgecolors="k", linewidths=0.3)
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    return ax
