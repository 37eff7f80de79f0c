"""Plausible wrong implementations of notebook 04's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1: the LSTM cell
    Mutant("ex1_lstm_cell", "gates split in the order i, f, o, g (the order of some diagrams)",
           {"i, f, g, o = gates.chunk(4, dim=1)": "i, f, o, g = gates.chunk(4, dim=1)"}),
    Mutant("ex1_lstm_cell", "gates split in ONNX's order i, o, f, g",
           {"i, f, g, o = gates.chunk(4, dim=1)": "i, o, f, g = gates.chunk(4, dim=1)"}),
    Mutant("ex1_lstm_cell", "forget gate applied to the candidate, input gate to the old cell state",
           {"c_new = f * c + i * g": "c_new = i * c + f * g"}),
    Mutant("ex1_lstm_cell", "tanh missing on the output: h = o * c",
           {"h_new = o * torch.tanh(c_new)": "h_new = o * c_new"}),
    Mutant("ex1_lstm_cell", "sigmoid instead of tanh on the candidate g",
           {"g = torch.tanh(g)": "g = torch.sigmoid(g)"}),
    Mutant("ex1_lstm_cell", "the hidden-to-hidden bias is never added",
           {"gates = gates + b_hh": "gates = gates"}),
    Mutant("ex1_lstm_cell", "the hidden state rides the belt instead of the cell state",
           {"c_new = f * c + i * g": "c_new = f * h + i * g"}),
    # ex2: the multi-layer LSTM
    Mutant("ex2_lstm", "the cell state is not carried from step to step",
           {"h, c = self.cell(layer_input[t], h, c,": "h, _ = self.cell(layer_input[t], h, c,"}),
    Mutant("ex2_lstm", "every layer reads the input x instead of the outputs of the layer below",
           {"self.cell(layer_input[t],": "self.cell(x[t],"}),
    Mutant("ex2_lstm", "batch_first handled with reshape instead of transpose (scrambles the batch)",
           {"x = x.transpose(0, 1)": "x = x.reshape(x.shape[1], x.shape[0], -1)"}),
    Mutant("ex2_lstm", "the given initial state is ignored (always zeros)",
           {"h, c = h0[k], c0[k]": "h, c = torch.zeros_like(h0[k]), torch.zeros_like(c0[k])"}),
    Mutant("ex2_lstm", "h_n and c_n hold only the last layer's state",
           {"return output, (torch.stack(h_n), torch.stack(c_n))": "return output, (h[None], c[None])"}),
    Mutant("ex2_lstm", "batch_first also applied to the states (h_0 read as (B, num_layers, H))",
           {"h0, c0 = state ": "h0, c0 = (s.transpose(0, 1) if self.batch_first else s for s in state) "}),
    # ex3: the GRU cell
    Mutant("ex3_gru_cell", "gates read in the order z, r, n",
           {"x_r, x_z, x_n = gx.chunk(3, dim=1)": "x_z, x_r, x_n = gx.chunk(3, dim=1)",
            "h_r, h_z, h_n = gh.chunk(3, dim=1)": "h_z, h_r, h_n = gh.chunk(3, dim=1)"}),
    Mutant("ex3_gru_cell", "z and 1 - z swapped: the update gate keeps the candidate",
           {"return (1 - z) * n + z * h": "return z * n + (1 - z) * h"}),
    Mutant("ex3_gru_cell", "reset gate applied outside the hidden bias: r * (W_hn h) + b_hn",
           {"n = torch.tanh(x_n + r * h_n)":
            "n = torch.tanh(x_n + r * (h @ W_hh.T).chunk(3, dim=1)[2] + (h_n - (h @ W_hh.T).chunk(3, dim=1)[2]))"}),
    Mutant("ex3_gru_cell", "reset gate applied to h before the matrix product (Cho et al. / Keras reset_after=False)",
           {"n = torch.tanh(x_n + r * h_n)":
            "n = torch.tanh(x_n + (r * h) @ W_hh.chunk(3, dim=0)[2].T + (h_n - (h @ W_hh.T).chunk(3, dim=1)[2]))"}),
    Mutant("ex3_gru_cell", "tanh missing on the candidate",
           {"n = torch.tanh(x_n + r * h_n)": "n = x_n + r * h_n"}),
    # ex4: the forget-gate bias
    Mutant("ex4_init_forget_bias", "the first block (the input gate) instead of the forget gate",
           {"p[H:2 * H] =": "p[0:H] ="}),
    Mutant("ex4_init_forget_bias", "value written into both bias_ih and bias_hh (the gate sees 2 x value)",
           {'value if "bias_ih" in name else 0.0': "value"}),
    Mutant("ex4_init_forget_bias", "only the first layer",
           {'if "bias_ih" in name or "bias_hh" in name:': 'if name in ("bias_ih_l0", "bias_hh_l0"):'}),
    Mutant("ex4_init_forget_bias", "in-place write into a parameter outside torch.no_grad()",
           {"with torch.no_grad():": "if True:"}),
    # ex5: the sequence classifier
    Mutant("ex5_sequence_classifier", "reads the last position, which is padding for shorter sequences",
           {"h_last = outputs[torch.arange(ids.shape[0], device=ids.device), last]": "h_last = outputs[:, -1]"}),
    Mutant("ex5_sequence_classifier", "off by one: the position after the last real token",
           {"last = mask.long().sum(dim=1) - 1": "last = mask.long().sum(dim=1).clamp(max=ids.shape[1] - 1)"}),
    Mutant("ex5_sequence_classifier", "uses the layer's h_n from an unpacked padded batch",
           {"outputs, _ = self.rnn(self.embed(ids))": "outputs, state = self.rnn(self.embed(ids))",
            "h_last = outputs[torch.arange(ids.shape[0], device=ids.device), last]":
            "h_last = (state[0] if isinstance(state, tuple) else state)[-1]"}),
    Mutant("ex5_sequence_classifier", "mean of the states over all positions, padding included",
           {"h_last = outputs[torch.arange(ids.shape[0], device=ids.device), last]": "h_last = outputs.mean(dim=1)"}),
]
