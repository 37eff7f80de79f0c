"""Plausible wrong implementations of notebook 09's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1 make_pair
    Mutant("ex1_make_pair", "the final [SEP] is put in segment 0",
           {"seg += [1] * (len(ids_b) + 1)": "seg += [1] * len(ids_b) + [0]"}),
    Mutant("ex1_make_pair", "no [CLS] at the start",
           {"ids = [cls_id] + list(ids_a) + [sep_id]": "ids = list(ids_a) + [sep_id]"}),
    # ex2 embeddings
    Mutant("ex2_embeddings", "segment embeddings left out",
           {"+ self.token_type_embeddings(token_type_ids))": ")"}),
    Mutant("ex2_embeddings", "positions counted from 1",
           {"pos = torch.arange(T, device=input_ids.device)": "pos = torch.arange(1, T + 1, device=input_ids.device)"}),
    Mutant("ex2_embeddings", "no LayerNorm on the sum",
           {"return self.dropout(self.norm(x))": "return self.dropout(x)"}),
    # ex3 layer
    Mutant("ex3_layer", "pre-norm (GPT-2 style) instead of BERT's post-norm",
           {"x = self.attn_norm(x + self.dropout(self.attn_out(ctx)))":
            "x = x + self.dropout(self.attn_out(ctx))",
            "h = self.ffn_out(F.gelu(self.ffn_in(x)))": "h = self.ffn_out(F.gelu(self.ffn_in(self.ffn_norm(x))))",
            "return self.ffn_norm(x + self.dropout(h))": "return self.attn_norm(x + self.dropout(h))"}),
    Mutant("ex3_layer", "tanh approximation of GELU (GPT-2's) instead of the exact one",
           {"F.gelu(self.ffn_in(x))": "F.gelu(self.ffn_in(x), approximate='tanh')"}),
    Mutant("ex3_layer", "padding mask ignored",
           {"scores = scores.masked_fill(": "scores = scores.masked_fill(False & "}),
    Mutant("ex3_layer", "padding mask applied to the queries instead of the keys",
           {"[:, None, None, :]": "[:, None, :, None]"}),
    Mutant("ex3_layer", "scores not scaled by 1/sqrt(d_head)",
           {"/ math.sqrt(hd)": ""}),
    # ex4 MiniBert
    Mutant("ex4_minibert", "attention mask not passed to the layers",
           {"x = layer(x, attention_mask)": "x = layer(x)"}),
    Mutant("ex4_minibert", "segment ids dropped",
           {"x = self.embeddings(input_ids, token_type_ids)": "x = self.embeddings(input_ids)"}),
    Mutant("ex4_minibert", "only the last layer applied to the embeddings",
           {"x = layer(x, attention_mask)": "h = layer(x, attention_mask)",
            "        return x\n": "        return h\n"}),
    # ex5 mask_tokens
    Mutant("ex5_mask_tokens", "mask tokens never replaced: selected tokens stay as they are (no [MASK])",
           {"inputs[to_mask] = mask_id": "pass"}),
    Mutant("ex5_mask_tokens", "labels on every position instead of -100 on unselected ones",
           {"labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))":
            "labels = input_ids.clone()"}),
    Mutant("ex5_mask_tokens", "special tokens and padding can be selected",
           {"selected = (u < mask_prob) & (input_ids >= n_special)": "selected = u < mask_prob"}),
    Mutant("ex5_mask_tokens", "every selected token becomes [MASK] (no 10% random, no 10% kept)",
           {"to_mask = selected & (r < 0.8)": "to_mask = selected"}),
    Mutant("ex5_mask_tokens", "random replacements drawn from the whole vocabulary, special tokens included",
           {"torch.randint(n_special, vocab_size, shape": "torch.randint(0, vocab_size, shape"}),
    # ex6 MLM head + loss
    Mutant("ex6_mlm_head", "LayerNorm before GELU in the head transform",
           {"h = self.norm(F.gelu(self.dense(hidden)))": "h = F.gelu(self.norm(self.dense(hidden)))"}),
    Mutant("ex6_mlm_head", "output bias forgotten",
           {"return h @ self.word_embeddings.weight.T + self.bias": "return h @ self.word_embeddings.weight.T"}),
    Mutant("ex6_mlm_head", "loss averaged over all positions, not over the selected ones",
           {"labels.reshape(-1), ignore_index=IGNORE_INDEX)":
            "labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction='sum') / labels.numel()"}),
    # ex7 classifier
    Mutant("ex7_classifier", "mean over all positions (padding included) instead of [CLS]",
           {"pooled = torch.tanh(self.pooler(h[:, 0]))": "pooled = torch.tanh(self.pooler(h.mean(1)))"}),
    Mutant("ex7_classifier", "last position instead of [CLS]",
           {"pooled = torch.tanh(self.pooler(h[:, 0]))": "pooled = torch.tanh(self.pooler(h[:, -1]))"}),
    Mutant("ex7_classifier", "pooler without tanh",
           {"pooled = torch.tanh(self.pooler(h[:, 0]))": "pooled = self.pooler(h[:, 0])"}),
]
