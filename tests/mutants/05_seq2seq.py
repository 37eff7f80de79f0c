"""Plausible wrong implementations of notebook 05's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1: the encoder's context vector
    Mutant("ex1_encoder", "context vector read after the padding (the last column) instead of the last real token",
           {"last = src_mask.sum(dim=1) - 1": "last = torch.full_like(src_mask.sum(dim=1), src_ids.shape[1] - 1)"}),
    Mutant("ex1_encoder", "off by one: the state after the first padding token",
           {"last = src_mask.sum(dim=1) - 1": "last = src_mask.sum(dim=1).clamp(max=src_ids.shape[1] - 1)"}),
    Mutant("ex1_encoder", "context vector from the first token's state",
           {"last = src_mask.sum(dim=1) - 1": "last = torch.zeros_like(src_mask.sum(dim=1))"}),
    # ex2: the decoder step
    Mutant("ex2_decoder", "returns the old hidden state, so the decoder never moves on",
           {"return logits, new_hidden": "return logits, hidden"}),
    Mutant("ex2_decoder", "softmax applied to the logits",
           {"logits = self.out(output.squeeze(1))": "logits = self.out(output.squeeze(1)).softmax(dim=-1)"}),
    Mutant("ex2_decoder", "prediction from the incoming state: the fed token is ignored (no input feeding)",
           {"logits = self.out(output.squeeze(1))": "logits = self.out(hidden[0])"}),
    # ex3: the loss
    Mutant("ex3_sequence_loss", "padding not masked",
           {"mask = (targets != pad_id).to(nll.dtype)": "mask = torch.ones_like(nll)"}),
    Mutant("ex3_sequence_loss", "pad id hard-coded as 0",
           {"mask = (targets != pad_id).to(nll.dtype)": "mask = (targets != 0).to(nll.dtype)"}),
    Mutant("ex3_sequence_loss", "token mean divides by all B*T positions",
           {"return total / mask.sum().clamp_min(1)": "return total / (B * T)"}),
    Mutant("ex3_sequence_loss", "sentence loss averaged over tokens instead of summed over steps",
           {"return total / B": "return total / mask.sum()"}),
    # ex4: teacher forcing
    Mutant("ex4_teacher_forcing", "teacher forcing feeds the current target (the answer) instead of the previous token",
           {"inputs = tgt_ids[:, t] if use_gold else prediction":
            "inputs = tgt_ids[:, t + 1] if use_gold else prediction"}),
    Mutant("ex4_teacher_forcing", "ratio read backwards: the coin picks the model's prediction with probability ratio",
           {"torch.rand((), generator=generator).item() < ratio": "torch.rand((), generator=generator).item() >= ratio"}),
    Mutant("ex4_teacher_forcing", "one coin for the whole sequence instead of one per step",
           {"use_gold = torch.rand((), generator=generator).item() < ratio\n": "\n",
            "prediction = None\n": "prediction = None\n    use_gold = torch.rand((), generator=generator).item() < ratio\n"}),
    Mutant("ex4_teacher_forcing", "the state is not carried from step to step",
           {"logits, hidden = decoder.step(inputs, hidden)": "logits, _ = decoder.step(inputs, hidden)"}),
    # ex5: greedy decoding
    Mutant("ex5_greedy_decode", "no input feeding: <sos> is fed at every step",
           {"inputs = logits.argmax(dim=-1)                       # (B,) fed back at the next step":
            "inputs = torch.full_like(logits.argmax(dim=-1), sos_id)"}),
    Mutant("ex5_greedy_decode", "<eos> kept in the output",
           {"finished[b] = True": "finished[b] = True\n                    results[b].append(token)"}),
    Mutant("ex5_greedy_decode", "finished sentences keep collecting tokens",
           {"if finished[b]:\n                    continue": "if False:\n                    continue"}),
    Mutant("ex5_greedy_decode", "max_len off by one",
           {"for _ in range(max_len):": "for _ in range(max_len + 1):"}),
    Mutant("ex5_greedy_decode", "stops when the first sentence finishes",
           {"if all(finished):": "if any(finished):"}),
    # ex6: the schedule
    Mutant("ex6_schedule", "exponent sign flipped: the ratio grows",
           {"z = step / k - math.log(k)": "z = -step / k - math.log(k)"}),
    Mutant("ex6_schedule", "plain sigmoid: the factor k is dropped",
           {"z = step / k - math.log(k)": "z = step / k"}),
    Mutant("ex6_schedule", "step multiplied by k instead of divided",
           {"z = step / k - math.log(k)": "z = step * k - math.log(k)"}),
    # ex1: the encoder: the mask, dtypes, layouts, side effects
    Mutant("ex1_encoder", "the lengths counted as src_ids != 0 instead of from src_mask",
           {"last = src_mask.sum(dim=1) - 1": "last = (src_ids != 0).sum(dim=1) - 1"}),
    Mutant("ex1_encoder", "an explicit initial state created on the CPU in float32",
           {"outputs, _ = self.rnn(self.embedding(src_ids))":
            "outputs, _ = self.rnn(self.embedding(src_ids), torch.zeros(1, src_ids.shape[0], self.rnn.hidden_size))"}),
    Mutant("ex1_encoder", "the padding of the caller's src_ids overwritten in place with 0",
           {"outputs, _ = self.rnn(self.embedding(src_ids))":
            "src_ids[~src_mask] = 0\n        outputs, _ = self.rnn(self.embedding(src_ids))"}),
    Mutant("ex1_encoder", "the outputs returned detached (no gradient through them)",
           {"return outputs, hidden": "return outputs.detach(), hidden"}),
    # ex2: the decoder step
    Mutant("ex2_decoder", "the new state returned detached (no gradient across steps)",
           {"return logits, new_hidden": "return logits, new_hidden.detach()"}),
    Mutant("ex2_decoder", "the logits returned detached",
           {"return logits, new_hidden": "return logits.detach(), new_hidden"}),
    Mutant("ex2_decoder", "the embeddings forced to float32 whatever the module's dtype",
           {"emb = self.embedding(prev_tokens).unsqueeze(1)": "emb = self.embedding(prev_tokens).float().unsqueeze(1)"}),
    Mutant("ex2_decoder", "squeeze() drops the batch axis too when B = 1",
           {"logits = self.out(output.squeeze(1))": "logits = self.out(output.squeeze())"}),
    # ex3: the loss
    Mutant("ex3_sequence_loss", "log of softmax instead of cross_entropy (log 0 for large logits)",
           {'nll = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), reduction="none").reshape(B, T)':
            "nll = -torch.log(torch.softmax(logits, dim=-1)).gather(-1, targets[..., None]).squeeze(-1)"}),
    Mutant("ex3_sequence_loss", "log-sum-exp stabilised with the global max instead of each row's max",
           {'nll = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), reduction="none").reshape(B, T)':
            "m = logits.max()\n    lse = m + (logits - m).exp().sum(-1).log()\n"
            "    nll = lse - logits.gather(-1, targets[..., None]).squeeze(-1)"}),
    Mutant("ex3_sequence_loss", "token mean by cross_entropy(ignore_index) (NaN when every target is padding)",
           {"return total / mask.sum().clamp_min(1)":
            "return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), ignore_index=pad_id)"}),
    Mutant("ex3_sequence_loss", "token mean divides by a count of 0 when every target is padding",
           {"return total / mask.sum().clamp_min(1)": "return total / mask.sum()"}),
    Mutant("ex3_sequence_loss", "a Python float returned instead of a tensor",
           {"return total / B": "return (total / B).item()"}),
    # ex4: teacher forcing
    Mutant("ex4_teacher_forcing", "the state detached at every step (truncated backpropagation)",
           {"logits, hidden = decoder.step(inputs, hidden)            # (B, V), (1, B, H)":
            "logits, hidden = decoder.step(inputs, hidden)\n        hidden = hidden.detach()"}),
    Mutant("ex4_teacher_forcing", "a coin drawn at step 0 too (the draws shift by one)",
           {"        if t > 0:\n            use_gold = torch.rand((), generator=generator).item() < ratio\n":
            "        use_gold = torch.rand((), generator=generator).item() < ratio\n        if t > 0:\n"}),
    Mutant("ex4_teacher_forcing", "the prediction updated only at steps that read it (stale after gold steps)",
           {"prediction = logits.argmax(dim=-1).detach()":
            "prediction = logits.argmax(dim=-1).detach() if t == 0 or not use_gold else prediction"}),
    Mutant("ex4_teacher_forcing", "no coin drawn when ratio is 0 or 1 (the generator's draws differ)",
           {"use_gold = torch.rand((), generator=generator).item() < ratio":
            "use_gold = ratio >= 1 or (ratio > 0 and torch.rand((), generator=generator).item() < ratio)"}),
    Mutant("ex4_teacher_forcing", "one coin per sentence instead of one for the batch",
           {"inputs = tgt_ids[:, t] if use_gold else prediction":
            "coins = torch.rand(tgt_ids.shape[0], generator=generator) < ratio\n"
            "            inputs = torch.where(coins, tgt_ids[:, t], prediction)"}),
    # ex5: greedy decoding
    Mutant("ex5_greedy_decode", "`token is eos_id` (true only for small cached ints)",
           {"if token == eos_id:": "if token is eos_id:"}),
    Mutant("ex5_greedy_decode", "the mask rebuilt as src_ids != 0 instead of the src_mask given",
           {"_, hidden = encoder(src_ids, src_mask)": "_, hidden = encoder(src_ids, src_ids != 0)"}),
    Mutant("ex5_greedy_decode", "tokens collected as 0-d tensors instead of Python ints",
           {"for b, token in enumerate(inputs.tolist()):": "for b, token in enumerate(inputs):"}),
    Mutant("ex5_greedy_decode", "the mask ignored: every position treated as a real token",
           {"_, hidden = encoder(src_ids, src_mask)": "_, hidden = encoder(src_ids, torch.ones_like(src_ids, dtype=torch.bool))"}),
    # ex6: the schedule
    Mutant("ex6_schedule", "0.0 returned as soon as z > 30 (the ratio is not 0 there)",
           {"if z > 700:": "if z > 30:"}),
    Mutant("ex6_schedule", "1 - sigmoid(-z): cancellation gives 0.0 for large steps",
           {"return 1.0 / (1.0 + math.exp(z))": "return 1.0 - 1.0 / (1.0 + math.exp(-z))"}),
    Mutant("ex6_schedule", "the overflow guard on step / k instead of on z (0.0 too early for large k)",
           {"if z > 700:": "if step / k > 700:"}),
    Mutant("ex6_schedule", "a shortcut at step 0 before the arguments are checked",
           {"    if k < 1 or step < 0:": "    if step == 0:\n        return k / (k + 1.0)\n    if k < 1 or step < 0:"}),
    Mutant("ex6_schedule", "computed in float32 with torch",
           {"return 1.0 / (1.0 + math.exp(z))": "return float(torch.sigmoid(torch.tensor(-z, dtype=torch.float32)))"}),
    # devices: every tensor an answer creates follows its input's device
    Mutant("ex1_encoder", "the row index built on the default device (torch.arange without device=)",
           {"rows = torch.arange(src_ids.shape[0], device=src_ids.device)": "rows = torch.arange(src_ids.shape[0])"}),
    Mutant("ex5_greedy_decode", "the <sos> input built on the default device (torch.full without device=)",
           {"inputs = torch.full((B,), sos_id, dtype=torch.long, device=src_ids.device)":
            "inputs = torch.full((B,), sos_id, dtype=torch.long)"}),
    # gradient flow: the loss must reach the encoder through the context vector
    Mutant("ex1_encoder", "the context vector detached from the encoder",
           {"hidden = outputs[rows, last].unsqueeze(0)": "hidden = outputs[rows, last].unsqueeze(0).detach()"}),
    Mutant("ex3_sequence_loss", "the loss computed on detached logits (no gradient reaches the model)",
           {"nll = F.cross_entropy(logits.reshape(B * T, V)": "nll = F.cross_entropy(logits.detach().reshape(B * T, V)"}),
]
