"""Draw the Transformer figures of notebook 08 (run from the repository root, no network needed):

    python docs/img/make_transformer_figures.py

writes ``docs/img/transformer_architecture.png`` (the encoder-decoder model, after Figure 1 of Vaswani et
al., 2017, drawn for this course) and ``docs/img/pre_post_norm.png`` (one sublayer in the post-norm and the
pre-norm arrangement). The notebooks link to the PNG files, which GitHub and JupyterLab both show.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

HERE = Path(__file__).resolve().parent
COLORS = {"attn": "#f6d7a7", "masked": "#f4c2c2", "cross": "#f6d7a7", "ff": "#cde4f7", "norm": "#f3f3c4",
          "embed": "#f7d9e8", "linear": "#d8cff0", "softmax": "#cfeccf", "stack": "#f2f2f2"}


def box(ax, x, y, w, h, text, color, fontsize=9, bold=False):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                linewidth=1.0, edgecolor="#333333", facecolor=color))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, weight="bold" if bold else "normal")


def arrow(ax, start, end, style="-|>", color="#333333", connection="arc3", lw=1.1):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=10, color=color, lw=lw,
                                 connectionstyle=connection, shrinkA=0, shrinkB=0))


def residual(ax, x, y_from, y_to, side, color="#555555"):
    # a skip connection drawn beside a column of boxes, from y_from up to y_to (into an "add & norm" box)
    x_out = x + side
    ax.plot([x, x_out, x_out], [y_from, y_from, y_to], color=color, lw=1.0)
    arrow(ax, (x_out, y_to), (x + 1.0 * (1 if side > 0 else -1), y_to), color=color)


def sublayer(ax, x, y, name, color, side):
    # one sublayer and its add & norm; returns the y of the top of the add & norm box
    box(ax, x, y, 2.0, 0.5, name, color, fontsize=8)
    box(ax, x, y + 0.75, 2.0, 0.36, "add & norm", COLORS["norm"], fontsize=8)
    arrow(ax, (x, y + 0.25), (x, y + 0.57))
    residual(ax, x, y - 0.45, y + 0.75, side)
    return y + 0.93


def architecture(path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.2, 7.4))
    ax.set_xlim(0, 9)
    ax.set_ylim(-0.9, 9.4)
    ax.axis("off")
    ex, dx = 2.4, 6.4                                   # centres of the encoder and decoder columns

    # encoder
    box(ax, ex, 0.3, 2.2, 0.5, "input embedding\n× √d_model", COLORS["embed"], fontsize=8)
    ax.text(ex, -0.25, "source ids (English)", ha="center", fontsize=8)
    ax.text(ex - 1.55, 1.15, "⊕", fontsize=16, ha="center", va="center")
    ax.text(ex - 1.6, 0.75, "positional\nencoding", fontsize=7, ha="center", va="top")
    arrow(ax, (ex, 0.55), (ex, 1.55))
    ax.plot([ex - 1.35, ex], [1.15, 1.15], color="#333333", lw=1.0)
    ax.add_patch(FancyBboxPatch((ex - 1.35, 1.65), 2.7, 3.3, boxstyle="round,pad=0.05,rounding_size=0.15",
                                linewidth=1.0, edgecolor="#777777", facecolor=COLORS["stack"], zorder=0))
    ax.text(ex - 1.6, 3.3, "N ×", fontsize=11, ha="right", va="center")
    top = sublayer(ax, ex, 2.25, "multi-head\nself-attention", COLORS["attn"], -1.15)
    arrow(ax, (ex, 1.55), (ex, 2.0))
    arrow(ax, (ex, top), (ex, top + 0.35))
    top = sublayer(ax, ex, top + 0.6, "feed-forward", COLORS["ff"], -1.15)
    memory_y = top + 0.45
    ax.plot([ex, ex], [top, memory_y], color="#333333", lw=1.1)
    ax.text(ex, memory_y + 0.15, "memory (encoder output)", ha="center", fontsize=8, style="italic")

    # decoder
    box(ax, dx, 0.3, 2.2, 0.5, "output embedding\n× √d_model", COLORS["embed"], fontsize=8)
    ax.text(dx, -0.25, "target ids, shifted right (<sos> y₁ … )", ha="center", fontsize=8)
    ax.text(dx + 1.55, 1.15, "⊕", fontsize=16, ha="center", va="center")
    ax.text(dx + 1.6, 0.75, "positional\nencoding", fontsize=7, ha="center", va="top")
    ax.plot([dx, dx + 1.35], [1.15, 1.15], color="#333333", lw=1.0)
    arrow(ax, (dx, 0.55), (dx, 1.55))
    ax.add_patch(FancyBboxPatch((dx - 1.35, 1.65), 2.7, 5.1, boxstyle="round,pad=0.05,rounding_size=0.15",
                                linewidth=1.0, edgecolor="#777777", facecolor=COLORS["stack"], zorder=0))
    ax.text(dx + 1.6, 4.2, "× N", fontsize=11, ha="left", va="center")
    top = sublayer(ax, dx, 2.25, "masked multi-head\nself-attention", COLORS["masked"], 1.15)
    arrow(ax, (dx, 1.55), (dx, 2.0))
    arrow(ax, (dx, top), (dx, top + 0.35))
    cross_y = top + 0.6
    top = sublayer(ax, dx, cross_y, "encoder-decoder\nattention", COLORS["cross"], 1.15)
    arrow(ax, (dx, top), (dx, top + 0.35))
    top = sublayer(ax, dx, top + 0.6, "feed-forward", COLORS["ff"], 1.15)
    arrow(ax, (dx, top), (dx, top + 0.55))
    box(ax, dx, top + 0.8, 1.8, 0.45, "linear", COLORS["linear"])
    arrow(ax, (dx, top + 1.02), (dx, top + 1.33))
    box(ax, dx, top + 1.55, 1.8, 0.45, "softmax", COLORS["softmax"])
    arrow(ax, (dx, top + 1.78), (dx, top + 2.05))
    ax.text(dx, top + 2.2, "next-token probabilities (Korean)", ha="center", fontsize=8)

    # memory -> keys and values of the encoder-decoder attention
    mid = (ex + dx) / 2
    ax.plot([ex, mid, mid], [memory_y, memory_y, cross_y - 0.1], color="#b34700", lw=1.4)
    arrow(ax, (mid, cross_y - 0.1), (dx - 1.0, cross_y - 0.1), color="#b34700", lw=1.4)
    ax.text(mid + 0.1, cross_y + 0.2, "keys,\nvalues", fontsize=8, color="#b34700", ha="left")

    ax.text(ex, 9.1, "Encoder", fontsize=12, ha="center", weight="bold")
    ax.text(dx, 9.1, "Decoder", fontsize=12, ha="center", weight="bold")
    ax.text(4.4, -0.75, "post-norm, as in the paper: each sublayer is followed by add & norm, LN(x + sublayer(x))",
            fontsize=7, ha="center", color="#555555")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def norms(path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(7.4, 4.2))
    for ax, title in zip(axes, ("post-norm (the paper)", "pre-norm (GPT-2 onwards)")):
        ax.set_xlim(0, 4)
        ax.set_ylim(-0.3, 5.4)
        ax.axis("off")
        ax.set_title(title, fontsize=11)
    x = 1.9
    # post-norm: x -> sublayer -> dropout -> + x -> LayerNorm
    ax = axes[0]
    ax.text(x, -0.15, "x", ha="center", fontsize=11)
    arrow(ax, (x, 0.05), (x, 0.9))
    box(ax, x, 1.2, 1.9, 0.55, "sublayer\n(attention or FFN)", COLORS["attn"], fontsize=8)
    arrow(ax, (x, 1.48), (x, 1.85))
    box(ax, x, 2.05, 1.3, 0.36, "dropout", "white", fontsize=8)
    arrow(ax, (x, 2.23), (x, 2.62))
    ax.text(x, 2.8, "⊕", fontsize=18, ha="center", va="center")
    ax.plot([x, x + 1.3, x + 1.3], [0.5, 0.5, 2.8], color="#555555", lw=1.0)
    arrow(ax, (x + 1.3, 2.8), (x + 0.2, 2.8), color="#555555")
    arrow(ax, (x, 3.0), (x, 3.45))
    box(ax, x, 3.7, 1.6, 0.45, "LayerNorm", COLORS["norm"], fontsize=9)
    arrow(ax, (x, 3.93), (x, 4.5))
    ax.text(x, 4.65, "LN(x + sublayer(x))", ha="center", fontsize=10)
    ax.text(x, 5.15, "the norm sits on the main path:\nevery gradient passes through it", ha="center", fontsize=8,
            color="#555555", va="center")
    # pre-norm: x -> LayerNorm -> sublayer -> dropout -> + x
    ax = axes[1]
    ax.text(x, -0.15, "x", ha="center", fontsize=11)
    arrow(ax, (x, 0.05), (x, 0.75))
    box(ax, x, 0.98, 1.6, 0.45, "LayerNorm", COLORS["norm"], fontsize=9)
    arrow(ax, (x, 1.21), (x, 1.6))
    box(ax, x, 1.9, 1.9, 0.55, "sublayer\n(attention or FFN)", COLORS["attn"], fontsize=8)
    arrow(ax, (x, 2.18), (x, 2.5))
    box(ax, x, 2.7, 1.3, 0.36, "dropout", "white", fontsize=8)
    arrow(ax, (x, 2.88), (x, 3.3))
    ax.text(x, 3.5, "⊕", fontsize=18, ha="center", va="center")
    ax.plot([x, x + 1.3, x + 1.3], [0.4, 0.4, 3.5], color="#555555", lw=1.0)
    arrow(ax, (x + 1.3, 3.5), (x + 0.2, 3.5), color="#555555")
    arrow(ax, (x, 3.7), (x, 4.5))
    ax.text(x, 4.65, "x + sublayer(LN(x))", ha="center", fontsize=10)
    ax.text(x, 5.15, "an identity path from output to input;\none final LayerNorm after the stack", ha="center",
            fontsize=8, color="#555555", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    architecture(HERE / "transformer_architecture.png")
    norms(HERE / "pre_post_norm.png")
    for name in ("transformer_architecture.png", "pre_post_norm.png"):
        print(HERE / name, (HERE / name).stat().st_size // 1024, "KiB")
