"""Plausible wrong implementations of notebook 06's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1: masked attention
    Mutant("ex1_masked_attention", "softmax over the decoder-step axis instead of the source axis",
           {"torch.softmax(scores, dim=-1)": "torch.softmax(scores, dim=1)"}),
    Mutant("ex1_masked_attention", "padding not masked",
           {'scores = scores.masked_fill(~mask[:, None, :], float("-inf"))': "pass"}),
    Mutant("ex1_masked_attention", "mask applied after the softmax (padding weights zeroed, rows not renormalised)",
           {'scores = scores.masked_fill(~mask[:, None, :], float("-inf"))': "pass",
            "context = weights @ values": "weights = weights * mask[:, None, :] if mask is not None else weights\n"
                                          "    context = weights @ values"}),
    Mutant("ex1_masked_attention", "padding scores filled with 0 instead of -inf",
           {'float("-inf")': "0.0"}),
    Mutant("ex1_masked_attention", "mask polarity inverted (real tokens masked)",
           {"~mask[:, None, :]": "mask[:, None, :]"}),
    # ex2: additive score
    Mutant("ex2_additive_score", "no tanh: the score becomes linear (v W_q q + v W_k k)",
           {"torch.tanh(q + k)": "(q + k)"}),
    Mutant("ex2_additive_score", "broadcast the wrong way round: scores (B, S, T)",
           {"self.W_q(query)[:, :, None, :]": "self.W_q(query)[:, None, :, :]",
            "self.W_k(keys)[:, None, :, :]": "self.W_k(keys)[:, :, None, :]"}),
    Mutant("ex2_additive_score", "W_k applied to the query (the projections swapped)",
           {"self.W_q(query)": "self.W_k(query)"}),
    # ex3: Luong scores
    Mutant("ex3_luong_score", "scaled by 1/sqrt(d) like the Transformer",
           {"return query @ keys.transpose(1, 2)": "return query @ keys.transpose(1, 2) / query.shape[-1] ** 0.5"}),
    Mutant("ex3_luong_score", "general ignores W (computes the dot score)",
           {"keys = self.W(keys)": "pass"}),
    Mutant("ex3_luong_score", "W used transposed (k W instead of W k)",
           {"keys = self.W(keys)": "keys = keys @ self.W.weight"}),
    Mutant("ex3_luong_score", "scores shaped (B, S, T): keys times queries",
           {"return query @ keys.transpose(1, 2)": "return keys @ query.transpose(1, 2)"}),
    # ex4: attention decoder
    Mutant("ex4_attn_decoder", "concatenation in the wrong order ([s_t; c_t] instead of [c_t; s_t])",
           {"torch.cat([context, h], dim=-1)": "torch.cat([h, context], dim=-1)"}),
    Mutant("ex4_attn_decoder", "the source mask is not passed (padding not masked)",
           {"self.attend(scores, enc_out, src_mask)": "self.attend(scores, enc_out, None)"}),
    Mutant("ex4_attn_decoder", "the output layer reads the GRU state, not the attentional state",
           {"return self.W_out(self.dropout(attentional)), hidden, weights":
            "return self.W_out(self.dropout(h)), hidden, weights"}),
    Mutant("ex4_attn_decoder", "attention queried with the input embeddings instead of the new state",
           {"scores = self.score(h, enc_out)": "scores = self.score(x, enc_out)"}),
    Mutant("ex4_attn_decoder", "returns the incoming hidden state (the state is not carried)",
           {"h, hidden = self.rnn(x, hidden)": "h, _ = self.rnn(x, hidden)"}),
    # ex5: greedy decoding
    Mutant("ex5_greedy_decode", "no input feeding: <sos> is fed at every step",
           {"model.decoder(y[:, None], hidden, enc_out, src_mask)":
            "model.decoder(torch.full_like(y, model.sos_id)[:, None], hidden, enc_out, src_mask)"}),
    Mutant("ex5_greedy_decode", "the hidden state is not carried from step to step",
           {"logits, hidden, w = model.decoder(": "logits, _, w = model.decoder("}),
    Mutant("ex5_greedy_decode", "tokens after <eos> are not replaced by padding",
           {"y = y.masked_fill(done, model.pad_id)": "pass"}),
    Mutant("ex5_greedy_decode", "stops as soon as any sentence has produced <eos>",
           {"if bool(done.all()):": "if bool(done.any()):"}),
    # ex6: beam search
    Mutant("ex6_beam_search", "no length normalisation",
           {" / len(seq) ** alpha": ""}),
    Mutant("ex6_beam_search", "states not reordered to follow their hypotheses",
           {"state = reorder_state(state, torch.tensor([k[0] for k in keep]))":
            "state = reorder_state(state, torch.arange(len(keep))\n"
            "            % (state[0] if isinstance(state, tuple) else state).shape[0])"}),
    Mutant("ex6_beam_search", "candidate score is only the last token's log-prob (the running sum is dropped)",
           {"cand = (scores[:, None] + log_probs": "cand = (0 * scores[:, None] + log_probs"}),
    Mutant("ex6_beam_search", "parent and token swapped when decoding the flat index",
           {"origin, tok = divmod(flat, V)": "origin, tok = flat % V, flat // V"}),
]
