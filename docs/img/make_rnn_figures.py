"""Draw notebook 03's figure of an unrolled RNN and of the gradients flowing back through time.

Run from the repository root:  python docs/img/make_rnn_figures.py
It writes docs/img/rnn_unrolled.png (small, for JupyterLab and GitHub alike).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).with_name("rnn_unrolled.png")
FORWARD, BACKWARD, CELL = "#222222", "#c0392b", "#dbe9f6"


def _box(ax, x, y, text, w=0.9, h=0.62, color=CELL):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04",
                                fc=color, ec="#34495e", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=11)


def _arrow(ax, start, end, color=FORWARD, style="-|>", ls="-", rad=0.0, lw=1.4):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=color, lw=lw,
                                 linestyle=ls, connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2))


def draw(path: Path = OUT) -> Path:
    fig, ax = plt.subplots(figsize=(9.6, 3.7), dpi=100)
    ax.set_xlim(-0.6, 11.2)
    ax.set_ylim(-0.35, 3.55)
    ax.axis("off")

    # Left: the rolled network, one cell with a loop on its state.
    _box(ax, 0.3, 1.6, "cell\n$W_{hh}$")
    ax.text(0.3, 0.35, "$x_t$", ha="center", va="center", fontsize=11)
    ax.text(0.3, 2.85, "$h_t$", ha="center", va="center", fontsize=11)
    _arrow(ax, (0.3, 0.55), (0.3, 1.27))
    _arrow(ax, (0.3, 1.93), (0.3, 2.65))
    _arrow(ax, (0.76, 1.78), (0.76, 1.42), rad=-1.9)              # the state fed back into the cell
    ax.text(1.55, 1.6, "=", ha="center", va="center", fontsize=20)
    ax.text(0.3, -0.2, "rolled", ha="center", va="center", fontsize=9, color="#555555")

    # Right: the same network unrolled over T = 4 steps, one copy of the cell per step.
    xs = [3.35, 5.4, 7.45, 9.5]
    _box(ax, 2.2, 1.6, "$h_0$", w=0.5, color="#ffffff")
    for t, x in enumerate(xs, start=1):
        _box(ax, x, 1.6, f"cell\n$h_{t}$")
        ax.text(x, 0.35, f"$x_{t}$", ha="center", va="center", fontsize=11)
        _arrow(ax, (x, 0.55), (x, 1.27))
        ax.text(x, 2.95, rf"$\ell_{t}$", ha="center", va="center", fontsize=11)
        _arrow(ax, (x, 1.93), (x, 2.75))
        # gradient arriving directly from this step's loss
        _arrow(ax, (x + 0.28, 2.75), (x + 0.28, 1.93), color=BACKWARD, ls="--")
        if t == 1:
            ax.text(x + 0.33, 2.35, r"$\bar h_1$", color=BACKWARD, fontsize=9, va="center")
    ax.text(xs[-1] + 0.33, 2.35, r"$\bar h_4$", color=BACKWARD, fontsize=9, va="center")
    starts = [2.2] + xs[:-1]
    for a, b in zip(starts, xs):
        left = a + (0.27 if a == starts[0] else 0.47)
        _arrow(ax, (left, 1.72), (b - 0.47, 1.72))                                    # forward: h_{t-1} -> h_t
        _arrow(ax, (b - 0.47, 1.42), (left, 1.42), color=BACKWARD, ls="--")           # backward through W_hh
    ax.text((xs[1] + xs[2]) / 2, 1.2, r"$\varepsilon_{t+1} W_{hh}$", color=BACKWARD, ha="center", fontsize=9)
    ax.text((xs[0] + xs[1]) / 2, 1.92, "same $W_{hh}$", ha="center", fontsize=8.5, color="#333333")
    ax.text(6.3, -0.2, "unrolled over T = 4 steps: one network whose layers share the weights",
            ha="center", va="center", fontsize=9, color="#555555")

    # legend
    _arrow(ax, (2.0, 3.4), (2.7, 3.4))
    ax.text(2.8, 3.4, "forward: $h_t = \\tanh(x_t W_{xh}^\\top + h_{t-1} W_{hh}^\\top + b)$", va="center", fontsize=9)
    _arrow(ax, (7.0, 3.4), (6.3, 3.4), color=BACKWARD, ls="--")
    ax.text(7.1, 3.4, r"backward (BPTT): $\delta_t = \bar h_t + \varepsilon_{t+1} W_{hh}$", va="center",
            fontsize=9, color=BACKWARD)
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print("wrote", draw())
