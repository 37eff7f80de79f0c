"""Shakespeare for language models: character ids or byte-level BPE ids, one training recipe, and the
validation loss in bits per character, so that models with different tokenizers compare.

Shared by notebook 11, ``python -m dlnlp.pretrain gpt`` (the shipped checkpoint) and
``python -m dlnlp.nanogpt_compare`` (the course's GPT beside nanoGPT's model).

- Text: :func:`dlnlp.data.shakespeare.lm_split`, the six tragedies with nanoGPT's split (the last 10% of
  the characters validate).
- Characters: one id per distinct character of the whole corpus, in sorted order (nanoGPT's
  ``shakespeare_char`` vocabulary rule).
- BPE: the byte-level BPE of notebook 09 (:mod:`dlnlp.reference.bpe`, GPT-2's pre-split pattern), trained on
  the *training* split only, with :data:`BPE_VOCAB` tokens; ``python -m dlnlp.pretrain bpe`` writes it to
  :data:`TOKENIZER_PATH`, beside the notebook.
- Bits per character: a model's summed negative log-likelihood (nats) over the validation tokens it scores,
  divided by the number of characters those tokens spell and by ln 2. A character model and a BPE model
  scored on the same validation text are then on one scale: both say how many bits it costs to encode the
  text, character by character.
- Recipe (nanoGPT's ``train.py``): random windows of the training ids, AdamW (weight decay on matrices and
  embeddings only, betas 0.9 / 0.99), linear warm-up then cosine decay of the learning rate to a tenth of
  its peak, gradients clipped at norm 1.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER_PATH = ROOT / "solutions" / "11_gpt" / "shakespeare_bpe.json"
BPE_VOCAB = 512

__all__ = ["TOKENIZER_PATH", "BPE_VOCAB", "LMData", "char_data", "bpe_data", "train_tokenizer", "load_tokenizer",
           "validation_nats", "bits_per_char", "nanogpt_lr", "TrainLog", "train_lm"]


@dataclass(frozen=True)
class LMData:
    """One tokenization of the Shakespeare split. ``valid_chars`` is how many characters the scored
    validation tokens (every token but the first) spell; ``decode`` turns ids back into text."""

    name: str
    train_ids: torch.Tensor
    valid_ids: torch.Tensor
    vocab_size: int
    valid_chars: int
    decode: Callable[[list[int]], str]
    encode: Callable[[str], list[int]]

    @property
    def chars_per_token(self) -> float:
        return self.valid_chars / (len(self.valid_ids) - 1)


def char_data() -> LMData:
    """Character ids of the split, the vocabulary being every character of the corpus (sorted)."""
    from .data.shakespeare import lm_split

    train, valid = lm_split()
    itos = sorted(set(train + valid))
    stoi = {c: i for i, c in enumerate(itos)}

    def encode(s: str) -> list[int]:
        return [stoi[c] for c in s]

    def decode(ids) -> str:
        return "".join(itos[int(i)] for i in ids)

    return LMData("char", torch.tensor(encode(train)), torch.tensor(encode(valid)), len(itos), len(valid) - 1,
                  decode, encode)


def train_tokenizer(vocab_size: int = BPE_VOCAB):
    """The byte-level BPE of :mod:`dlnlp.reference.bpe`, trained on the training split only."""
    from .data.shakespeare import lm_split
    from .reference.bpe import train_bpe

    return train_bpe(lm_split()[0], vocab_size)


def load_tokenizer(path: str | Path = TOKENIZER_PATH):
    """The shipped tokenizer (written by ``python -m dlnlp.pretrain bpe``)."""
    from .reference.bpe import BPETokenizer

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: write it with  python -m dlnlp.pretrain bpe")
    return BPETokenizer.load(path)


def bpe_data(tokenizer=None) -> LMData:
    """BPE ids of the split (``tokenizer``: the shipped one by default). The validation text is encoded as one
    string, and the characters it spells after its first token are counted from the decoded text."""
    from .data.shakespeare import lm_split

    tok = tokenizer if tokenizer is not None else load_tokenizer()
    train, valid = lm_split()
    valid_ids = tok.encode(valid)
    scored = len(valid) - len(tok.decode(valid_ids[:1]))
    vocab_size = len(tok.vocab)
    return LMData("bpe", torch.tensor(tok.encode(train)), torch.tensor(valid_ids), vocab_size, scored,
                  tok.decode, tok.encode)


@torch.no_grad()
def validation_nats(model: nn.Module, ids: torch.Tensor, block: int, batch: int = 32,
                    device: torch.device | str = "cpu") -> tuple[float, int]:
    """(summed nats, number of scored tokens) over the whole of ``ids``: consecutive windows of ``block``
    tokens (the last one shorter), every token after the first scored once. ``model(x, y)[1]`` must be the
    mean cross-entropy (the course's GPT and nanoGPT's both return it second)."""
    was_training = model.training
    model.eval()
    n = len(ids) - 1
    total, count = 0.0, 0
    full = n // block
    starts = torch.arange(full) * block
    idx = torch.arange(block)
    for i in range(0, full, batch):
        s = starts[i:i + batch, None] + idx
        x, y = ids[s].to(device), ids[s + 1].to(device)
        total += float(model(x, y)[1]) * y.numel()
        count += y.numel()
    if n % block:
        x, y = ids[full * block:n][None].to(device), ids[full * block + 1:][None].to(device)
        total += float(model(x, y)[1]) * y.numel()
        count += y.numel()
    model.train(was_training)
    return total, count


def bits_per_char(total_nats: float, n_chars: int) -> float:
    """Nats summed over a text's tokens -> bits per character of that text."""
    return total_nats / n_chars / math.log(2)


