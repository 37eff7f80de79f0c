"""How fast the course's GPT trains and generates, beside nanoGPT's model and Hugging Face's GPT-2.

``python -m dlnlp.speed --nanogpt DIR`` runs the three models on the same data, sizes, initial weights,
batches and optimiser, interleaved in rounds (every round runs each model in turn, in a rotating order,
so a machine that slows down for a while slows all of them), and writes the best round of each model, the
median over rounds of the ratios within a round, and the peak memory to
``benchmarks/gpt_speed.md`` and ``benchmarks/gpt_speed.json``. It is a measurement, not a test: it
asserts only that the three models compute the same losses and tokens.

- ``DIR`` is a checkout of https://github.com/karpathy/nanoGPT (MIT License), used as it is: its
  ``model.py`` is imported from there for this command only; the course neither ships nor downloads it.
  Without ``--nanogpt`` (or ``NANOGPT_DIR``) the nanoGPT column is left out.
- The sizes: 4 layers, 4 heads, width 96, context 320, batch 8, on the characters of the Python
  documentation (:mod:`dlnlp.data.corpus`), the earlier character-level checkpoint's. nanoGPT's MLP is given
  GPT-2's tanh GELU, as the course's and Hugging Face's have, so that the three compute one function. (For
  the validation loss of the models beside nanoGPT's on Shakespeare, see :mod:`dlnlp.nanogpt_compare`.)
- Training: tokens per second of whole steps (forward, loss on every position, backward, AdamW with weight
  decay on matrices only), and the peak memory of a step, each model in a fresh process.
- Generation: greedy tokens per second for batch 1 and 8, with the KV cache (the course's
  :func:`dlnlp.reference.gpt.generate`, Hugging Face's ``generate``) and without it (the same two, and
  nanoGPT's ``generate``, which has no cache).

``--compile`` runs every model through ``torch.compile`` first (all of them, so the comparison stays
fair); ``--rounds``, ``--steps`` and ``--threads`` set the effort.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
SIZES = dict(n_positions=320, n_embd=96, n_layer=4, n_head=4)
BATCH, LR, WEIGHT_DECAY = 8, 2e-3, 0.1


# ------------------------------------------------------------------------------------ the three models

def load_nanogpt(path: str | os.PathLike):
    """nanoGPT's ``model`` module, imported from ``path/model.py``."""
    file = Path(path).expanduser() / "model.py"
    if not file.is_file():
        raise SystemExit(f"--nanogpt: no model.py in {Path(path).expanduser()} "
                         "(expected a checkout of https://github.com/karpathy/nanoGPT)")
    spec = importlib.util.spec_from_file_location("nanogpt_model", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus_batches(steps: int, batch: int, T: int, seed: int = 0):
    """The vocabulary size and ``steps`` (x, y) batches of next-character windows of the corpus."""
    from .data.corpus import CharVocab, load_corpus, train_valid_split
    from .reference.gpt import next_token_pairs

    text = load_corpus("python-docs")
    vocab = CharVocab(text)
    ids = vocab.encode(train_valid_split(text, 0.1)[0])
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - T - 1, (batch,), generator=g)
        out.append(next_token_pairs(ids, starts, T))
    return len(vocab), out


