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
    # ex1: the LSTM cell: dtypes, large inputs, side effects
    Mutant("ex1_lstm_cell", "the caller's cell state updated in place (c.mul_(f).add_(i * g))",
           {"c_new = f * c + i * g": "c_new = c.mul_(f).add_(i * g)"}),
    Mutant("ex1_lstm_cell", "computed in float32 whatever the inputs' dtype",
           {"gates = x @ W_ih.T + h @ W_hh.T": "gates = (x.float() @ W_ih.float().T + h.float() @ W_hh.float().T).to(x.dtype)"}),
    Mutant("ex1_lstm_cell", "tanh written as (e^2x - 1) / (e^2x + 1): NaN for large pre-activations",
           {"g = torch.tanh(g)": "g = (torch.exp(2 * g) - 1) / (torch.exp(2 * g) + 1)"}),
    Mutant("ex1_lstm_cell", "the biases added only when both are given",
           {"    if b_ih is not None:\n        gates = gates + b_ih\n    if b_hh is not None:\n        gates = gates + b_hh\n":
            "    if b_ih is not None and b_hh is not None:\n        gates = gates + b_ih + b_hh\n"}),
    # ex2: the multi-layer LSTM
    Mutant("ex2_lstm", "the zero initial state created on the CPU in float32",
           {"zeros = x.new_zeros(self.num_layers, B, self.hidden_size)": "zeros = torch.zeros(self.num_layers, B, self.hidden_size)"}),
    Mutant("ex2_lstm", "the state detached at every step (truncated backpropagation)",
           {"outputs.append(h)": "outputs.append(h)\n                h, c = h.detach(), c.detach()"}),
    Mutant("ex2_lstm", "the caller's batch-first input transposed in place (x.transpose_)",
           {"x = x.transpose(0, 1)": "x = x.transpose_(0, 1)"}),
    Mutant("ex2_lstm", "the global lstm_cell called instead of self.cell",
           {"h, c = self.cell(layer_input[t],": "h, c = lstm_cell(layer_input[t],"}),
    # ex3: the GRU cell
    Mutant("ex3_gru_cell", "computed in float32 whatever the inputs' dtype",
           {"gx = x @ W_ih.T ": "gx = (x.float() @ W_ih.float().T).to(x.dtype) ",
            "gh = h @ W_hh.T ": "gh = (h.float() @ W_hh.float().T).to(h.dtype) "}),
    Mutant("ex3_gru_cell", "tanh written as (e^2x - 1) / (e^2x + 1): NaN for large pre-activations",
           {"n = torch.tanh(x_n + r * h_n)": "n = (torch.exp(2 * (x_n + r * h_n)) - 1) / (torch.exp(2 * (x_n + r * h_n)) + 1)"}),
    Mutant("ex3_gru_cell", "the caller's hidden state updated in place",
           {"return (1 - z) * n + z * h": "return h.mul_(z).add_((1 - z) * n)"}),
    Mutant("ex3_gru_cell", "the biases added only when both are given",
           {"    if b_ih is not None:\n        gx = gx + b_ih\n    if b_hh is not None:\n        gh = gh + b_hh\n":
            "    if b_ih is not None and b_hh is not None:\n        gx = gx + b_ih\n        gh = gh + b_hh\n"}),
    # ex4: the forget-gate bias
    Mutant("ex4_init_forget_bias", "the bias replaced by a new Parameter (an optimiser built before keeps the old one)",
           {"                p[H:2 * H] = value if \"bias_ih\" in name else 0.0":
            "                new = p.detach().clone()\n"
            "                new[H:2 * H] = value if \"bias_ih\" in name else 0.0\n"
            "                mod, attr = lstm.get_submodule(name.rpartition('.')[0]) if '.' in name else lstm, name.rpartition('.')[2]\n"
            "                setattr(mod, attr, nn.Parameter(new))"}),
    Mutant("ex4_init_forget_bias", "the reverse direction of a bidirectional LSTM skipped",
           {'if "bias_ih" in name or "bias_hh" in name:': 'if ("bias_ih" in name or "bias_hh" in name) and "reverse" not in name:'}),
    Mutant("ex4_init_forget_bias", "the block size taken from the hidden size attribute of nn.LSTM only",
           {"H = p.shape[0] // 4": "H = lstm.hidden_size"}),
    Mutant("ex4_init_forget_bias", "nothing returned",
           {"    return lstm\n": "    return None\n"}),
    Mutant("ex4_init_forget_bias", "the forget block of bias_hh kept instead of zeroed",
           {'p[H:2 * H] = value if "bias_ih" in name else 0.0': 'p[H:2 * H] = value if "bias_ih" in name else p[H:2 * H]'}),
    # ex5: the sequence classifier
    Mutant("ex5_sequence_classifier", "the lengths counted as ids != 0 instead of from the mask",
           {"last = mask.long().sum(dim=1) - 1": "last = (ids != 0).long().sum(dim=1) - 1"}),
    Mutant("ex5_sequence_classifier", "the padding of the caller's ids overwritten in place",
           {"outputs, _ = self.rnn(self.embed(ids))":
            "if mask is not None:\n            ids[~mask] = 0\n        outputs, _ = self.rnn(self.embed(ids))"}),
    Mutant("ex5_sequence_classifier", "the head fed float32 whatever the module's dtype",
           {"return self.head(h_last)": "return self.head(h_last.float())"}),
    Mutant("ex1_lstm_cell", "computed and returned in float64 whatever the inputs' dtype",
           {"gates = x @ W_ih.T + h @ W_hh.T": "gates = x.double() @ W_ih.double().T + h.double() @ W_hh.double().T",
            "c_new = f * c + i * g": "c_new = f * c.double() + i * g"}),
    Mutant("ex2_lstm", "the final states written into the caller's h_0 and c_0",
           {"            h_n.append(h)\n": "            h0[k], c0[k] = h.detach(), c.detach()\n            h_n.append(h)\n"}),
    Mutant("ex2_lstm", "each layer's input cast to float32 whatever the module's dtype",
           {"h, c = self.cell(layer_input[t], h, c,": "h, c = self.cell(layer_input[t].float(), h.float(), c.float(),"}),
    Mutant("ex2_lstm", "the given initial state detached (no gradient to h_0, c_0)",
           {"h, c = h0[k], c0[k]": "h, c = h0[k].detach(), c0[k].detach()"}),
    Mutant("ex3_gru_cell", "computed and returned in float64 whatever the inputs' dtype",
           {"gx = x @ W_ih.T ": "gx = x.double() @ W_ih.double().T ",
            "gh = h @ W_hh.T ": "gh = h.double() @ W_hh.double().T ",
            "return (1 - z) * n + z * h": "return (1 - z) * n + z * h.double()"}),
    Mutant("ex4_init_forget_bias", "value written into bias_hh and 0 into bias_ih (the same sum)",
           {'p[H:2 * H] = value if "bias_ih" in name else 0.0': 'p[H:2 * H] = value if "bias_hh" in name else 0.0'}),
    Mutant("ex4_init_forget_bias", "only nn.LSTM's names (bias_ih_l...): an nn.LSTMCell is left as it was",
           {'if "bias_ih" in name or "bias_hh" in name:': 'if "bias_ih_l" in name or "bias_hh_l" in name:'}),
    Mutant("ex5_sequence_classifier", "the embeddings detached (the embedding table never learns)",
           {"outputs, _ = self.rnn(self.embed(ids))": "outputs, _ = self.rnn(self.embed(ids).detach())"}),

    # Devices: tensors an answer creates follow its inputs' device
    Mutant("ex1_lstm_cell", "a missing bias replaced by torch.zeros(4H) made on the CPU",
           {"    if b_ih is not None:\n        gates = gates + b_ih\n":
            "    if b_ih is None:\n        b_ih = torch.zeros(W_ih.shape[0], dtype=x.dtype)\n    gates = gates + b_ih\n"}),
    Mutant("ex2_lstm", "the zero initial state made with torch.zeros on the CPU (right dtype)",
           {"zeros = x.new_zeros(self.num_layers, B, self.hidden_size)":
            "zeros = torch.zeros(self.num_layers, B, self.hidden_size, dtype=x.dtype)"}),
    Mutant("ex3_gru_cell", "a missing hidden bias replaced by torch.zeros(3H) made on the CPU",
           {"    if b_hh is not None:\n        gh = gh + b_hh\n":
            "    if b_hh is None:\n        b_hh = torch.zeros(W_hh.shape[0], dtype=h.dtype)\n    gh = gh + b_hh\n"}),
    Mutant("ex5_sequence_classifier", "last states copied into a torch.zeros buffer made on the CPU",
           {"        h_last = outputs[torch.arange(ids.shape[0], device=ids.device), last]   # (B, H)\n":
            "        h_last = torch.zeros(ids.shape[0], outputs.shape[2], dtype=outputs.dtype)\n"
            "        for b in range(ids.shape[0]):\n            h_last[b] = outputs[b, last[b]]\n"}),
]
