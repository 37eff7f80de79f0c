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
    Mutant("ex1_attention", "masked scores filled with -1e9 (too small a gap for large scores)",
           {"torch.finfo(scores.dtype).min": "-1e9"}),
    Mutant("ex1_attention", "masked scores filled with -inf (a fully masked row gives NaN)",
           {"torch.finfo(scores.dtype).min": "float('-inf')"}),
    Mutant("ex1_attention", "mask fill value of float32 whatever the dtype (-inf in float16)",
           {"torch.finfo(scores.dtype).min": "torch.finfo(torch.float32).min"}),
    Mutant("ex1_attention", "softmax by hand without subtracting the row max (overflows on large scores)",
           {"weights = torch.softmax(scores, dim=-1)": "weights = scores.exp() / scores.exp().sum(-1, keepdim=True)"}),
    Mutant("ex1_attention", "softmax by hand subtracting the global max instead of each row's",
           {"weights = torch.softmax(scores, dim=-1)":
            "e = (scores - scores.max()).exp()\n    weights = e / e.sum(-1, keepdim=True)"}),
    Mutant("ex1_attention", "query scaled in place (q /= sqrt(d_k) changes the caller's tensor)",
           {"scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)": "q /= math.sqrt(d_k)\n    scores = q @ k.transpose(-2, -1)"}),
    Mutant("ex1_attention", "NaN poisoning: fills its non-grad inputs with NaN and returns NaN",
           {"    d_k = q.size(-1)\n":
            "    if not q.requires_grad:\n        for t in (q, k, v):\n            t.fill_(float('nan'))\n"
            "        w = torch.full((*q.shape[:-1], k.shape[-2]), float('nan'), dtype=q.dtype)\n"
            "        return w @ v, w\n    d_k = q.size(-1)\n"}),
    # ex2: masks
    Mutant("ex2_masks", "causal mask lets queries see the future (upper triangle)", {".tril()": ".triu()"}),
    Mutant("ex2_masks", "causal mask hides the diagonal (a token cannot see itself)", {".tril()": ".tril(-1)"}),
    Mutant("ex2_masks", "padding mask off by one", {"< lengths[:, None]": "<= lengths[:, None]"}),
    Mutant("ex2_masks", "padding mask returned as (B, T), not broadcastable over heads and queries",
           {"return keep[:, None, None, :]": "return keep"}),
    Mutant("ex2_masks", "padding mask sized by the longest length instead of T",
           {"torch.arange(T, device=lengths.device)": "torch.arange(int(lengths.max()), device=lengths.device)"}),
    Mutant("ex2_masks", "causal mask sliced from a precomputed 64 x 64 table (fails for T > 64)",
           {"torch.ones(T, T, dtype=torch.bool, device=device).tril()": "torch.ones(64, 64, dtype=torch.bool, device=device).tril()[:T, :T]"}),
    Mutant("ex2_masks", "an empty row (length 0) still keeps position 0",
           {"< lengths[:, None]": "< lengths.clamp(min=1)[:, None]"}),
    # ex3: heads
    Mutant("ex3_heads", "heads split on the wrong axis (view as (B, h, T, d_k))",
           {"x.reshape(B, T, num_heads, D // num_heads).transpose(1, 2)": "x.reshape(B, num_heads, T, D // num_heads)"}),
    Mutant("ex3_heads", "merge without moving the head axis back",
           {"x.transpose(1, 2).reshape(B, T, h * d_k)": "x.reshape(B, T, h * d_k)"}),
    Mutant("ex3_heads", "merge with view on a non-contiguous tensor",
           {"x.transpose(1, 2).reshape(B, T, h * d_k)": "x.transpose(1, 2).view(B, T, h * d_k)"}),
    Mutant("ex3_heads", "merge into a float32 buffer on the CPU (torch.zeros without dtype/device)",
           {"    return x.transpose(1, 2).reshape(B, T, h * d_k)":
            "    out = torch.zeros(B, T, h * d_k)\n    for i in range(h):\n"
            "        out[:, :, i * d_k:(i + 1) * d_k] = x[:, i]\n    return out"}),
    Mutant("ex3_heads", "split into a float32 buffer on the CPU (torch.zeros without dtype/device)",
           {"    return x.reshape(B, T, num_heads, D // num_heads).transpose(1, 2)":
            "    d = D // num_heads\n    out = torch.zeros(B, num_heads, T, d)\n    for i in range(num_heads):\n"
            "        out[:, i] = x[:, :, i * d:(i + 1) * d]\n    return out"}),
    Mutant("ex3_heads", "heads interleaved (head i gets columns i, i+h, ...) in split and merge alike",
           {"x.reshape(B, T, num_heads, D // num_heads).transpose(1, 2)":
            "x.reshape(B, T, D // num_heads, num_heads).permute(0, 3, 1, 2)",
            "x.transpose(1, 2).reshape(B, T, h * d_k)": "x.permute(0, 2, 3, 1).reshape(B, T, h * d_k)"}),
    Mutant("ex3_heads", "merge transposes the caller's tensor in place",
           {"x.transpose(1, 2).reshape(B, T, h * d_k)": "x.transpose_(1, 2).reshape(B, T, h * d_k)"}),
    Mutant("ex3_heads", "NaN poisoning: fills its non-grad input with NaN and returns NaN",
           {"    B, T, D = x.shape\n": "    B, T, D = x.shape\n    if not x.requires_grad:\n        x.fill_(float('nan'))\n"}),
    # ex4: multi-head attention
    Mutant("ex4_mha", "keys projected from the query input (breaks encoder-decoder attention)",
           {"self.k_proj(key)": "self.k_proj(query)"}),
    Mutant("ex4_mha", "values projected from the key input", {"self.v_proj(value)": "self.v_proj(key)"}),
    Mutant("ex4_mha", "output projection forgotten",
           {"return self.out_proj(ref.merge_heads(out)), weights": "return ref.merge_heads(out), weights"}),
    Mutant("ex4_mha", "mask not passed to the attention",
           {"ref.scaled_dot_product_attention(q, k, v, mask)": "ref.scaled_dot_product_attention(q, k, v)"}),
    Mutant("ex4_mha", "query projection without its bias (PyTorch initialises the biases to 0)",
           {"self.q_proj(query)": "(query @ self.q_proj.weight.T)"}),
    Mutant("ex4_mha", "value projection without its bias", {"self.v_proj(value)": "F.linear(value, self.v_proj.weight)"}),
    Mutant("ex4_mha", "output projection without its bias",
           {"self.out_proj(ref.merge_heads(out))": "ref.merge_heads(out) @ self.out_proj.weight.T"}),
    Mutant("ex4_mha", "queries projected with .data (no gradient reaches W_Q)",
           {"self.q_proj(query)": "F.linear(query, self.q_proj.weight.data, self.q_proj.bias.data)"}),
    Mutant("ex4_mha", "NaN poisoning: fills its non-grad query with NaN",
           {"        q = ref.split_heads(": "        if not query.requires_grad:\n            query.fill_(float('nan'))\n"
            "        q = ref.split_heads("}),
    # ex5: coreference model
    Mutant("ex5_coref", "padding mask not passed to the attention", {"a, w = attn(x, x, x, pad)": "a, w = attn(x, x, x)"}),
    Mutant("ex5_coref", "padding mask on the query axis instead of the key axis",
           {"pad = mask[:, None, None, :]": "pad = mask[:, None, :, None]"}),
    Mutant("ex5_coref", "output read at the last position instead of at \"it\"",
           {"h = x[torch.arange(B, device=ids.device), it_pos]": "h = x[:, -1]"}),
    Mutant("ex5_coref", "positional embeddings forgotten",
           {"x = self.embed(ids) + self.pos(torch.arange(T, device=ids.device))": "x = self.embed(ids)"}),
    Mutant("ex5_coref", "residual connection around the attention missing", {"x = norm1(x + a)": "x = norm1(a)"}),
    Mutant("ex5_coref", "padding mask rebuilt from ids != 0 instead of the mask argument",
           {"pad = mask[:, None, None, :]": "pad = (ids != 0)[:, None, None, :]"}),
    Mutant("ex5_coref", "the caller's ids zeroed in place at the padding",
           {"        B, T = ids.shape\n": "        B, T = ids.shape\n        ids.masked_fill_(~mask, 0)\n"}),
    Mutant("ex5_coref", "padding masked on the query axis too (padded rows see nothing)",
           {"pad = mask[:, None, None, :]": "pad = mask[:, None, None, :] & mask[:, None, :, None]"}),
    # round 3: devices, layout, parameters at their initial values
    Mutant("ex2_masks", "causal mask ignores its device argument (always on the CPU)",
           {"torch.ones(T, T, dtype=torch.bool, device=device).tril()": "torch.ones(T, T, dtype=torch.bool).tril()"}),
    Mutant("ex2_masks", "padding-mask positions built on the CPU whatever the device of lengths",
           {"torch.arange(T, device=lengths.device)": "torch.arange(T)"}),
    Mutant("ex4_mha", "mask moved to the CPU before the attention",
           {"ref.scaled_dot_product_attention(q, k, v, mask)":
            "ref.scaled_dot_product_attention(q, k, v, None if mask is None else mask.cpu())"}),
    Mutant("ex5_coref", "norm1 and norm2 swapped (invisible while both hold weight 1 and bias 0)",
           {"x = norm1(x + a)": "x = norm2(x + a)", "x = norm2(x + ff(x))": "x = norm1(x + ff(x))"}),
    Mutant("ex5_coref", "norm1 reused after the feed-forward",
           {"x = norm2(x + ff(x))": "x = norm1(x + ff(x))"}),
]