def build(kind: str, vocab_size: int, nanogpt_dir: str | None, sizes: dict = SIZES) -> nn.Module:
    """One of ``course``, ``nanogpt``, ``hf``, all holding the course model's initial weights (seed 0).
    Each is called as ``model(x) -> logits (B, T, V)``."""
    from .reference.gpt import GPT, GPTConfig, gpt2_key_map, hf_gpt2_config, init_gpt_weights

    cfg = GPTConfig(vocab_size=vocab_size, dropout=0.0, **sizes)
    torch.manual_seed(0)
    course = init_gpt_weights(GPT(cfg))
    sd = course.state_dict()
    if kind == "course":
        return _Logits(course, lambda m, x: m(x)[0])
    if kind == "nanogpt":
        nano = load_nanogpt(nanogpt_dir)
        ncfg = nano.GPTConfig(block_size=cfg.n_positions, vocab_size=vocab_size, n_layer=cfg.n_layer,
                              n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=0.0, bias=True)
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()):          # it prints its parameter count
            m = nano.GPT(ncfg)
        m.load_state_dict({"transformer." + k: v for k, v in sd.items()} | {"lm_head.weight": sd["wte.weight"]})
        for block in m.transformer.h:
            block.mlp.gelu = nn.GELU(approximate="tanh")             # GPT-2's GELU, as the other two use
        return _Logits(m, lambda mm, x: mm(x, x)[0])                 # with targets it returns every position
    if kind == "hf":
        from transformers import GPT2LMHeadModel

        hf = GPT2LMHeadModel(hf_gpt2_config(cfg, attn_implementation="sdpa"))
        hsd = hf.state_dict()
        with torch.no_grad():
            for ours, (theirs, transposed) in gpt2_key_map(cfg.n_layer).items():
                hsd[theirs].copy_(sd[ours].t() if transposed else sd[ours])
        return _Logits(hf, lambda m, x: m(input_ids=x, use_cache=False).logits)
    raise ValueError(kind)


class _Logits(nn.Module):
    def __init__(self, model: nn.Module, call):
        super().__init__()
        self.model, self.call = model, call

    def forward(self, x):
        return self.call(self.model, x)


def optimizer(model: nn.Module) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                              {"params": other, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.99))


def train_step(model, opt, x, y) -> float:
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


# ------------------------------------------------------------------------------------ measurements

def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise OSError(field)


def memory_probe(kind: str, nanogpt_dir: str | None, steps: int, threads: int, compile_: bool) -> dict:
    """Run in a fresh process (Linux): the peak resident memory of training, above the memory in use
    before the model is built (the high-water mark is reset there through /proc/self/clear_refs)."""
    torch.set_num_threads(threads)
    V, batches = corpus_batches(steps, BATCH, SIZES["n_positions"])
    import gc
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")              # reset VmHWM to the current resident size
    base = _status_mib("VmRSS")
    model = build(kind, V, nanogpt_dir)
    if compile_:
        model = torch.compile(model)
    opt = optimizer(model)
    losses = [train_step(model, opt, x, y) for x, y in batches]
    return {"kind": kind, "peak_mib": _status_mib("VmHWM") - base, "losses": losses}


def measure_memory(kinds, nanogpt_dir, rounds: int, threads: int, compile_: bool) -> dict:
    out: dict[str, list[float]] = {k: [] for k in kinds}
    losses = {}
    for r in range(rounds):
        for kind in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
            cmd = [sys.executable, "-m", "dlnlp.speed", "--_memory-probe", kind, "--threads", str(threads)]
            if nanogpt_dir:
                cmd += ["--nanogpt", str(nanogpt_dir)]
            if compile_:
                cmd.append("--compile")
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
            probe = json.loads(res.stdout.strip().splitlines()[-1])
            out[kind].append(probe["peak_mib"])
            losses[kind] = probe["losses"]
    return {"peak_mib": {k: statistics.median(v) for k, v in out.items()}, "losses": losses}


def measure_training(kinds, nanogpt_dir, rounds: int, steps: int, compile_: bool) -> dict:
    V, batches = corpus_batches(steps * rounds + 2, BATCH, SIZES["n_positions"])
    models = {k: build(k, V, nanogpt_dir) for k in kinds}
    if compile_:
        models = {k: torch.compile(m) for k, m in models.items()}
    opts = {k: optimizer(m) for k, m in models.items()}
    losses = {k: [train_step(models[k], opts[k], *batches[i]) for i in range(2)] for k in kinds}   # warm-up
    seconds: dict[str, list[float]] = {k: [] for k in kinds}
    for r in range(rounds):
        chunk = batches[2 + r * steps: 2 + (r + 1) * steps]
        for kind in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
            t0 = time.perf_counter()
            losses[kind] += [train_step(models[kind], opts[kind], x, y) for x, y in chunk]
            seconds[kind].append(time.perf_counter() - t0)
    tokens = steps * BATCH * SIZES["n_positions"]
    per_round = {k: [tokens / s for s in v] for k, v in seconds.items()}
    base = "nanogpt" if "nanogpt" in kinds else kinds[0]
    return {"tokens_per_s": {k: max(v) for k, v in per_round.items()},
            "median_round_ratio": {k: statistics.median(a / b for a, b in zip(per_round[k], per_round[base]))
                                   for k in kinds},
            "round_tokens_per_s": per_round,
            "max_loss_gap": {k: max(abs(a - b) for a, b in zip(losses[k], losses[kinds[0]])) for k in kinds},
            "steps": len(losses[kinds[0]])}


