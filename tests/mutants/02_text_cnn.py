"""Plausible wrong implementations of notebook 02's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1: vocabulary
    Mutant("ex1_build_vocab", "ties broken by first occurrence instead of alphabetically",
           {"kept.sort(key=lambda tok: (-counts[tok], tok))": "kept.sort(key=lambda tok: -counts[tok])"}),
    Mutant("ex1_build_vocab", "min_freq used as a strict threshold (count > min_freq)",
           {"c >= min_freq": "c > min_freq"}),
    Mutant("ex1_build_vocab", "special tokens found in the corpus are added a second time",
           {" and tok not in specials": ""}),
    Mutant("ex1_build_vocab", "rarest tokens first",
           {"(-counts[tok], tok)": "(counts[tok], tok)"}),
    # ex2: batch encoding
    Mutant("ex2_encode_batch", "unknown tokens mapped to <pad> instead of <unk>",
           {"stoi.get(tok, unk)": "stoi.get(tok, pad)"}),
    Mutant("ex2_encode_batch", "<pad> assumed to be id 0",
           {"torch.full((len(seqs), T), pad,": "torch.full((len(seqs), T), 0,"}),
    Mutant("ex2_encode_batch", "padding on the left while the mask says right",
           {"ids[b, :len(seq)] = torch.tensor(seq, dtype=torch.long)":
            "ids[b, T - len(seq):] = torch.tensor(seq, dtype=torch.long)"}),
    Mutant("ex2_encode_batch", "mask inverted (True on padding)",
           {"mask[b, :len(seq)] = True": "mask[b, len(seq):] = True"}),
    Mutant("ex2_encode_batch", "<sos> appended at the end instead of put at the start",
           {"seq = [stoi[SOS]] + seq": "seq = seq + [stoi[SOS]]"}),
    # ex3: one-hot embedding
    Mutant("ex3_one_hot_embedding", "F.one_hot without num_classes (V guessed from the largest id)",
           {"F.one_hot(ids, num_classes=weight.shape[0])": "F.one_hot(ids)"}),
    Mutant("ex3_one_hot_embedding", "one-hot vectors cast to float32 whatever weight's dtype",
           {".to(weight.dtype)": ".float()"}),
    Mutant("ex3_one_hot_embedding", "multiplies by the transposed weight",
           {"return one_hot @ weight": "return one_hot @ weight.T"}),
    # ex4: masked mean
    Mutant("ex4_masked_mean", "divides by T instead of the true length",
           {"count = m.sum(dim=1).clamp_min(1.0)": "count = x.shape[1]"}),
    Mutant("ex4_masked_mean", "padded values enter the sum",
           {"total = x.masked_fill(~mask.unsqueeze(-1), 0.0).sum(dim=1)": "total = x.sum(dim=1)"}),
    Mutant("ex4_masked_mean", "empty rows divide by zero (NaN)",
           {".clamp_min(1.0)": ""}),
    # ex5: conv1d by hand
    Mutant("ex5_conv1d_text", "kernel flipped (textbook convolution instead of cross-correlation)",
           {"weight[:, :, j].T": "weight[:, :, k - 1 - j].T"}),
    Mutant("ex5_conv1d_text", "off by one in the number of windows",
           {"L = T - k + 1": "L = T - k"}),
    Mutant("ex5_conv1d_text", "bias forgotten",
           {"dtype=x.dtype, device=x.device) + bias": "dtype=x.dtype, device=x.device)"}),
    # ex6: masked max
    Mutant("ex6_masked_max", "padding filled with 0 instead of -inf",
           {'float("-inf")': "0.0"}),
    Mutant("ex6_masked_max", "max taken over padding too",
           {'x.masked_fill(~mask.unsqueeze(-1), float("-inf"))': "x"}),
    Mutant("ex6_masked_max", "empty rows left at -inf",
           {"return out.masked_fill(empty, 0.0)": "return out"}),
    # ex7: TextCNN forward
    Mutant("ex7_textcnn", "padded windows take part in max pooling",
           {"h = h.masked_fill(~mask.unsqueeze(1), 0.0)": "h = h"}),
    Mutant("ex7_textcnn", "mean-over-time instead of max-over-time pooling",
           {"h.max(dim=2).values": "h.mean(dim=2)"}),
    Mutant("ex7_textcnn", "ReLU forgotten",
           {"h = torch.relu(conv(F.pad(x, (0, k - 1))))": "h = conv(F.pad(x, (0, k - 1)))"}),
    Mutant("ex7_textcnn", "pads the wrong end (windows end at t instead of starting at t)",
           {"F.pad(x, (0, k - 1))": "F.pad(x, (k - 1, 0))"}),
    Mutant("ex7_textcnn", "embeddings under the mask not zeroed",
           {"x = x.masked_fill(~mask.unsqueeze(-1), 0.0)": "x = x"}),
    Mutant("ex7_textcnn", "no padding: short sentences crash, windows differ",
           {"conv(F.pad(x, (0, k - 1)))": "conv(x)"}),

    # ex1: the specials argument, the tie order, the caller's lists
    Mutant("ex1_build_vocab", "skips the module's SPECIALS instead of the specials argument",
           {"tok not in specials]": "tok not in SPECIALS]"}),
    Mutant("ex1_build_vocab", "ties broken case-insensitively",
           {"(-counts[tok], tok)": "(-counts[tok], tok.lower())"}),
    Mutant("ex1_build_vocab", "lower-cases the caller's token lists in place",
           {"    counts = Counter(tok for tokens in token_lists for tok in tokens)\n":
            "    token_lists = list(token_lists)\n    for tokens in token_lists:\n        tokens[:] = [t.lower() for t in tokens]\n"
            "    counts = Counter(tok for tokens in token_lists for tok in tokens)\n"}),
    Mutant("ex1_build_vocab", "counts sentences containing a token, not occurrences",
           {"for tok in tokens)": "for tok in set(tokens))"}),
    # ex2: the caller's vocabulary, empty batches, the mask from ids, fixed ids
    Mutant("ex2_encode_batch", "max() without a default: an empty list of texts crashes",
           {"T = max((len(s) for s in seqs), default=0)": "T = max(len(s) for s in seqs)"}),
    Mutant("ex2_encode_batch", "mask computed as ids != pad id: a real '<pad>' token in the text is masked",
           {"    return ids, mask\n": "    mask = ids != pad\n    return ids, mask\n"}),
    Mutant("ex2_encode_batch", "<eos> id hard-coded as 3",
           {"seq = seq + [stoi[EOS]]": "seq = seq + [3]"}),
    # ex3: strides, empty input, the caller's weight
    Mutant("ex3_one_hot_embedding", "flattens ids with view(-1): fails on non-contiguous or empty ids",
           {"    one_hot = F.one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype)   # (..., V)\n    return one_hot @ weight ":
            "    one_hot = F.one_hot(ids.view(-1), num_classes=weight.shape[0]).to(weight.dtype)\n    return (one_hot @ weight).view(*ids.shape, -1) "}),
    Mutant("ex3_one_hot_embedding", "one-hot rows built by index_put into zeros of the default dtype",
           {"    one_hot = F.one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype)   # (..., V)\n":
            "    one_hot = torch.zeros(*ids.shape, weight.shape[0])\n    one_hot.scatter_(-1, ids.unsqueeze(-1), 1.0)\n    one_hot = one_hot.to(weight.dtype) if weight.dtype == torch.float64 else one_hot\n"}),
    Mutant("ex3_one_hot_embedding", "output cast to the default dtype",
           {"return one_hot @ weight ": "return (one_hot @ weight).to(torch.get_default_dtype()) "}),
    # ex4: NaN gradients on empty rows, inf on padding, the caller's mask
    Mutant("ex4_masked_mean", "torch.where on empty rows: the forward is 0 but the gradient is NaN",
           {"    total = x.masked_fill(~mask.unsqueeze(-1), 0.0).sum(dim=1)   # (B, C): padded positions add nothing\n    count = m.sum(dim=1).clamp_min(1.0)          # (B, 1): number of real tokens (at least 1)\n    return total / count\n":
            "    total = (x * m).sum(dim=1)\n    count = m.sum(dim=1)\n    return torch.where(count > 0, total / count, torch.zeros_like(total))\n"}),
    Mutant("ex4_masked_mean", "multiplies by the mask: inf or NaN on padded positions poisons the row",
           {"    total = x.masked_fill(~mask.unsqueeze(-1), 0.0).sum(dim=1)": "    total = (x * m).sum(dim=1)"}),
    Mutant("ex4_masked_mean", "unsqueeze_ changes the caller's mask in place",
           {"    m = mask.unsqueeze(-1).to(x.dtype)": "    m = mask.unsqueeze_(-1).to(x.dtype)\n    mask = mask.squeeze(-1)"}),
    # ex5: the caller's bias, precision
    Mutant("ex5_conv1d_text", "accumulates into the caller's bias in place",
           {"    out = torch.zeros(B, L, C, dtype=x.dtype, device=x.device) + bias\n":
            "    out = torch.zeros(B, L, C, dtype=x.dtype, device=x.device) + bias.data.mul_(1.0).add_(0.0 * x.data.sum())\n"}),
    Mutant("ex5_conv1d_text", "computes in float32 and casts back",
           {"    return out\n": "    return out.float().to(x.dtype)\n"}),
    # ex6: finite fill values, penalties, NaN on padding
    Mutant("ex6_masked_max", "padding filled with -1e9 instead of -inf",
           {'float("-inf")': "-1e9"}),
    Mutant("ex6_masked_max", "padding pushed down by subtracting a large penalty (NaN or inf on padding survives)",
           {'filled = x.masked_fill(~mask.unsqueeze(-1), float("-inf"))': "filled = x - 1e30 * (~mask).unsqueeze(-1).to(x.dtype)"}),
    Mutant("ex6_masked_max", "padding filled with float32's lowest value whatever x's dtype",
           {'float("-inf")': "torch.finfo(torch.float32).min"}),
    Mutant("ex6_masked_max", "padding filled with -1e4 (a float16-safe constant)",
           {'float("-inf")': "-1e4"}),
    # ex7: where dropout acts
    Mutant("ex7_textcnn", "dropout on the embeddings instead of the pooled features",
           {"        x = x.transpose(1, 2) ": "        x = self.dropout(x)\n        x = x.transpose(1, 2) ",
            "self.fc(self.dropout(torch.cat(pooled, dim=1)))": "self.fc(torch.cat(pooled, dim=1))"}),
    Mutant("ex7_textcnn", "dropout on each width's pooled features separately",
           {"pooled.append(h.max(dim=2).values) ": "pooled.append(self.dropout(h.max(dim=2).values)) ",
            "self.fc(self.dropout(torch.cat(pooled, dim=1)))": "self.fc(torch.cat(pooled, dim=1))"}),
    Mutant("ex7_textcnn", "dropout on the logits",
           {"self.fc(self.dropout(torch.cat(pooled, dim=1)))": "self.dropout(self.fc(torch.cat(pooled, dim=1)))"}),
    Mutant("ex7_textcnn", "dropout before ReLU and pooling, inside each conv branch",
           {"h = torch.relu(conv(F.pad(x, (0, k - 1))))": "h = torch.relu(self.dropout(conv(F.pad(x, (0, k - 1)))))",
            "self.fc(self.dropout(torch.cat(pooled, dim=1)))": "self.fc(torch.cat(pooled, dim=1))"}),

    # Devices, modes, gradients through padding that holds NaN or inf
    Mutant("ex3_one_hot_embedding", "one-hot rows from torch.eye(V) in weight's dtype, made on the CPU",
           {"F.one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype)": "torch.eye(weight.shape[0], dtype=weight.dtype)[ids]"}),
    Mutant("ex4_masked_mean", "the count's floor of 1 made with torch.ones on the CPU",
           {"count = m.sum(dim=1).clamp_min(1.0)": "count = torch.maximum(m.sum(dim=1), torch.ones(x.shape[0], 1, dtype=x.dtype))"}),
    Mutant("ex5_conv1d_text", "the output buffer made with torch.zeros on the CPU (right dtype)",
           {"torch.zeros(B, L, C, dtype=x.dtype, device=x.device)": "torch.zeros(B, L, C, dtype=x.dtype)"}),
    Mutant("ex6_masked_max", "empty rows zeroed with torch.where and zeros made on the CPU",
           {"return out.masked_fill(empty, 0.0)": "return torch.where(empty, torch.zeros(out.shape, dtype=out.dtype), out)"}),
    Mutant("ex7_textcnn", "functional dropout without training=self.training: still active in eval mode",
           {"self.fc(self.dropout(torch.cat(pooled, dim=1)))": "self.fc(F.dropout(torch.cat(pooled, dim=1), self.dropout.p))"}),
    Mutant("ex7_textcnn", "masked windows filled with -inf before the max: an empty sentence gets -inf features",
           {"h = h.masked_fill(~mask.unsqueeze(1), 0.0)": "h = h.masked_fill(~mask.unsqueeze(1), float(\"-inf\"))"}),
    Mutant("ex7_textcnn", "mask=None replaced by torch.ones made on the CPU",
           {"        x = self.embedding(ids)": "        if mask is None:\n            mask = torch.ones(ids.shape, dtype=torch.bool)\n        x = self.embedding(ids)"}),
]
