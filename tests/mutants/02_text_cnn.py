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
           {"total = (x * m).sum(dim=1)": "total = x.sum(dim=1)"}),
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
]