def nanogpt_lr(step: int, steps: int, lr: float, warmup: int) -> float:
    """nanoGPT's schedule for step ``step`` (0-based): linear warm-up over ``warmup`` steps, then cosine decay to
    ``lr / 10`` at the last step."""
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    ratio = min(1.0, (step - warmup) / max(1, steps - warmup))
    return lr / 10 + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - lr / 10)


@dataclass
class TrainLog:
    """What :func:`train_lm` measured: validation bits per character at each evaluated step (over the whole
    validation text), the mean training loss (nats per token) since the previous evaluation, and the wall
    time of the training steps alone (evaluations excluded)."""

    steps: list[int]
    train_nats: list[float]
    valid_bpc: list[float]
    train_seconds: float = 0.0


def train_lm(model: nn.Module, data: LMData, opt: torch.optim.Optimizer, steps: int, batch_size: int, block: int,
             lr: float, warmup: int = 100, seed: int = 0, eval_every: int = 0, device: torch.device | str = "cpu",
             progress: Callable | None = None) -> TrainLog:
    """Train ``model`` on random windows of ``data.train_ids`` with nanoGPT's recipe (``opt`` is an AdamW whose
    learning rate this sets every step); evaluate on the whole validation text every ``eval_every`` steps
    (0: at the end only). The window starts come from a generator seeded ``seed``: two models trained with
    the same ``data``, ``seed``, ``batch_size`` and ``block`` see the same batches."""
    g = torch.Generator().manual_seed(seed)
    log = TrainLog([], [], [])
    running, since, seconds = 0.0, 0, 0.0
    model.train()
    rng = range(steps) if progress is None else progress(range(steps))
    for step in rng:
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = nanogpt_lr(step, steps, lr, warmup)
        starts = torch.randint(0, len(data.train_ids) - block - 1, (batch_size,), generator=g)
        s = starts[:, None] + torch.arange(block)
        x, y = data.train_ids[s].to(device), data.train_ids[s + 1].to(device)
        loss = model(x, y)[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        since += 1
        seconds += time.perf_counter() - t0
        done = step + 1
        if (eval_every and done % eval_every == 0) or done == steps:
            nats, _ = validation_nats(model, data.valid_ids, block, device=device)
            log.steps.append(done)
            log.train_nats.append(running / since)
            log.valid_bpc.append(bits_per_char(nats, data.valid_chars))
            running, since = 0.0, 0
    log.train_seconds = seconds
    return log
