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
    Mutant("ex5_greedy_decode", "the chosen token is not fed back: <sos> is fed at every step",
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
    # ex1: the mask, the softmax's stability, layouts, side effects
    Mutant("ex1_masked_attention", "softmax stabilised with the global max instead of each row's max",
           {"weights = torch.softmax(scores, dim=-1)":
            "e = torch.exp(scores - scores.max())\n    weights = e / e.sum(-1, keepdim=True)"}),
    Mutant("ex1_masked_attention", "padding filled with -1e9 instead of -inf",
           {'float("-inf")': "-1e9"}),
    Mutant("ex1_masked_attention", "an additive -1e9 mask (scores + (~mask) * -1e9) instead of masked_fill",
           {'scores = scores.masked_fill(~mask[:, None, :], float("-inf"))':
            "scores = scores + (~mask[:, None, :]) * -1e9"}),
    Mutant("ex1_masked_attention", "the caller's scores overwritten in place (masked_fill_)",
           {"scores = scores.masked_fill(": "scores = scores.masked_fill_("}),
    Mutant("ex1_masked_attention", "padding zeroed after the softmax, then the rows renormalised",
           {'scores = scores.masked_fill(~mask[:, None, :], float("-inf"))': "pass",
            "weights = torch.softmax(scores, dim=-1)":
            "weights = torch.softmax(scores, dim=-1)\n    if mask is not None:\n"
            "        weights = weights * mask[:, None, :]\n        weights = weights / weights.sum(-1, keepdim=True)"}),
    Mutant("ex1_masked_attention", "softmax computed in float32 whatever the input's dtype",
           {"weights = torch.softmax(scores, dim=-1)": "weights = torch.softmax(scores.float(), dim=-1).to(scores.dtype)"}),
    Mutant("ex1_masked_attention", "NaN poisoning: the caller's values overwritten with NaN",
           {"context = weights @ values": "values.data.fill_(float('nan'))\n    context = weights @ values"}),
    # ex2: additive score
    Mutant("ex2_additive_score", "W_k(keys) cached on the module on the first call and reused for later keys",
           {"k = self.W_k(keys)[:, None, :, :]":
            "if not hasattr(self, '_k_cache'):\n            self._k_cache = self.W_k(keys)\n"
            "        k = self._k_cache[:, None, :, :]"}),
    Mutant("ex2_additive_score", "tanh written as (e^2x - 1) / (e^2x + 1): NaN for large inputs",
           {"torch.tanh(q + k)": "((2 * (q + k)).exp() - 1) / ((2 * (q + k)).exp() + 1)"}),
    Mutant("ex2_additive_score", "a loop over source positions into a float32 buffer",
           {"return self.v(torch.tanh(q + k)).squeeze(-1)":
            "e = torch.zeros(q.shape[0], q.shape[1], k.shape[2])\n"
            "        for s in range(k.shape[2]):\n"
            "            e[:, :, s] = self.v(torch.tanh(q[:, :, 0] + k[:, 0, s][:, None])).squeeze(-1)\n"
            "        return e"}),
    Mutant("ex2_additive_score", "squeeze() drops every axis of size 1 (batch 1, one step, one key)",
           {".squeeze(-1)": ".squeeze()"}),
    # ex3: Luong scores
    Mutant("ex3_luong_score", "W(keys) cached on the module on the first call and reused for later keys",
           {"keys = self.W(keys)":
            "if not hasattr(self, '_k_cache'):\n                self._k_cache = self.W(keys)\n"
            "            keys = self._k_cache"}),
    Mutant("ex3_luong_score", "the keys detached before W: no gradient reaches the encoder",
           {"keys = self.W(keys)": "keys = self.W(keys.detach())"}),
    Mutant("ex3_luong_score", "scores computed in float32 whatever the input's dtype",
           {"return query @ keys.transpose(1, 2)": "return query.float() @ keys.float().transpose(1, 2)"}),
    # ex4: attention decoder
    Mutant("ex4_attn_decoder", "the source mask rebuilt from all-zero encoder states instead of src_mask",
           {"self.attend(scores, enc_out, src_mask)": "self.attend(scores, enc_out, enc_out.abs().sum(-1) != 0)"}),
    Mutant("ex4_attn_decoder", "no dropout on the embeddings",
           {"x = self.dropout(self.embedding(tgt_in))": "x = self.embedding(tgt_in)"}),
    Mutant("ex4_attn_decoder", "the incoming hidden state detached (no gradient to the encoder's summary)",
           {"h, hidden = self.rnn(x, hidden)": "h, hidden = self.rnn(x, hidden.detach())"}),
    Mutant("ex4_attn_decoder", "the returned hidden state detached (no gradient across calls)",
           {"return self.W_out(self.dropout(attentional)), hidden, weights":
            "return self.W_out(self.dropout(attentional)), hidden.detach(), weights"}),
    Mutant("ex4_attn_decoder", "the global masked_attention called instead of self.attend",
           {"self.attend(scores": "masked_attention(scores"}),
    Mutant("ex4_attn_decoder", "dropout applied to the context vector too",
           {"torch.cat([context, h], dim=-1)": "torch.cat([self.dropout(context), h], dim=-1)"}),
    # ex5: greedy decoding
    Mutant("ex5_greedy_decode", "`token is eos_id` (true only for small cached ints)",
           {"done = done | (y == model.eos_id)":
            "done = done | torch.tensor([int(t) is model.eos_id for t in y], dtype=torch.bool, device=src.device)"}),
    Mutant("ex5_greedy_decode", "finished sentences padded with 0 instead of model.pad_id",
           {"y = y.masked_fill(done, model.pad_id)": "y = y.masked_fill(done, 0)"}),
    Mutant("ex5_greedy_decode", "the first input hard-coded as id 2 instead of model.sos_id",
           {"torch.full((B,), model.sos_id,": "torch.full((B,), 2,"}),
    Mutant("ex5_greedy_decode", "the mask rebuilt as src != 0 instead of the src_mask given",
           {"enc_out, hidden = model.encode(src, src_mask)": "src_mask = src != 0\n    enc_out, hidden = model.encode(src, src_mask)"}),
    Mutant("ex5_greedy_decode", "attention rows cast to float32 whatever the model's dtype",
           {"attn.append(w[:, 0].masked_fill(done[:, None], 0.0))": "attn.append(w[:, 0].float().masked_fill(done[:, None], 0.0))"}),
    # ex6: beam search
    Mutant("ex6_beam_search", "`tok is eos_id` (true only for small cached ints)",
           {"if tok == eos_id:": "if tok is eos_id:"}),
    Mutant("ex6_beam_search", "impossible (-inf) candidates kept in the beam",
           {"if score == -math.inf:": "if False:"}),
    Mutant("ex6_beam_search", "max_len=0 not handled (the empty hypothesis divided by 0 ** alpha)",
           {"if max_len == 0:": "if False:"}),
    Mutant("ex6_beam_search", "the score returned as a tensor instead of a float",
           {"return finished[best][1], float(finished[best][0])":
            "return finished[best][1], torch.tensor(finished[best][0])"}),
    Mutant("ex6_beam_search", "no answer when every candidate is impossible (max() of an empty list)",
           {"if not finished:": "if False:"}),
    Mutant("ex6_beam_search", "topk asked for beam_size candidates even when fewer than beam_size exist",
           {"torch.topk(cand, min(beam_size, cand.numel()))": "torch.topk(cand, beam_size)"}),
    # modes: dropout must follow train()/eval()
    Mutant("ex4_attn_decoder", "functional dropout on the embeddings without training=self.training (on in eval)",
           {"x = self.dropout(self.embedding(tgt_in))": "x = F.dropout(self.embedding(tgt_in), self.dropout.p)"}),
    Mutant("ex4_attn_decoder", "functional dropout before W_out without training=self.training (on in eval)",
           {"return self.W_out(self.dropout(attentional)), hidden, weights":
            "return self.W_out(F.dropout(attentional, self.dropout.p)), hidden, weights"}),
    # devices: every tensor an answer creates follows its input's device
    Mutant("ex5_greedy_decode", "the <sos> input built on the default device (torch.full without device=)",
           {"y = torch.full((B,), model.sos_id, dtype=torch.long, device=src.device)":
            "y = torch.full((B,), model.sos_id, dtype=torch.long)"}),
    Mutant("ex5_greedy_decode", "the finished flags built on the default device",
           {"done = torch.zeros(B, dtype=torch.bool, device=src.device)": "done = torch.zeros(B, dtype=torch.bool)"}),
    Mutant("ex5_greedy_decode", "a plain model's zero attention rows built on the default device",
           {"w = torch.zeros(B, 1, S, dtype=enc_out.dtype, device=enc_out.device)":
            "w = torch.zeros(B, 1, S, dtype=enc_out.dtype)"}),
    # precision and ties in beam search
    Mutant("ex6_beam_search", "scores accumulated in float32",
           {"scores = torch.zeros(1, dtype=torch.float64)": "scores = torch.zeros(1)",
            "log_probs.detach().double().cpu()": "log_probs.detach().float().cpu()",
            "scores = torch.tensor([k[2] for k in keep], dtype=torch.float64)":
            "scores = torch.tensor([k[2] for k in keep])"}),
    Mutant("ex6_beam_search", "final ties go to the hypothesis finished last",
           {"key=lambda i: (finished[i][0], -i))": "key=lambda i: (finished[i][0], i))"}),
    Mutant("ex6_beam_search", "final ties broken by comparing (score, tokens) tuples",
           {"best = max(range(len(finished)), key=lambda i: (finished[i][0], -i))":
            "best = max(range(len(finished)), key=lambda i: finished[i])"}),
]
