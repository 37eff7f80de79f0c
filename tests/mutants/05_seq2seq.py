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
]
