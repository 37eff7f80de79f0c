"""Plausible wrong implementations of notebook 03's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1: the cell
    Mutant("ex1_rnn_cell", "h_prev @ W_hh without the transpose (the shapes still fit for a square W_hh)",
           {"h_prev @ W_hh.T": "h_prev @ W_hh"}),
    Mutant("ex1_rnn_cell", "sigmoid instead of tanh",
           {"torch.tanh(": "torch.sigmoid("}),
    Mutant("ex1_rnn_cell", "only one of the two biases",
           {"h_prev @ W_hh.T + b_hh)": "h_prev @ W_hh.T)"}),
    # ex2: unrolling over a padded batch
    Mutant("ex2_rnn_unroll", "the state keeps updating on padding (final state read at position T-1)",
           {"h = torch.where(keep, h_new, h)": "h = h_new"}),
    Mutant("ex2_rnn_unroll", "outputs at padded steps hold the frozen state instead of zeros",
           {"outputs.append(torch.where(keep, h_new, torch.zeros_like(h_new)))": "outputs.append(h)"}),
    Mutant("ex2_rnn_unroll", "every step starts from h0 instead of the previous state",
           {"h_new = cell(x[:, t], h)": "h_new = cell(x[:, t], h0)"}),
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
           {"        h = cell(x[:, t], h)\n": "        h = cell(x[:, t], h)\n        total = h.sum() if t == 0 else total + h.sum()\n",
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
]
