"""Plausible wrong implementations of notebook 10's exercises; each must lose points."""
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
]