def measure_generation(kinds, nanogpt_dir, rounds: int, new_tokens: int, batches: tuple[int, ...],
                       compile_: bool) -> dict:
    from .reference.gpt import generate

    V, data = corpus_batches(1, max(batches), SIZES["n_positions"], seed=1)
    prompt_all = data[0][0][:, :16]
    models = {k: build(k, V, nanogpt_dir).eval() for k in kinds}
    course = models["course"].model
    if compile_:
        course = torch.compile(course)

    def runner(kind, cache, prompt):
        if kind == "course":
            return lambda: generate(course, prompt, new_tokens, temperature=0, use_cache=cache)
        if kind == "hf":
            hf = models["hf"].model
            return lambda: hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                                       min_new_tokens=new_tokens, do_sample=False, use_cache=cache,
                                       pad_token_id=0)
        nano = models["nanogpt"].model.eval()

        def greedy_nano():                     # nanoGPT's generate samples; greedy is top_k=1
            return nano.generate(prompt, new_tokens, temperature=1.0, top_k=1)
        return greedy_nano

    cases = [(k, cache, b) for b in batches for cache in (True, False) for k in kinds
             if not (k == "nanogpt" and cache)]
    seconds: dict[tuple, list[float]] = {c: [] for c in cases}
    tokens: dict[tuple, torch.Tensor] = {}
    with torch.no_grad():
        for r in range(rounds):
            for c in cases[r % len(cases):] + cases[:r % len(cases)]:
                kind, cache, b = c
                fn = runner(kind, cache, prompt_all[:b])
                t0 = time.perf_counter()
                out = fn()
                seconds[c].append(time.perf_counter() - t0)
                tokens[c] = out
    agree = {f"{k} {'cache' if cache else 'no cache'} batch {b}":
             bool(torch.equal(tokens[(k, cache, b)], tokens[("course", True, b)])) for k, cache, b in cases}
    return {"tokens_per_s": {f"{k}|{'cache' if cache else 'no cache'}|{b}":
                             max(b * new_tokens / s for s in seconds[(k, cache, b)])
                             for k, cache, b in cases},
            "same_tokens_as_course_cache": agree, "new_tokens": new_tokens}


# ------------------------------------------------------------------------------------ report

NAMES = {"course": "course GPT", "nanogpt": "nanoGPT", "hf": "HF GPT-2"}


