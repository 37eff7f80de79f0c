"""Train the small checkpoints that notebooks 10 and 11 ship, with one documented command each.

``python -m dlnlp.pretrain bert``  masked-language-model and next-sentence-prediction pretraining of
the notebook-09 BERT on the unlabeled spam-task messages; writes ``solutions/10_bert/bert_spam.pt``.

``python -m dlnlp.pretrain gpt``   next-character training of the notebook-10 GPT on the Python
documentation corpus; writes ``solutions/11_gpt/gpt_pydocs.pt``.

Both are deterministic (seeded data order, initialisation and masking; one CPU thread by default) and
run on a CPU in minutes. Attention runs on PyTorch's fused kernel (:func:`dlnlp.fast.fused_attention`:
the notebooks' arithmetic, checked against it first), and AdamW decays the weight matrices and
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
import math
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn as nn

from .fast import fused_attention

ROOT = Path(__file__).resolve().parent.parent

BERT_DEFAULTS = dict(steps=800, batch_size=64, lr=1e-3, weight_decay=0.01, seed=0,
                     out=ROOT / "solutions" / "10_bert" / "bert_spam.pt")
GPT_DEFAULTS = dict(steps=1500, batch_size=8, lr=2e-3, weight_decay=0.1, seed=0,
                    out=ROOT / "solutions" / "11_gpt" / "gpt_pydocs.pt")


def bert_config(vocab_size: int):
    """The notebook-09 BERT's sizes (about 110 thousand parameters)."""
    from .reference.bert import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=128, max_position_embeddings=64)


def gpt_config(vocab_size: int):
    """The notebook-10 GPT's sizes (about 0.48 million parameters, 320 positions)."""
    from .reference.gpt import GPTConfig

    return GPTConfig(vocab_size=vocab_size, n_positions=320, n_embd=96, n_layer=4, n_head=4, dropout=0.0)


def adamw(model: nn.Module, lr: float, weight_decay: float, **kw) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices and embeddings (parameters of two or more dimensions) only:
    decaying a bias or a LayerNorm gain towards 0 only hurts (GPT-2, BERT and nanoGPT exclude them)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    other = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=lr, **kw)


def train_bert(steps: int, batch_size: int, lr: float, weight_decay: float, seed: int, out: Path,
               log_every: int = 100, compile: bool = False) -> dict:
    """BERT's pretraining: masked-LM loss plus next-sentence-prediction loss on pairs cut from the
    unlabeled messages (see :func:`dlnlp.reference.bert.nsp_pairs`)."""
    import torch.nn.functional as F

    from .data.spam import CLS, MASK, SEP, SPAM_SPECIALS, encode_messages, make_spam_splits, spam_vocab
    from .reference.bert import BertForPretraining, init_bert_weights, mask_tokens, mlm_loss, nsp_pairs

    torch.manual_seed(seed)
    vocab = spam_vocab()
    ids, mask, _ = encode_messages(make_spam_splits()["unlabeled"], vocab)
    model = init_bert_weights(BertForPretraining(bert_config(len(vocab))))
    opt = adamw(model, lr, weight_decay)
    g = torch.Generator().manual_seed(seed)
    log, start, run_mlm, run_nsp = [], time.perf_counter(), 0.0, 0.0
    logits_fn = torch.compile(model.pretraining_logits) if compile else model.pretraining_logits
    model.train()
    with fused_attention(model, verbose=False):
        for step in range(1, steps + 1):
            x, seg, m, is_next = nsp_pairs(ids, mask, batch_size, vocab.stoi[CLS], vocab.stoi[SEP], g)
            inputs, labels = mask_tokens(x, vocab.stoi[MASK], len(vocab), len(SPAM_SPECIALS), 0.15, g)
            mlm_logits, nsp_logits = logits_fn(inputs, seg, m)
            l_mlm, l_nsp = mlm_loss(mlm_logits, labels), F.cross_entropy(nsp_logits, is_next)
            loss = l_mlm + l_nsp
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run_mlm += l_mlm.item()
            run_nsp += l_nsp.item()
            if step % log_every == 0:
                log.append({"step": step, "mlm_loss": run_mlm / log_every, "nsp_loss": run_nsp / log_every})
                print(f"step {step:5d}  mlm {run_mlm / log_every:.4f}  nsp {run_nsp / log_every:.4f}  "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
                run_mlm = run_nsp = 0.0
    return {"config": asdict(model.bert.cfg), "state_dict": model.state_dict(), "steps": steps,
            "seconds": time.perf_counter() - start, "log": log}


def train_gpt(steps: int, batch_size: int, lr: float, weight_decay: float, seed: int, out: Path,
              log_every: int = 250, compile: bool = False) -> dict:
    """Next-character training of the notebook-10 GPT (its attention already runs on the fused kernel)."""
    from .data.corpus import CharVocab, load_corpus, train_valid_split
    from .reference.gpt import GPT, init_gpt_weights, next_token_pairs

    torch.manual_seed(seed)
    text = load_corpus("python-docs")
    train_text, valid_text = train_valid_split(text, 0.1)
    vocab = CharVocab(text)
    train_ids, valid_ids = vocab.encode(train_text), vocab.encode(valid_text)
    cfg = gpt_config(len(vocab))
    T = cfg.n_positions
    model = init_gpt_weights(GPT(cfg))
    opt = adamw(model, lr, weight_decay, betas=(0.9, 0.99))
    forward = torch.compile(model) if compile else model
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    g = torch.Generator().manual_seed(seed)
    vg_starts = torch.randint(0, len(valid_ids) - T - 1, (32,), generator=torch.Generator().manual_seed(1))
    xv, yv = next_token_pairs(valid_ids, vg_starts, T)

    def valid_loss() -> float:
        model.eval()
        with torch.no_grad():
            total = sum(model(xv[i:i + 8], yv[i:i + 8])[1].item() for i in range(0, len(xv), 8))
        model.train()
        return total / math.ceil(len(xv) / 8)

    log, start, running = [], time.perf_counter(), 0.0
    model.train()
    for step in range(1, steps + 1):
        starts = torch.randint(0, len(train_ids) - T - 1, (batch_size,), generator=g)
        x, y = next_token_pairs(train_ids, starts, T)
        loss = forward(x, y)[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running += loss.item()
        if step % log_every == 0 or step == steps:
            n = log_every if step % log_every == 0 else step % log_every
            v = valid_loss()
            log.append({"step": step, "train_loss": running / n, "valid_loss": v})
            print(f"step {step:5d}  train {running / n:.4f}  valid {v:.4f}  {time.perf_counter() - start:.0f} s",
                  flush=True)
            running = 0.0
    return {"config": asdict(cfg), "state_dict": model.state_dict(), "steps": steps,
            "seconds": time.perf_counter() - start, "log": log, "vocab": vocab.itos}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlnlp.pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=["bert", "gpt"])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (opt-in)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    kw = dict(BERT_DEFAULTS if args.model == "bert" else GPT_DEFAULTS)
    if args.steps is not None:
        kw["steps"] = args.steps
    if args.out is not None:
        kw["out"] = args.out
    kw["compile"] = args.compile
    cpu0 = time.process_time()
    ckpt = (train_bert if args.model == "bert" else train_gpt)(**kw)
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
