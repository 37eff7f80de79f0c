"""A small, explicit training loop with a tqdm progress bar.

The loop is deliberately plain: the course writes its own forward passes and losses, and this only
removes the bookkeeping (epochs, batches, device moves, gradient clipping, history).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from tqdm.auto import tqdm

__all__ = ["History", "fit", "batches", "count_parameters"]


@dataclass
class History:
    """Per-epoch records of a training run: ``loss`` (train), ``val`` (if evaluated), ``seconds``."""

    loss: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds))


def batches(*tensors: torch.Tensor, batch_size: int, shuffle: bool = True,
            generator: torch.Generator | None = None) -> Iterable[tuple[torch.Tensor, ...]]:
    """Yield aligned mini-batches (slices along axis 0) of ``tensors``; shuffled with ``generator``."""
    n = tensors[0].shape[0]
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield tuple(t[idx] for t in tensors)


def _to(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    return batch


def fit(model: torch.nn.Module,
        make_batches: Callable[[], Iterable],
        loss_fn: Callable[..., torch.Tensor],
        optimizer: torch.optim.Optimizer,
        epochs: int,
        *,
        evaluate: Callable[[], float] | None = None,
        clip: float | None = None,
        scheduler=None,
        device: torch.device | str | None = None,
        progress: bool = True,
        desc: str = "train") -> History:
    """Train ``model`` for ``epochs`` and return its :class:`History`.

    ``make_batches()`` returns a fresh iterable of batches for each epoch; ``loss_fn(model, batch)``
    returns a scalar loss for one batch (the batch already moved to ``device``). ``evaluate()``, if
    given, is called after each epoch under ``torch.no_grad()`` in eval mode and its value recorded in
    ``History.val``. ``clip`` clips the global gradient norm; ``scheduler.step()`` runs after every step.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    hist = History()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        model.train()
        start, total, count = time.perf_counter(), 0.0, 0
        for batch in make_batches():
            loss = loss_fn(model, _to(batch, device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item()
            count += 1
            hist.step_loss.append(loss.item())
        hist.seconds.append(time.perf_counter() - start)
        hist.loss.append(total / max(count, 1))
        postfix = {"loss": f"{hist.loss[-1]:.4f}"}
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                hist.val.append(float(evaluate()))
            postfix["val"] = f"{hist.val[-1]:.4f}"
        bar.set_postfix(postfix)
    return hist


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
