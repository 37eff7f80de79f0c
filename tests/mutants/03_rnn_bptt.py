"""Plausible wrong implementations of notebook 03's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1: the cell
    Mutant("ex1_rnn_cell", "h_prev @ W_hh without the transpose (the shapes still fit for a square W_hh)",
           {"h_prev @ W_hh.T": "h_prev @ W_hh"}),
    Mutant("ex1_rnn_cell", "sigmoid instead of tanh",
           {"torch.tanh(": "torch.sigmoid("}),
    Mutant("ex1_rnn_cell", "only one of the two biases",
           {"    if b_hh is not None:\n        a = a + b_hh\n": ""}),
    # ex2: unrolling over a padded batch
    Mutant("ex2_rnn_unroll", "the state keeps updating on padding (final state read at position T-1)",
           {"h = torch.where(keep, h_new, h)": "h = h_new"}),
    Mutant("ex2_rnn_unroll", "outputs at padded steps hold the frozen state instead of zeros",
           {"outputs.append(torch.where(keep, h_new, torch.zeros_like(h_new)))": "outputs.append(h)"}),
    Mutant("ex2_rnn_unroll", "every step starts from h0 instead of the previous state",
           {"h_new = cell(x_t, h)": "h_new = cell(x_t, h0)"}),
    # ex3: BPTT by hand
    Mutant("ex3_rnn_bptt", "forgets the gradient arriving from step t+1 (no backpropagation through time)",
           {"delta = dh[:, t - 1] + carry": "delta = dh[:, t - 1]"}),
    Mutant("ex3_rnn_bptt", "tanh derivative taken at the previous state h_{t-1}",
           {"da = delta * (1 - hs[t] ** 2)": "da = delta * (1 - hs[t - 1] ** 2)"}),
    Mutant("ex3_rnn_bptt", "tanh applied twice in the derivative: 1 - tanh(h_t)^2",
           {"da = delta * (1 - hs[t] ** 2)": "da = delta * (1 - torch.tanh(hs[t]) ** 2)"}),
    Mutant("ex3_rnn_bptt", "dW_hh uses h_t instead of h_{t-1}",
           {"dW_hh += da.T @ hs[t - 1]": "dW_hh += da.T @ hs[t]"}),
    Mutant("ex3_rnn_bptt", "W_hh transposed in the backward step",
           {"carry = da @ W_hh": "carry = da @ W_hh.T"}),
    # ex4: gradient norm by lag
    Mutant("ex4_grad_norm_by_lag", "indexed by time instead of by distance from the end (no flip)",
           {"return grad.norm(dim=(0, 2)).flip(0)": "return grad.norm(dim=(0, 2))"}),
    Mutant("ex4_grad_norm_by_lag", "the loss sums every state instead of the last one",
           {"            h = cell(x[:, t], h)\n": "            h = cell(x[:, t], h)\n            total = h.sum() if t == 0 else total + h.sum()\n",
            "torch.autograd.grad(h.sum(), x)": "torch.autograd.grad(total, x)"}),
    Mutant("ex4_grad_norm_by_lag", "L1 norm (sum of absolute values) instead of the Frobenius norm",
           {"grad.norm(dim=(0, 2))": "grad.abs().sum(dim=(0, 2))"}),
    # ex5: gradient clipping
    Mutant("ex5_clip_grad_norm", "no min(1, .): small gradients are scaled up to max_norm",
           {"torch.clamp(max_norm / (total + 1e-6), max=1.0)": "max_norm / (total + 1e-6)"}),
    Mutant("ex5_clip_grad_norm", "sum of the parameters' norms instead of the global norm",
           {"torch.sqrt(sum((g.detach() ** 2).sum() for g in grads))": "sum(g.detach().norm() for g in grads)"}),
    Mutant("ex5_clip_grad_norm", "each parameter clipped by its own norm",
           {"g.detach().mul_(scale)": "g.detach().mul_(torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0))"}),
    # ex6: LM windows
    Mutant("ex6_lm_batch", "targets not shifted (the model learns to copy its input)",
           {"return ids[idx], ids[idx + 1]": "return ids[idx], ids[idx]"}),
    Mutant("ex6_lm_batch", "inputs and targets swapped (predicting the previous character)",
           {"return ids[idx], ids[idx + 1]": "return ids[idx + 1], ids[idx]"}),
    Mutant("ex6_lm_batch", "window starts one position late",
           {"torch.arange(seq_len, device=ids.device)": "torch.arange(1, seq_len + 1, device=ids.device)"}),
    # ex7: bigram baseline
    Mutant("ex7_bigram_nll", "counts normalised over the wrong axis (columns)",
           {"counts.sum(dim=1, keepdim=True)": "counts.sum(dim=0, keepdim=True)"}),
    Mutant("ex7_bigram_nll", "log base 2: bits, not nats",
           {"torch.log(counts": "torch.log2(counts"}),
    Mutant("ex7_bigram_nll", "no add-one smoothing",
           {"counts = torch.ones(vocab_size": "counts = torch.zeros(vocab_size"}),
    Mutant("ex7_bigram_nll", "pairs read backwards: P(previous | next)",
           {"log_probs[valid_ids[:-1], valid_ids[1:]]": "log_probs[valid_ids[1:], valid_ids[:-1]]"}),

    # ex1: the cell: gradients to x_t and h_prev, large inputs, missing biases, side effects, dtype
    Mutant("ex1_rnn_cell", "h_prev detached: no gradient flows back to the previous state",
           {"h_prev @ W_hh.T": "h_prev.detach() @ W_hh.T"}),
    Mutant("ex1_rnn_cell", "x_t detached: no gradient reaches the inputs (the embeddings never learn)",
           {"x_t @ W_ih.T": "x_t.detach() @ W_ih.T"}),
    Mutant("ex1_rnn_cell", "tanh written as (e^2a - 1) / (e^2a + 1): NaN for large pre-activations",
           {"return torch.tanh(a)": "return (torch.exp(2 * a) - 1) / (torch.exp(2 * a) + 1)"}),
    Mutant("ex1_rnn_cell", "the biases added only when both are given",
           {"    if b_ih is not None:\n        a = a + b_ih\n    if b_hh is not None:\n        a = a + b_hh\n":
            "    if b_ih is not None and b_hh is not None:\n        a = a + b_ih + b_hh\n"}),
    Mutant("ex1_rnn_cell", "the two biases merged into the caller's b_ih (b_ih += b_hh)",
           {"    if b_ih is not None:\n        a = a + b_ih\n    if b_hh is not None:\n        a = a + b_hh\n":
            "    if b_ih is not None and b_hh is not None:\n        b_ih += b_hh\n        a = a + b_ih\n"}),
    Mutant("ex1_rnn_cell", "computed in float32 whatever the inputs' dtype",
           {"a = x_t @ W_ih.T + h_prev @ W_hh.T": "a = (x_t.float() @ W_ih.float().T + h_prev.float() @ W_hh.float().T).to(x_t.dtype)"}),
    # ex2: unrolling: gradients through time, junk on padding, the caller's h0
    Mutant("ex2_rnn_unroll", "the state detached at every step (truncated backpropagation of one step)",
           {"h = torch.where(keep, h_new, h)": "h = torch.where(keep, h_new, h).detach()"}),
    Mutant("ex2_rnn_unroll", "the state detached at padded steps (a short sequence's h_last has no gradient)",
           {"h = torch.where(keep, h_new, h)": "h = torch.where(keep, h_new, h.detach())"}),
    Mutant("ex2_rnn_unroll", "h0 detached: no gradient reaches the initial state",
           {"    h = h0\n": "    h = h0.detach()\n"}),
    Mutant("ex2_rnn_unroll", "the state frozen by multiplying with the mask: NaN in the padding poisons it",
           {"h = torch.where(keep, h_new, h)": "h = keep * h_new + (~keep) * h",
            "x_t = torch.where(keep, x[:, t], torch.zeros_like(x[:, t]))": "x_t = x[:, t]"}),
    Mutant("ex2_rnn_unroll", "outputs zeroed at padding by multiplying with the mask (NaN * 0 is NaN)",
           {"outputs.append(torch.where(keep, h_new, torch.zeros_like(h_new)))": "outputs.append(h_new * keep)",
            "x_t = torch.where(keep, x[:, t], torch.zeros_like(x[:, t]))": "x_t = x[:, t]"}),
    Mutant("ex2_rnn_unroll", "the state updated in place (h[rows] = ...), starting with the caller's h0",
           {"        h = torch.where(keep, h_new, h)                  # frozen at padding\n":
            "        h[keep[:, 0]] = h_new[keep[:, 0]]\n"}),
    # ex3: BPTT by hand: dtypes kept, large inputs, dh left unchanged
    Mutant("ex3_rnn_bptt", "the dx buffer created with the default dtype (float32) and device",
           {"dx = torch.zeros_like(x)": "dx = torch.zeros(x.shape)"}),
    Mutant("ex3_rnn_bptt", "the weight-gradient buffers created with the default dtype (float32)",
           {"torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(b)":
            "torch.zeros(W_xh.shape), torch.zeros(W_hh.shape), torch.zeros(b.shape)"}),
    Mutant("ex3_rnn_bptt", "computed and returned in float64 whatever the inputs' dtype",
           {"    B, T, D = x.shape\n": "    B, T, D = x.shape\n    x, h0, W_xh, W_hh, b, dh = (t.double() for t in (x, h0, W_xh, W_hh, b, dh))\n"}),
    Mutant("ex3_rnn_bptt", "computed in float32 whatever the inputs' dtype",
           {"    B, T, D = x.shape\n": "    B, T, D = x.shape\n    dtype = x.dtype\n    x, h0, W_xh, W_hh, b, dh = (t.float() for t in (x, h0, W_xh, W_hh, b, dh))\n",
            'return {"W_xh": dW_xh, "W_hh": dW_hh, "b": db, "h0": carry, "x": dx}':
            'return {"W_xh": dW_xh.to(dtype), "W_hh": dW_hh.to(dtype), "b": db.to(dtype), "h0": carry.to(dtype), "x": dx.to(dtype)}'}),
    Mutant("ex3_rnn_bptt", "tanh written with exp in the forward pass: NaN for large pre-activations",
           {"hs.append(torch.tanh(x[:, t] @ W_xh.T + hs[-1] @ W_hh.T + b))":
            "a = x[:, t] @ W_xh.T + hs[-1] @ W_hh.T + b\n        hs.append((torch.exp(2 * a) - 1) / (torch.exp(2 * a) + 1))"}),
    Mutant("ex3_rnn_bptt", "the carried gradient added into the caller's dh (delta = dh[:, t-1]; delta += carry)",
           {"delta = dh[:, t - 1] + carry": "delta = dh[:, t - 1]\n        delta += carry"}),
    # ex4: gradient norm by lag: no side effects, dtype kept, under no_grad
    Mutant("ex4_grad_norm_by_lag", "h.sum().backward() instead of autograd.grad: the cell's parameters get a .grad",
           {"(grad,) = torch.autograd.grad(h.sum(), x)": "h.sum().backward()\n        grad = x.grad"}),
    Mutant("ex4_grad_norm_by_lag", "norms collected as Python floats into torch.tensor (float32)",
           {"return grad.norm(dim=(0, 2)).flip(0)": "return torch.tensor([grad[:, t].norm().item() for t in range(grad.shape[1])]).flip(0)"}),
    Mutant("ex4_grad_norm_by_lag", "gradients not switched on: fails inside torch.no_grad()",
           {"    with torch.enable_grad():": "    if True:"}),
    Mutant("ex4_grad_norm_by_lag", "norms computed in float32 whatever x's dtype",
           {"return grad.norm(dim=(0, 2)).flip(0)": "return grad.float().norm(dim=(0, 2)).flip(0)"}),
    # ex5: clipping: eps, return type and dtype, the empty case
    Mutant("ex5_clip_grad_norm", "eps ignored: max_norm / norm",
           {"max_norm / (total + 1e-6)": "max_norm / total"}),
    Mutant("ex5_clip_grad_norm", "eps added under the square root",
           {"torch.sqrt(sum((g.detach() ** 2).sum() for g in grads))": "torch.sqrt(sum((g.detach() ** 2).sum() for g in grads) + 1e-6)"}),
    Mutant("ex5_clip_grad_norm", "the norm returned as a Python float",
           {"    return total\n": "    return total.item()\n"}),
    Mutant("ex5_clip_grad_norm", "the norm summed as Python floats and returned as torch.tensor (float32)",
           {"total = torch.sqrt(sum((g.detach() ** 2).sum() for g in grads))":
            "total = torch.tensor(math.sqrt(sum(float((g.detach() ** 2).sum()) for g in grads)))"}),
    Mutant("ex5_clip_grad_norm", "the norm computed in float32 whatever the gradients' dtype",
           {"(g.detach() ** 2).sum()": "(g.detach().float() ** 2).sum()"}),
    Mutant("ex5_clip_grad_norm", "no gradients: 0.0 returned as a Python float",
           {"return torch.tensor(0.0)": "return 0.0"}),
    # ex6: LM windows: an empty batch
    Mutant("ex6_lm_batch", "a Python loop with torch.stack: fails on an empty batch of starts",
           {"idx = starts[:, None] + torch.arange(seq_len, device=ids.device)[None, :]   # (B, T)\n    return ids[idx], ids[idx + 1]":
            "x = torch.stack([ids[s:s + seq_len] for s in starts.tolist()])\n"
            "    y = torch.stack([ids[s + 1:s + 1 + seq_len] for s in starts.tolist()])\n    return x, y"}),
    Mutant("ex6_lm_batch", "windows concatenated and reshaped: fails on an empty batch of starts",
           {"idx = starts[:, None] + torch.arange(seq_len, device=ids.device)[None, :]   # (B, T)\n    return ids[idx], ids[idx + 1]":
            "x = torch.cat([ids[s:s + seq_len] for s in starts.tolist()]).view(-1, seq_len)\n"
            "    y = torch.cat([ids[s + 1:s + 1 + seq_len] for s in starts.tolist()]).view(-1, seq_len)\n    return x, y"}),
    Mutant("ex6_lm_batch", "windows built from Python lists: an empty batch gives a float tensor of the wrong shape",
           {"idx = starts[:, None] + torch.arange(seq_len, device=ids.device)[None, :]   # (B, T)\n    return ids[idx], ids[idx + 1]":
            "seq, st = ids.tolist(), starts.tolist()\n"
            "    return torch.tensor([seq[s:s + seq_len] for s in st]), torch.tensor([seq[s + 1:s + 1 + seq_len] for s in st])"}),
    Mutant("ex6_lm_batch", "an empty batch special-cased with torch.empty, which is float32",
           {"    idx = starts[:, None]": "    if len(starts) == 0:\n        return torch.empty(0, seq_len), torch.empty(0, seq_len)\n    idx = starts[:, None]"}),
    # ex7: bigram baseline: byte ids, an empty training text, large counts
    Mutant("ex7_bigram_nll", "uint8 ids used as indices unconverted (they index as boolean masks)",
           {"    train_ids = train_ids.long()                         # uint8 ids would index as masks\n": "",
            "valid_ids = valid_ids.long().to(": "valid_ids = valid_ids.to("}),
    Mutant("ex7_bigram_nll", "pair codes a * V + b computed in the ids' dtype (uint8 wraps around at 256)",
           {"    train_ids = train_ids.long()                         # uint8 ids would index as masks\n": "",
            "    counts.index_put_(pairs, torch.ones(pairs[1].shape[0], dtype=torch.float64, device=train_ids.device),\n                      accumulate=True)\n":
            "    counts += torch.bincount((train_ids[:-1] * vocab_size + train_ids[1:]).long(), minlength=vocab_size ** 2).view(vocab_size, vocab_size)\n"}),
    Mutant("ex7_bigram_nll", "N - 1 pairs counted as len(train_ids) - 1: an empty training text gives a negative size",
           {"torch.ones(pairs[1].shape[0]": "torch.ones(len(train_ids) - 1"}),
    Mutant("ex7_bigram_nll", "log-probabilities clamped at -10 'for safety'",
           {"return -log_probs[": "return -log_probs.clamp_min(-10)["}),
    Mutant("ex7_bigram_nll", "vocabulary size taken from the data (largest id + 1) instead of vocab_size",
           {"    counts = torch.ones(vocab_size, vocab_size": "    vocab_size = int(torch.cat([train_ids, valid_ids]).max()) + 1\n    counts = torch.ones(vocab_size, vocab_size"}),

    # Devices, gradients through padding that holds NaN or inf
    Mutant("ex1_rnn_cell", "a missing bias replaced by torch.zeros(H) made on the CPU",
           {"    if b_ih is not None:\n        a = a + b_ih\n":
            "    if b_ih is None:\n        b_ih = torch.zeros(W_ih.shape[0], dtype=x_t.dtype)\n    a = a + b_ih\n"}),
    Mutant("ex2_rnn_unroll", "the cell reads the padding and torch.where drops its output: finite forward, NaN gradients",
           {"x_t = torch.where(keep, x[:, t], torch.zeros_like(x[:, t]))": "x_t = x[:, t]"}),
    Mutant("ex2_rnn_unroll", "padded inputs zeroed by multiplying with the mask (NaN * 0 is NaN)",
           {"x_t = torch.where(keep, x[:, t], torch.zeros_like(x[:, t]))": "x_t = x[:, t] * keep"}),
    Mutant("ex2_rnn_unroll", "the zeros for padded outputs made with torch.zeros on the CPU",
           {"torch.where(keep, h_new, torch.zeros_like(h_new))": "torch.where(keep, h_new, torch.zeros(h_new.shape, dtype=h_new.dtype))"}),
    Mutant("ex2_rnn_unroll", "the stand-in inputs at padded steps made with torch.zeros on the CPU",
           {"torch.zeros_like(x[:, t])": "torch.zeros(x[:, t].shape, dtype=x.dtype)"}),
    Mutant("ex3_rnn_bptt", "the carried gradient starts as torch.zeros(B, H) in the right dtype, on the CPU",
           {"carry = torch.zeros_like(h0)": "carry = torch.zeros(B, h0.shape[1], dtype=h0.dtype)"}),
    Mutant("ex3_rnn_bptt", "the dx buffer made with torch.zeros(x.shape, dtype=x.dtype), on the CPU",
           {"dx = torch.zeros_like(x)": "dx = torch.zeros(x.shape, dtype=x.dtype)"}),
    Mutant("ex4_grad_norm_by_lag", "norms collected as Python numbers into a new CPU tensor",
           {"return grad.norm(dim=(0, 2)).flip(0)":
            "return torch.tensor([grad[:, t].norm().item() for t in range(x.shape[1] - 1, -1, -1)], dtype=x.dtype)"}),
    Mutant("ex5_clip_grad_norm", "the norm rebuilt with torch.tensor from a Python number (on the CPU)",
           {"total = torch.sqrt(sum((g.detach() ** 2).sum() for g in grads))":
            "total = torch.tensor(math.sqrt(sum(float((g.detach() ** 2).sum()) for g in grads)), dtype=grads[0].dtype)"}),
    Mutant("ex6_lm_batch", "offsets from torch.arange without device=",
           {"torch.arange(seq_len, device=ids.device)": "torch.arange(seq_len)"}),
]
