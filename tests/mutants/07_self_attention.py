"""Plausible wrong implementations of notebook 07's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1: scaled dot-product attention
    Mutant("ex1_attention", "missing the 1/sqrt(d_k) scale",
           {"q @ k.transpose(-2, -1) / math.sqrt(d_k)": "q @ k.transpose(-2, -1)"}),
    Mutant("ex1_attention", "scaled by d_k instead of sqrt(d_k)", {"/ math.sqrt(d_k)": "/ d_k"}),
    Mutant("ex1_attention", "mask applied after the softmax (weights zeroed, rows no longer sum to 1)",
           {"    if mask is not None:\n        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)\n"
            "    weights = torch.softmax(scores, dim=-1)":
            "    weights = torch.softmax(scores, dim=-1)\n    if mask is not None:\n"
            "        weights = weights.masked_fill(~mask, 0.0)"}),
    Mutant("ex1_attention", "softmax over the query axis", {"torch.softmax(scores, dim=-1)": "torch.softmax(scores, dim=-2)"}),
    Mutant("ex1_attention", "mask convention inverted (True = masked)", {"masked_fill(~mask,": "masked_fill(mask,"}),
    Mutant("ex1_attention", "masked scores set to 0 instead of a large negative number",
           {"torch.finfo(scores.dtype).min": "0.0"}),
    # ex2: masks
    Mutant("ex2_masks", "causal mask lets queries see the future (upper triangle)", {".tril()": ".triu()"}),
    Mutant("ex2_masks", "causal mask hides the diagonal (a token cannot see itself)", {".tril()": ".tril(-1)"}),
    Mutant("ex2_masks", "padding mask off by one", {"< lengths[:, None]": "<= lengths[:, None]"}),
    Mutant("ex2_masks", "padding mask returned as (B, T), not broadcastable over heads and queries",
           {"return keep[:, None, None, :]": "return keep"}),
    # ex3: heads
    Mutant("ex3_heads", "heads split on the wrong axis (view as (B, h, T, d_k))",
           {"x.reshape(B, T, num_heads, D // num_heads).transpose(1, 2)": "x.reshape(B, num_heads, T, D // num_heads)"}),
    Mutant("ex3_heads", "merge without moving the head axis back",
           {"x.transpose(1, 2).reshape(B, T, h * d_k)": "x.reshape(B, T, h * d_k)"}),
    Mutant("ex3_heads", "merge with view on a non-contiguous tensor",
           {"x.transpose(1, 2).reshape(B, T, h * d_k)": "x.transpose(1, 2).view(B, T, h * d_k)"}),
    # ex4: multi-head attention
    Mutant("ex4_mha", "keys projected from the query input (breaks encoder-decoder attention)",
           {"self.k_proj(key)": "self.k_proj(query)"}),
    Mutant("ex4_mha", "values projected from the key input", {"self.v_proj(value)": "self.v_proj(key)"}),
    Mutant("ex4_mha", "output projection forgotten",
           {"return self.out_proj(ref.merge_heads(out)), weights": "return ref.merge_heads(out), weights"}),
    Mutant("ex4_mha", "mask not passed to the attention",
           {"ref.scaled_dot_product_attention(q, k, v, mask)": "ref.scaled_dot_product_attention(q, k, v)"}),
    # ex5: coreference model
    Mutant("ex5_coref", "padding mask not passed to the attention", {"a, w = attn(x, x, x, pad)": "a, w = attn(x, x, x)"}),
    Mutant("ex5_coref", "padding mask on the query axis instead of the key axis",
           {"pad = mask[:, None, None, :]": "pad = mask[:, None, :, None]"}),
    Mutant("ex5_coref", "output read at the last position instead of at \"it\"",
           {"h = x[torch.arange(B, device=ids.device), it_pos]": "h = x[:, -1]"}),
    Mutant("ex5_coref", "positional embeddings forgotten",
           {"x = self.embed(ids) + self.pos(torch.arange(T, device=ids.device))": "x = self.embed(ids)"}),
    Mutant("ex5_coref", "residual connection around the attention missing", {"x = norm1(x + a)": "x = norm1(a)"}),
]
