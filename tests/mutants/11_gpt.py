"""Plausible wrong implementations of notebook 11's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1 next-token pairs
    Mutant("ex1_pairs", "targets not shifted: y is the input itself",
           {"return ids[idx], ids[idx + 1]": "return ids[idx], ids[idx]"}),
    Mutant("ex1_pairs", "targets shifted the wrong way (the previous token)",
           {"return ids[idx], ids[idx + 1]": "return ids[idx + 1], ids[idx]"}),
    # ex2 bigram baseline
    Mutant("ex2_bigram", "counts normalised over the previous token (columns) instead of the next one",
           {"counts.sum(dim=1, keepdim=True)": "counts.sum(dim=0, keepdim=True)"}),
    Mutant("ex2_bigram", "pairs looked up backwards: p(previous | next)",
           {"-logp[va[:-1], va[1:]].mean()": "-logp[va[1:], va[:-1]].mean()"}),
    Mutant("ex2_bigram", "smoothing forgotten in the denominator",
           {"logp = counts.log() - counts.sum(dim=1, keepdim=True).log()":
            "logp = counts.log() - (counts - alpha).sum(dim=1, keepdim=True).clamp_min(1).log()"}),
    # ex3 attention
    Mutant("ex3_attention", "causal mask missing",
           {"scores = scores.masked_fill(~allowed, float(\"-inf\"))": "pass"}),
    Mutant("ex3_attention", "causal mask ignores the cached positions (misaligned with the cache)",
           {".tril(diagonal=P)": ".tril(diagonal=0)"}),
    Mutant("ex3_attention", "mask lets each position see the next one too",
           {".tril(diagonal=P)": ".tril(diagonal=P + 1)"}),
    Mutant("ex3_attention", "cached keys appended after the new ones",
           {"k = torch.cat([past_kv[0], k], dim=2)": "k = torch.cat([k, past_kv[0]], dim=2)",
            "v = torch.cat([past_kv[1], v], dim=2)": "v = torch.cat([v, past_kv[1]], dim=2)"}),
    Mutant("ex3_attention", "scores not scaled by 1/sqrt(d_head)",
           {"/ math.sqrt(hd)": ""}),
    # ex4 block and model
    Mutant("ex4_gpt", "positions restart at 0 with a cache (misaligned positions)",
           {"pos = torch.arange(P, P + T, device=idx.device)": "pos = torch.arange(T, device=idx.device)"}),
    Mutant("ex4_gpt", "post-norm block (BERT style) instead of GPT-2's pre-norm",
           {"a, present = self.attn(self.ln_1(x), past_kv)\n        x = x + a\n        x = x + self.mlp(self.ln_2(x))":
            "a, present = self.attn(x, past_kv)\n        x = self.ln_1(x + a)\n        x = self.ln_2(x + self.mlp(x))"}),
    Mutant("ex4_gpt", "final LayerNorm forgotten",
           {"logits = self.ln_f(x) @ self.wte.weight.T": "logits = x @ self.wte.weight.T"}),
    Mutant("ex4_gpt", "every layer gets the first layer's cache",
           {"past_kv[i])": "past_kv[0])"}),
    # ex5 weight loading
    Mutant("ex5_load", "the square attn.c_proj matrix is not transposed",
           {'transposed = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")':
            'transposed = ("attn.c_attn.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")'}),
    Mutant("ex5_load", "no Conv1D weight transposed",
           {"                w = w.t()": "                w = w.reshape(w.shape[::-1])"}),
    # ex6 sampling
    Mutant("ex6_sampling", "top-p keeps the wrong tail (the least probable tokens)",
           {"torch.sort(out, dim=-1, descending=True)": "torch.sort(out, dim=-1, descending=False)"}),
    Mutant("ex6_sampling", "top-p drops the token that reaches p",
           {"drop_sorted = before >= top_p": "drop_sorted = probs.cumsum(dim=-1) >= top_p"}),
    Mutant("ex6_sampling", "top-k keeps one token too many",
           {"torch.topk(out, top_k, dim=-1).values[..., -1:]": "torch.topk(out, min(top_k + 1, out.shape[-1]), dim=-1).values[..., -1:]"}),
    Mutant("ex6_sampling", "temperature multiplies the logits instead of dividing them",
           {"filter_logits(logits / temperature, top_k, top_p)": "filter_logits(logits * temperature, top_k, top_p)"}),
    # ex7 generation
    Mutant("ex7_generate", "cache that recomputes: the whole sequence every step, cache ignored",
           {"logits, _, past = model(x, past_kv=past)": "logits, _, past = model(idx)"}),
    Mutant("ex7_generate", "misaligned cache: the whole sequence is fed again together with the cache",
           {"        x = nxt[:, None]": "        x = idx"}),
    Mutant("ex7_generate", "cache never updated after the prompt",
           {"logits, _, past = model(x, past_kv=past)": "logits, _, new = model(x, past_kv=past)\n            past = past if past is not None else new"}),
    Mutant("ex7_generate", "next token read from the first position's logits",
           {"nxt = sampler(logits[:, -1]": "nxt = sampler(logits[:, 0]"}),
    # ex1 next-token pairs: empty batch
    Mutant("ex1_pairs", "a Python loop with torch.stack: fails on an empty batch of starts",
           {"idx = starts[:, None] + torch.arange(block_size, device=ids.device)[None, :]   # (B, T)\n    return ids[idx], ids[idx + 1]":
            "x = torch.stack([ids[s:s + block_size] for s in starts.tolist()])\n"
            "    y = torch.stack([ids[s + 1:s + 1 + block_size] for s in starts.tolist()])\n    return x, y"}),
    Mutant("ex1_pairs", "windows concatenated and reshaped: fails on an empty batch of starts",
           {"idx = starts[:, None] + torch.arange(block_size, device=ids.device)[None, :]   # (B, T)\n    return ids[idx], ids[idx + 1]":
            "x = torch.cat([ids[s:s + block_size] for s in starts.tolist()]).view(-1, block_size)\n"
            "    y = torch.cat([ids[s + 1:s + 1 + block_size] for s in starts.tolist()]).view(-1, block_size)\n    return x, y"}),
    Mutant("ex1_pairs", "windows built from Python lists: an empty batch gives a float tensor of the wrong shape",
           {"idx = starts[:, None] + torch.arange(block_size, device=ids.device)[None, :]   # (B, T)\n    return ids[idx], ids[idx + 1]":
            "seq, st = ids.tolist(), starts.tolist()\n"
            "    return torch.tensor([seq[s:s + block_size] for s in st]), torch.tensor([seq[s + 1:s + 1 + block_size] for s in st])"}),
    Mutant("ex1_pairs", "an empty batch special-cased with torch.empty, which is float32",
           {"    idx = starts[:, None]": "    if len(starts) == 0:\n        return torch.empty(0, block_size), torch.empty(0, block_size)\n    idx = starts[:, None]"}),
    # ex2 bigram baseline: vocabulary size, unseen tokens
    Mutant("ex2_bigram", "vocabulary size taken from the data (largest id + 1) instead of vocab_size",
           {"counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)":
            "vocab_size = int(torch.cat([tr, va]).max()) + 1\n    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)"}),
    Mutant("ex2_bigram", "pair counts with bincount but without minlength (unseen last ids break the table)",
           {"counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)\n"
            "    counts.index_put_((tr[:-1], tr[1:]), torch.ones(len(tr) - 1, dtype=torch.float64), accumulate=True)":
            "counts = torch.bincount(tr[:-1] * vocab_size + tr[1:]).double().view(vocab_size, vocab_size)"}),
    Mutant("ex2_bigram", "pairs whose previous token never occurs in training are skipped",
           {"return float(-logp[va[:-1], va[1:]].mean())":
            "seen = (counts - alpha).sum(dim=1)[va[:-1]] > 0\n    return float(-logp[va[:-1], va[1:]][seen].mean())"}),
    Mutant("ex2_bigram", "row totals from the unigram counts of the training text (the last token has no successor)",
           {"logp = counts.log() - counts.sum(dim=1, keepdim=True).log()":
            "logp = counts.log() - (torch.bincount(tr, minlength=vocab_size).double() + alpha * vocab_size)[:, None].log()"}),
    Mutant("ex2_bigram", "a context never seen in training backs off to the unigram distribution",
           {"return float(-logp[va[:-1], va[1:]].mean())":
            "raw = counts - alpha\n"
            "    uni = (raw.sum(dim=0) + alpha) / (raw.sum() + alpha * vocab_size)\n"
            "    logp = torch.where(raw.sum(dim=1, keepdim=True) > 0, logp, uni.log()[None, :])\n"
            "    return float(-logp[va[:-1], va[1:]].mean())"}),
    Mutant("ex2_bigram", "validation tokens never seen in training are skipped as out-of-vocabulary",
           {"return float(-logp[va[:-1], va[1:]].mean())":
            "known = (counts - alpha).sum(dim=0)[va[1:]] > 0\n    return float(-logp[va[:-1], va[1:]][known].mean())"}),
    Mutant("ex2_bigram", "log-probabilities clamped at -10 'for safety'",
           {"return float(-logp[va[:-1], va[1:]].mean())": "return float(-logp.clamp_min(-10)[va[:-1], va[1:]].mean())"}),
    Mutant("ex2_bigram", "counts incremented by fancy indexing (a repeated pair counts once)",
           {"counts.index_put_((tr[:-1], tr[1:]), torch.ones(len(tr) - 1, dtype=torch.float64), accumulate=True)":
            "counts[tr[:-1], tr[1:]] += 1"}),
    # ex3 attention: dtype, mask value, dropout placement, softmax by hand
    Mutant("ex3_attention", "softmax computed in float32 whatever the input dtype",
           {"torch.softmax(scores, dim=-1)": "torch.softmax(scores.float(), dim=-1)"}),
    Mutant("ex3_attention", "masked scores set to -1e4 (too small for large scores) instead of -inf",
           {'scores.masked_fill(~allowed, float("-inf"))': "scores.masked_fill(~allowed, -1e4)"}),
    Mutant("ex3_attention", "attention dropout never applied",
           {"att = self.attn_dropout(torch.softmax(scores, dim=-1))": "att = torch.softmax(scores, dim=-1)"}),
    Mutant("ex3_attention", "softmax by hand with one max over the whole tensor instead of each row",
           {"att = self.attn_dropout(torch.softmax(scores, dim=-1))":
            "e = (scores - scores.max()).exp()\n        att = self.attn_dropout(e / e.sum(dim=-1, keepdim=True))"}),
    # ex4 block and model: padding that is not there, dropout, tied weights
    Mutant("ex4_gpt", "loss ignores target 0, as if it were padding (GPT's windows have none)",
           {"targets.reshape(-1))": "targets.reshape(-1), ignore_index=0)"}),
    Mutant("ex4_gpt", "functional dropout without training=self.training: it still drops in eval mode",
           {"x = self.drop(self.wte(idx) + self.wpe(pos)[None])": "x = F.dropout(self.wte(idx) + self.wpe(pos)[None], self.cfg.dropout)"}),
    Mutant("ex4_gpt", "dropout on the embeddings forgotten",
           {"x = self.drop(self.wte(idx) + self.wpe(pos)[None])": "x = self.wte(idx) + self.wpe(pos)[None]"}),
    Mutant("ex4_gpt", "dropout after the final LayerNorm as well",
           {"logits = self.ln_f(x) @ self.wte.weight.T": "logits = self.drop(self.ln_f(x)) @ self.wte.weight.T"}),
    Mutant("ex4_gpt", "output layer detached from the tied embedding (no gradient through the logits)",
           {"logits = self.ln_f(x) @ self.wte.weight.T": "logits = self.ln_f(x) @ self.wte.weight.detach().T"}),
    # ex5 weight loading: aliasing, dtype, in-place edits of the caller's dict, order, copies
    Mutant("ex5_load", "parameters rebound to Hugging Face's tensors (p.data = w): no copy, their dtype",
           {"            p.copy_(w)": "            p.data = w"}),
    Mutant("ex5_load", "weights transposed in place (w.t_()): the caller's state dict is changed",
           {"                w = w.t()": "                w = w.t_()"}),
    Mutant("ex5_load", "tensors matched by their order in the state dict, not by name",
           {'            w = hf_state_dict["transformer." + name]\n':
            '            w = [v for k, v in hf_state_dict.items() if k != "lm_head.weight"][list(dict(model.named_parameters())).index(name)]\n'}),
    Mutant("ex5_load", "loads into a copy of the model instead of the model itself",
           {"    with torch.no_grad():\n        for name, p in model.named_parameters():":
            "    import copy\n    model = copy.deepcopy(model)\n    with torch.no_grad():\n        for name, p in model.named_parameters():"}),
    # ex6 sampling: ties, top_k > V, large logits, aliasing
    Mutant("ex6_sampling", "top-k keeps exactly k tokens by index (ties with the k-th are dropped)",
           {"kth = torch.topk(out, top_k, dim=-1).values[..., -1:]                       # (..., 1)\n"
            "        out = out.masked_fill(out < kth, float(\"-inf\"))":
            "keep = torch.zeros_like(out, dtype=torch.bool).scatter(-1, torch.topk(out, top_k, dim=-1).indices, True)\n"
            "        out = out.masked_fill(~keep, float(\"-inf\"))"}),
    Mutant("ex6_sampling", "top_k larger than the vocabulary raises instead of keeping everything",
           {"if top_k is not None and top_k < out.shape[-1]:": "if top_k is not None:"}),
    Mutant("ex6_sampling", "top-p probabilities by hand without subtracting the maximum (overflow for large logits)",
           {"probs = torch.softmax(sorted_logits, dim=-1)":
            "probs = sorted_logits.exp() / sorted_logits.exp().sum(dim=-1, keepdim=True)"}),
    Mutant("ex6_sampling", "returns the input itself (not a copy) when nothing is filtered",
           {"    out = logits.clone()\n": "    out = logits\n"}),
    # ex7 generation: context window, empty generation
    Mutant("ex7_generate", "without the cache, the context is not cut to the model's n_positions",
           {"model(idx[:, -model.cfg.n_positions:])": "model(idx)"}),
    Mutant("ex7_generate", "without the cache, the context is cut one token too short",
           {"model(idx[:, -model.cfg.n_positions:])": "model(idx[:, -(model.cfg.n_positions - 1):])"}),
    Mutant("ex7_generate", "the cache is primed with the prompt before the loop: max_new_tokens=0 still calls the model",
           {"    past = None\n    x = idx\n    for _ in range(max_new_tokens):\n        if use_cache:\n            logits, _, past = model(x, past_kv=past)":
            "    past = None\n    x = idx\n    if use_cache:\n        logits, _, past = model(idx)\n    for i in range(max_new_tokens):\n"
            "        if use_cache:\n            if i > 0:\n                logits, _, past = model(x, past_kv=past)"}),
    Mutant("ex7_generate", "first token drawn before the loop: max_new_tokens=0 still adds one",
           {"    past = None\n    x = idx\n    for _ in range(max_new_tokens):":
            "    past = None\n    x = idx\n    for _ in range(max(max_new_tokens, 1)):"}),
    # devices: tensors an answer creates must follow its input's device (tested with the default device set to meta)
    Mutant("ex1_pairs", "offsets built on the default device instead of ids' device",
           {"torch.arange(block_size, device=ids.device)": "torch.arange(block_size)"}),
    Mutant("ex3_attention", "causal mask built on the default device instead of x's device",
           {"torch.ones(T, P + T, dtype=torch.bool, device=x.device)": "torch.ones(T, P + T, dtype=torch.bool)"}),
    Mutant("ex4_gpt", "positions built on the default device instead of idx's device",
           {"pos = torch.arange(P, P + T, device=idx.device)": "pos = torch.arange(P, P + T)"}),
    # modes: functional dropout without training=self.training keeps dropping in eval mode
    Mutant("ex3_attention", "functional dropout on the attention weights: still active in eval mode",
           {"att = self.attn_dropout(torch.softmax(scores, dim=-1))":
            "att = F.dropout(torch.softmax(scores, dim=-1), self.attn_dropout.p)"}),
    Mutant("ex3_attention", "functional dropout on the output projection: still active in eval mode",
           {"return self.resid_dropout(self.c_proj(y)), (k, v)": "return F.dropout(self.c_proj(y), self.resid_dropout.p), (k, v)"}),
    # parameters: copy-pasted LayerNorms show only when their weights and biases are not 1 and 0
    Mutant("ex4_gpt", "ln_1 used for the MLP branch too (copy-paste of the attention line)",
           {"x = x + self.mlp(self.ln_2(x))": "x = x + self.mlp(self.ln_1(x))"}),
    Mutant("ex4_gpt", "the last block's ln_2 used as the final LayerNorm",
           {"logits = self.ln_f(x) @ self.wte.weight.T": "logits = self.h[-1].ln_2(x) @ self.wte.weight.T"}),
    # precision
    Mutant("ex2_bigram", "counts and logarithms in float32",
           {"counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)\n"
            "    counts.index_put_((tr[:-1], tr[1:]), torch.ones(len(tr) - 1, dtype=torch.float64), accumulate=True)":
            "counts = torch.zeros(vocab_size, vocab_size)\n"
            "    counts.index_put_((tr[:-1], tr[1:]), torch.ones(len(tr) - 1), accumulate=True)"}),
    Mutant("ex4_gpt", "logits cast to float32 whatever the weights' dtype",
           {"logits = self.ln_f(x) @ self.wte.weight.T": "logits = (self.ln_f(x) @ self.wte.weight.T).float()"}),
    # sampling
    Mutant("ex6_sampling", "top-p keeps the next token when the mass before it equals top_p exactly",
           {"drop_sorted = before >= top_p": "drop_sorted = before > top_p"}),
    Mutant("ex6_sampling", "filters the logits before dividing them by the temperature",
           {"filter_logits(logits / temperature, top_k, top_p)": "filter_logits(logits, top_k, top_p) / temperature"}),
    Mutant("ex6_sampling", "a fresh generator seeded 0 at every call when none is given",
           {"torch.multinomial(probs.cpu(), 1, generator=generator)":
            "torch.multinomial(probs.cpu(), 1, generator=generator or torch.Generator().manual_seed(0))"}),
    Mutant("ex7_generate", "a fresh generator seeded 0 for every run when none is given",
           {"    past = None\n    x = idx\n": "    past = None\n    x = idx\n    generator = generator or torch.Generator().manual_seed(0)\n"}),
    Mutant("ex7_generate", "the sampler is given no generator at all (the caller's seeded generator is ignored)",
           {"nxt = sampler(logits[:, -1], temperature, top_k, top_p, generator)": "nxt = sampler(logits[:, -1], temperature, top_k, top_p, None)"}),
]
