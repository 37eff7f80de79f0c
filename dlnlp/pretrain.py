"""Train the tokenizer and the small checkpoint that notebook 11 ships, with one documented command each.

``python -m dlnlp.pretrain bpe``   trains the byte-level BPE tokenizer (512 tokens) on the training split of
Shakespeare's tragedies (:mod:`dlnlp.lm`); writes ``solutions/11_gpt/shakespeare_bpe.json``.

``python -m dlnlp.pretrain gpt``   next-token training of the notebook-11 GPT on those BPE tokens, with
nanoGPT's recipe (:func:`dlnlp.lm.train_lm`); writes ``solutions/11_gpt/gpt_shakespeare.pt``. Its ``log``
holds the validation loss in bits per character over the whole validation text.

Both are deterministic (seeded data order and initialisation; one CPU thread by default) and
run on a CPU in minutes. The GPT's attention runs on PyTorch's fused kernel, and AdamW decays the weight matrices and
embeddings but not the biases and LayerNorm parameters. ``--steps`` and ``--out`` override the defaults;
``--threads`` sets PyTorch's thread count (results can differ in the last bits across thread counts);
``--compile`` runs the model through ``torch.compile`` (faster steps after a compilation of about a
minute, needs a C++ compiler; the numbers can differ in the last bits). A checkpoint is a ``dict``
with ``config`` (the model's sizes), ``state_dict``, ``steps``, ``seconds`` (training wall time),
``cpu_seconds`` (CPU time of the whole command),
``command`` and ``log`` (training / validation losses); load it with ``torch.load(path, weights_only=True)``.

Re-run the notebook afterwards (``python -m autograder execute ...``) so its stated numbers match.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent

GPT_DEFAULTS = dict(steps=600, batch_size=8, lr=2e-3, weight_decay=0.1, seed=0,
                    out=ROOT / "solutions" / "11_gpt" / "gpt_shakespeare.pt")


def gpt_config(vocab_size: int):
    """The notebook-11 checkpoint's sizes: 4 blocks, 4 heads, width 96, context 256 tokens (about 0.52 million
    parameters with the 512 BPE tokens)."""
    from .reference.gpt import GPTConfig

    return GPTConfig(vocab_size=vocab_size, n_positions=256, n_embd=96, n_layer=4, n_head=4, dropout=0.0)


def adamw(model: nn.Module, lr: float, weight_decay: float, **kw) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices and embeddings (parameters of two or more dimensions) only:
    decaying a bias or a LayerNorm gain towards 0 only hurts (GPT-2, BERT and nanoGPT exclude them)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    other = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=lr, **kw)


def new_gpt(vocab_size: int, lr: float, weight_decay: float, seed: int = 0):
    """The checkpoint's model with GPT-2's initialisation (seeded) and its AdamW (betas 0.9 / 0.99)."""
    from .reference.gpt import GPT, init_gpt_weights

    torch.manual_seed(seed)
    model = init_gpt_weights(GPT(gpt_config(vocab_size)))
    return model, adamw(model, lr, weight_decay, betas=(0.9, 0.99))


def train_gpt(steps: int, batch_size: int, lr: float, weight_decay: float, seed: int, out: Path,
              compile: bool = False) -> dict:
    """Next-token training of the notebook-11 GPT on the shipped BPE's ids of Shakespeare (nanoGPT's recipe:
    :func:`dlnlp.lm.train_lm`). With dropout 0 the reference attention already runs on the fused kernel."""
    from .lm import bpe_data, load_tokenizer, train_lm

    tok = load_tokenizer()
    data = bpe_data(tok)
    model, opt = new_gpt(data.vocab_size, lr, weight_decay, seed)
    forward = torch.compile(model) if compile else model
    start = time.perf_counter()

    def progress(steps_range):
        for step in steps_range:
            yield step
            if (step + 1) % 100 == 0:
                print(f"step {step + 1:5d}  {time.perf_counter() - start:.0f} s", flush=True)

    log = train_lm(forward, data, opt, steps, batch_size, model.cfg.n_positions, lr, warmup=100, seed=seed,
                   eval_every=max(1, steps // 4), progress=progress)
    for s_, tr, v in zip(log.steps, log.train_nats, log.valid_bpc):
        print(f"step {s_:5d}  train {tr:.4f} nats/token  valid {v:.4f} bits/char", flush=True)
    return {"config": asdict(model.cfg), "state_dict": model.state_dict(), "steps": steps,
            "seconds": log.train_seconds, "bpe_merges": [list(m) for m in tok.merges],
            "recipe": {"steps": steps, "batch_size": batch_size, "lr": lr, "warmup": 100, "weight_decay": weight_decay,
                       "seed": seed},
            "chars_per_token": data.chars_per_token,
            "log": [{"step": a, "train_loss": b, "valid_bpc": c}
                    for a, b, c in zip(log.steps, log.train_nats, log.valid_bpc)]}


def write_tokenizer() -> int:
    from .lm import TOKENIZER_PATH, train_tokenizer

    start = time.perf_counter()
    tok = train_tokenizer()
    tok.save(TOKENIZER_PATH)
    print(f"wrote {TOKENIZER_PATH} ({len(tok.merges)} merges, {len(tok.vocab)} tokens) "
          f"after {time.perf_counter() - start:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlnlp.pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=["bpe", "gpt"])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (opt-in)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.model == "bpe":
        return write_tokenizer()
    kw = dict(GPT_DEFAULTS)
    if args.steps is not None:
        kw["steps"] = args.steps
    if args.out is not None:
        kw["out"] = args.out
    kw["compile"] = args.compile
    cpu0 = time.process_time()
    ckpt = train_gpt(**kw)
    ckpt["cpu_seconds"] = time.process_time() - cpu0
    ckpt["command"] = ("python -m dlnlp.pretrain " + args.model + (f" --steps {args.steps}" if args.steps else "")
                       + (" --compile" if args.compile else ""))
    out = Path(kw["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) after {ckpt['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
