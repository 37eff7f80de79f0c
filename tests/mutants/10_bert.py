"""Plausible wrong implementations of notebook 10's exercises; each must lose points."""
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
    # ex1 make_pair: empty and non-list segments
    Mutant("ex1_make_pair", "an empty segment B treated as no segment B (if ids_b: instead of is not None)",
           {"    if ids_b is not None:": "    if ids_b:"}),
    Mutant("ex1_make_pair", "segments concatenated with + as lists: a tuple or a tensor segment breaks it",
           {"ids = [cls_id] + list(ids_a) + [sep_id]": "ids = [cls_id] + ids_a + [sep_id]",
            "ids += list(ids_b) + [sep_id]": "ids += ids_b + [sep_id]"}),
    Mutant("ex1_make_pair", "segment A copied with .copy(), which tuples and tensors do not have as lists do",
           {"ids = [cls_id] + list(ids_a) + [sep_id]": "ids = ids_a.copy()\n    ids.insert(0, cls_id)\n    ids.append(sep_id)"}),
    Mutant("ex1_make_pair", "segment ids counted from the [SEP] tokens, so a segment holding the [SEP] id splits early",
           {"    return torch.tensor(ids, dtype=torch.long), torch.tensor(seg, dtype=torch.long)":
            "    t = torch.tensor(ids, dtype=torch.long)\n"
            "    seg = ((t == sep_id).long().cumsum(0) - (t == sep_id).long()).clamp(max=1)\n"
            "    return t, seg"}),
    # ex2 embeddings: dropout, LayerNorm eps
    Mutant("ex2_embeddings", "dropout forgotten",
           {"return self.dropout(self.norm(x))": "return self.norm(x)"}),
    Mutant("ex2_embeddings", "functional dropout without training=self.training: it still drops in eval mode",
           {"return self.dropout(self.norm(x))": "return F.dropout(self.norm(x), self.dropout.p)"}),
    Mutant("ex2_embeddings", "dropout before the LayerNorm",
           {"return self.dropout(self.norm(x))": "return self.norm(self.dropout(x))"}),
    Mutant("ex2_embeddings", "LayerNorm by hand with PyTorch's default eps instead of cfg.layer_norm_eps",
           {"return self.dropout(self.norm(x))":
            "return self.dropout(F.layer_norm(x, (x.shape[-1],), self.norm.weight, self.norm.bias))"}),
    Mutant("ex2_embeddings", "dropout on the word embeddings only, before the sum",
           {"x = (self.word_embeddings(input_ids) + self.position_embeddings(pos)[None]":
            "x = (self.dropout(self.word_embeddings(input_ids)) + self.position_embeddings(pos)[None]",
            "return self.dropout(self.norm(x))": "return self.norm(x)"}),
    # ex3 layer: the visible test's blind spots, mask value and type, dtype, dropout, softmax by hand
    Mutant("ex3_layer", "heads split as (B, nh, T, hd) straight from (B, T, H): positions and features mixed",
           {"return t.view(B, T, nh, hd).transpose(1, 2)": "return t.reshape(B, nh, T, hd)"}),
    Mutant("ex3_layer", "scores scaled by 1/sqrt(H) instead of 1/sqrt(head size)",
           {"/ math.sqrt(hd)": "/ math.sqrt(H)"}),
    Mutant("ex3_layer", "padded keys get -1e4 instead of -inf (not enough for large scores)",
           {'~attention_mask.bool()[:, None, None, :], float("-inf"))': '~attention_mask.bool()[:, None, None, :], -1e4)'}),
    Mutant("ex3_layer", "a 0/1 integer mask used as it is: ~ on integers is not a logical not",
           {"~attention_mask.bool()[:, None, None, :]": "~attention_mask[:, None, None, :]"}),
    Mutant("ex3_layer", "softmax computed in float32 whatever the input dtype",
           {"torch.softmax(scores, dim=-1)": "torch.softmax(scores.float(), dim=-1)"}),
    Mutant("ex3_layer", "attention dropout forgotten",
           {"att = self.attn_dropout(torch.softmax(scores, dim=-1))": "att = torch.softmax(scores, dim=-1)"}),
    Mutant("ex3_layer", "softmax by hand with one max over the whole tensor instead of each row",
           {"att = self.attn_dropout(torch.softmax(scores, dim=-1))":
            "e = (scores - scores.max()).exp()\n        att = self.attn_dropout(e / e.sum(dim=-1, keepdim=True))"}),
    # ex4 MiniBert: a padding id where there is none, gradients
    Mutant("ex4_minibert", "no mask given: padding assumed where the id is 0",
           {"attention_mask = torch.ones_like(input_ids, dtype=torch.bool)": "attention_mask = input_ids != 0"}),
    Mutant("ex4_minibert", "the given mask combined with input_ids != 0",
           {"        x = self.embeddings(input_ids, token_type_ids)":
            "        attention_mask = attention_mask.bool() & (input_ids != 0)\n        x = self.embeddings(input_ids, token_type_ids)"}),
    Mutant("ex4_minibert", "the embeddings detached: fine-tuning never reaches them",
           {"x = self.embeddings(input_ids, token_type_ids)": "x = self.embeddings(input_ids, token_type_ids).detach()"}),
    Mutant("ex4_minibert", "hidden states detached between layers",
           {"            x = layer(x, attention_mask)": "            x = layer(x, attention_mask).detach()"}),
    # ex5 mask_tokens: the stated order of the draws, hard-coded ids, the range of random tokens
    Mutant("ex5_mask_tokens", "the 80/10/10 draw made before the selection draw",
           {"    u = torch.rand(shape, generator=generator).to(dev)\n": "    r = torch.rand(shape, generator=generator).to(dev)\n    u = torch.rand(shape, generator=generator).to(dev)\n",
            "    r = torch.rand(shape, generator=generator).to(dev)\n    to_mask": "    to_mask"}),
    Mutant("ex5_mask_tokens", "random tokens drawn only for the positions that need one",
           {"random_ids = torch.randint(n_special, vocab_size, shape, generator=generator).to(dev)":
            "random_ids = torch.zeros_like(input_ids)\n    random_ids[to_random] = torch.randint(n_special, vocab_size, (int(to_random.sum()),), generator=generator).to(dev)"}),
    Mutant("ex5_mask_tokens", "special tokens hard-coded as ids below 5 instead of n_special",
           {"(input_ids >= n_special)": "(input_ids >= 5)"}),
    Mutant("ex5_mask_tokens", "[MASK] id hard-coded as 4",
           {"inputs[to_mask] = mask_id": "inputs[to_mask] = 4"}),
    Mutant("ex5_mask_tokens", "random tokens never the last id of the vocabulary (off by one)",
           {"torch.randint(n_special, vocab_size, shape": "torch.randint(n_special, vocab_size - 1, shape"}),
    # ex6 head and loss: log of softmax, eps, return type, dtype
    Mutant("ex6_mlm_head", "loss as the log of the softmax (log(0) for large logits)",
           {"    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX)":
            "    logp = torch.log(torch.softmax(logits, dim=-1)).reshape(-1, logits.shape[-1])\n"
            "    return F.nll_loss(logp, labels.reshape(-1), ignore_index=IGNORE_INDEX)"}),
    Mutant("ex6_mlm_head", "head LayerNorm by hand with PyTorch's default eps instead of cfg.layer_norm_eps",
           {"h = self.norm(F.gelu(self.dense(hidden)))":
            "h = F.gelu(self.dense(hidden))\n        h = F.layer_norm(h, (h.shape[-1],), self.norm.weight, self.norm.bias)"}),
    Mutant("ex6_mlm_head", "loss returned as a Python float (no gradient)",
           {"labels.reshape(-1), ignore_index=IGNORE_INDEX)\n": "labels.reshape(-1), ignore_index=IGNORE_INDEX).item()\n"}),
    Mutant("ex6_mlm_head", "loss computed in float32 whatever the dtype of the logits",
           {"F.cross_entropy(logits.reshape(-1, logits.shape[-1])": "F.cross_entropy(logits.float().reshape(-1, logits.shape[-1])"}),
    Mutant("ex6_mlm_head", "unselected labels overwritten in the caller's tensor to compute a masked mean",
           {"    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX)":
            "    keep = labels != IGNORE_INDEX\n    labels[~keep] = 0\n"
            "    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction='none')\n"
            "    return (nll * keep.reshape(-1)).sum() / keep.sum()"}),
    # ex7 classifier: dropout, segments
    Mutant("ex7_classifier", "dropout forgotten",
           {"return self.classifier(self.dropout(pooled))": "return self.classifier(pooled)"}),
    Mutant("ex7_classifier", "functional dropout without training=self.training: it still drops in eval mode",
           {"return self.classifier(self.dropout(pooled))": "return self.classifier(F.dropout(pooled, self.dropout.p))"}),
    Mutant("ex7_classifier", "dropout on the [CLS] vector before the pooler instead of after it",
           {"pooled = torch.tanh(self.pooler(h[:, 0]))": "pooled = torch.tanh(self.pooler(self.dropout(h[:, 0])))",
            "return self.classifier(self.dropout(pooled))": "return self.classifier(pooled)"}),
    Mutant("ex7_classifier", "segment ids not passed to the encoder",
           {"h = self.bert(input_ids, token_type_ids, attention_mask)": "h = self.bert(input_ids, None, attention_mask)"}),
    Mutant("ex7_classifier", "no mask given: padding assumed where the id is 0",
           {"h = self.bert(input_ids, token_type_ids, attention_mask)":
            "h = self.bert(input_ids, token_type_ids, input_ids != 0 if attention_mask is None else attention_mask)"}),
    # issue classes: devices, eval-mode dropout, random parameters, the global generator, gradients
    Mutant("ex2_embeddings", "positions made on the CPU whatever the input's device (arange without device=)",
           {"pos = torch.arange(T, device=input_ids.device)": "pos = torch.arange(T)"}),
    Mutant("ex2_embeddings", "default segment ids made on the CPU with torch.zeros(B, T)",
           {"token_type_ids = torch.zeros_like(input_ids)": "token_type_ids = torch.zeros(B, T, dtype=torch.long)"}),
    Mutant("ex3_layer", "functional attention dropout without training=self.training: it still drops in eval mode",
           {"att = self.attn_dropout(torch.softmax(scores, dim=-1))":
            "att = F.dropout(torch.softmax(scores, dim=-1), self.attn_dropout.p)"}),
    Mutant("ex3_layer", "functional dropout on the sublayer outputs, active in eval mode",
           {"x = self.attn_norm(x + self.dropout(self.attn_out(ctx)))":
            "x = self.attn_norm(x + F.dropout(self.attn_out(ctx), self.dropout.p))",
            "return self.ffn_norm(x + self.dropout(h))": "return self.ffn_norm(x + F.dropout(h, self.dropout.p))"}),
    Mutant("ex3_layer", "the attention's LayerNorm reused after the feed-forward sublayer",
           {"return self.ffn_norm(x + self.dropout(h))": "return self.attn_norm(x + self.dropout(h))"}),
    Mutant("ex3_layer", "an additive mask built on the CPU with torch.zeros",
           {'scores = scores.masked_fill(~attention_mask.bool()[:, None, None, :], float("-inf"))':
            'scores = scores + torch.zeros(attention_mask.shape, dtype=scores.dtype).masked_fill('
            '~attention_mask.bool(), float("-inf"))[:, None, None, :]'}),
    Mutant("ex4_minibert", "the all-real mask made on the CPU with torch.ones(shape)",
           {"attention_mask = torch.ones_like(input_ids, dtype=torch.bool)":
            "attention_mask = torch.ones(input_ids.shape, dtype=torch.bool)"}),
    Mutant("ex5_mask_tokens", "a fresh generator seeded 0 at every call when none is given",
           {"    dev = input_ids.device\n": "    dev = input_ids.device\n    if generator is None:\n"
            "        generator = torch.Generator().manual_seed(0)\n"}),
    Mutant("ex6_mlm_head", "the tanh approximation of GELU in the head",
           {"h = self.norm(F.gelu(self.dense(hidden)))": "h = self.norm(F.gelu(self.dense(hidden), approximate='tanh'))"}),
    Mutant("ex6_mlm_head", "the tied embedding matrix detached in the head",
           {"return h @ self.word_embeddings.weight.T + self.bias": "return h @ self.word_embeddings.weight.detach().T + self.bias"}),
    Mutant("ex7_classifier", "the [CLS] vector detached: fine-tuning never reaches the encoder",
           {"pooled = torch.tanh(self.pooler(h[:, 0]))": "pooled = torch.tanh(self.pooler(h[:, 0].detach()))"}),
    # ex8 load_bert_weights: names that look alike, layouts, copies
    Mutant("ex8_load_weights", "query and key swapped (both 384 x 384: no error)",
           {'"query": "attention.self.query", "key": "attention.self.key"':
            '"query": "attention.self.key", "key": "attention.self.query"'}),
    Mutant("ex8_load_weights", "the two LayerNorms of a layer swapped (same shapes: no error)",
           {'"attn_norm": "attention.output.LayerNorm"': '"attn_norm": "output.LayerNorm"',
            '"ffn_norm": "output.LayerNorm"': '"ffn_norm": "attention.output.LayerNorm"'}),
    Mutant("ex8_load_weights", "every square weight transposed, as if Hugging Face stored (in, out)",
           {"            p.copy_(t)": "            p.copy_(t.T if t.dim() == 2 and t.shape[0] == t.shape[1] else t)"}),
    Mutant("ex8_load_weights", "layers loaded in reverse order",
           {'source = f"encoder.layer.{parts[1]}.': 'source = f"encoder.layer.{len(model.layers) - 1 - int(parts[1])}.'}),
    Mutant("ex8_load_weights", "the embeddings' LayerNorm left at its initial values",
           {"            t = state_dict[source]\n":
            "            if name.startswith('embeddings.norm'):\n                continue\n            t = state_dict[source]\n"}),
    Mutant("ex8_load_weights", "parameters replaced by the state dict's tensors (p.data = t): shared memory, its dtype",
           {"            p.copy_(t)": "            p.data = t"}),
    Mutant("ex8_load_weights", "names missing from the state dict skipped in silence",
           {"            t = state_dict[source]\n": "            if source not in state_dict:\n                continue\n"
            "            t = state_dict[source]\n"}),
    Mutant("ex8_load_weights", "shapes not checked: a wrong shape fails with copy_'s RuntimeError, not ValueError",
           {"            if t.shape != p.shape:\n": "            if False:\n"}),
    Mutant("ex8_load_weights", "the segment embeddings not loaded",
           {"            t = state_dict[source]\n":
            "            if 'token_type' in name:\n                continue\n            t = state_dict[source]\n"}),
    Mutant("ex8_load_weights", "biases not loaded",
           {"            t = state_dict[source]\n":
            "            if name.endswith('bias'):\n                continue\n            t = state_dict[source]\n"}),
]