def write_report(res: dict, out_dir: Path) -> Path:
    kinds = res["kinds"]
    tr, mem, gen = res["training"], res["memory"], res["generation"]
    lines = ["# The course's GPT beside nanoGPT and Hugging Face GPT-2", "",
             f"Measured {res['date']} on {res['machine']}; torch {res['torch']}, {res['threads']} thread(s)"
             f"{', torch.compile' if res['compile'] else ''}. Command: `{res['command']}`.", "",
             "Sizes of the shipped checkpoint (4 layers, 4 heads, width 96, context 320, batch 8, "
             f"vocabulary {res['vocab_size']}), the same initial weights and batches for all; nanoGPT's MLP "
             "uses the tanh GELU of the other two. Each figure is the best of the interleaved rounds (the round "
             "least disturbed by other work on the machine); the training table also gives the median over rounds "
             "of the ratio measured within each round.", "",
             "## Training", "",
             "| model | tokens/s | vs nanoGPT | median ratio per round | peak memory of a step (MiB) | vs nanoGPT "
             "| max loss gap vs course |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for k in kinds:
        rel_t = tr["tokens_per_s"][k] / tr["tokens_per_s"]["nanogpt"] if "nanogpt" in kinds else None
        rel_m = mem["peak_mib"][k] / mem["peak_mib"]["nanogpt"] if "nanogpt" in kinds else None
        med = tr.get("median_round_ratio", {}).get(k) if "nanogpt" in kinds else None
        lines.append(f"| {NAMES[k]} | {tr['tokens_per_s'][k]:.0f} | {_x(rel_t)} | {_x(med)} "
                     f"| {mem['peak_mib'][k]:.0f} | "
                     f"{_x(rel_m)} | {tr['max_loss_gap'][k]:.1e} |")
    lines += ["", f"{tr['steps']} steps per model; tokens/s of each round: " + "; ".join(
        f"{NAMES[k]} " + ", ".join(f"{v:.0f}" for v in tr["round_tokens_per_s"][k]) for k in kinds), "",
        "## Greedy generation", "",
        f"{gen['new_tokens']} new tokens after a 16-token prompt; tokens/s (all rows of the batch counted).", "",
        "| model | KV cache | batch | tokens/s | vs nanoGPT (no cache) | vs HF, same cache setting | same tokens |",
        "|---|---|---:|---:|---:|---:|---|"]
    tps = gen["tokens_per_s"]
    for key, v in tps.items():
        k, cache, b = key.split("|")
        nano = tps.get(f"nanogpt|no cache|{b}")
        hf = tps.get(f"hf|{cache}|{b}")
        same = gen["same_tokens_as_course_cache"][f"{k} {cache} batch {b}"]
        lines.append(f"| {NAMES[k]} | {'yes' if cache == 'cache' else 'no'} | {b} | {v:.0f} | "
                     f"{_x(v / nano if nano else None)} | {_x(v / hf if hf else None)} | {'yes' if same else 'NO'} |")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpt_speed.json").write_text(json.dumps(res, indent=1))
    path = out_dir / "gpt_speed.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _x(r: float | None) -> str:
    return "" if r is None else f"{r:.2f}x"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dlnlp.speed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nanogpt", default=os.environ.get("NANOGPT_DIR"),
                   help="a checkout of github.com/karpathy/nanoGPT (default: $NANOGPT_DIR; none: left out)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--steps", type=int, default=3, help="training steps per model per round")
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--compile", action="store_true", help="torch.compile every model first")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    p.add_argument("--_memory-probe", dest="memory_probe", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe, args.nanogpt, 3, args.threads, args.compile)))
        return 0
    kinds = ["course"] + (["nanogpt"] if args.nanogpt else []) + ["hf"]
    if args.nanogpt:
        load_nanogpt(args.nanogpt)
    V, _ = corpus_batches(1, 1, 8)
    t0 = time.perf_counter()
    res = {"kinds": kinds, "vocab_size": V, "threads": args.threads, "compile": args.compile,
           "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
           "machine": f"{_cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "command": "python -m dlnlp.speed" + (" --nanogpt DIR" if args.nanogpt else "")
           + (f" --rounds {args.rounds}" if args.rounds != 9 else "") + (" --compile" if args.compile else "")}
    print("training ...", flush=True)
    res["training"] = measure_training(kinds, args.nanogpt, args.rounds, args.steps, args.compile)
    print("memory ...", flush=True)
    res["memory"] = measure_memory(kinds, args.nanogpt, max(1, min(3, args.rounds)), args.threads, args.compile)
    print("generation ...", flush=True)
    res["generation"] = measure_generation(kinds, args.nanogpt, args.rounds, args.new_tokens, (1, 8), args.compile)
    res["seconds"] = time.perf_counter() - t0
    path = write_report(res, args.out)
    print(path.read_text())
    print(f"wrote {path} in {res['seconds']:.0f} s")
    bad = [k for k, v in res["generation"]["same_tokens_as_course_cache"].items() if not v]
    gaps = {k: v for k, v in res["training"]["max_loss_gap"].items() if v > 1e-4}
    if bad or gaps:
        print("the models disagree:", bad, gaps)
        return 1
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    raise SystemExit(main())
