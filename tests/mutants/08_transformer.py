"""Plausible wrong implementations of notebook 08's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1: positional encoding
    Mutant("ex1_positional_encoding", "sin and cos swapped",
           {"pe[:, 0::2] = torch.sin(angle)": "pe[:, 0::2] = torch.cos(angle)",
            "pe[:, 1::2] = torch.cos(angle)": "pe[:, 1::2] = torch.sin(angle)"}),
    Mutant("ex1_positional_encoding", "exponent i / d_model instead of 2i / d_model",
           {"two_i / d_model": "(two_i / 2) / d_model"}),
    Mutant("ex1_positional_encoding", "sines and cosines in two halves instead of interleaved",
           {"pe[:, 0::2] = torch.sin(angle)\n    pe[:, 1::2] = torch.cos(angle)":
            "pe[:, :d_model // 2] = torch.sin(angle)\n    pe[:, d_model // 2:] = torch.cos(angle)"}),
    # ex2: encoder layer
    Mutant("ex2_encoder_layer", "residual missing around the self-attention (post-norm)",
           {"x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, mask)[0]))":
            "x = self.norm1(self.dropout1(self.self_attn(x, x, x, mask)[0]))"}),
    Mutant("ex2_encoder_layer", "residual missing around the feed-forward (pre-norm)",
           {"x = x + self.dropout2(self.ff(self.norm2(x)))": "x = self.dropout2(self.ff(self.norm2(x)))"}),
    Mutant("ex2_encoder_layer", "pre-norm residual carries the normalised vector",
           {"h = self.norm1(x)\n            x = x + self.dropout1(self.self_attn(h, h, h, mask)[0])":
            "x = self.norm1(x)\n            x = x + self.dropout1(self.self_attn(x, x, x, mask)[0])"}),
    Mutant("ex2_encoder_layer", "norm_first ignored (always post-norm)", {"if self.norm_first:": "if False:"}),
    Mutant("ex2_encoder_layer", "padding mask not passed to the self-attention",
           {"self.self_attn(x, x, x, mask)[0]": "self.self_attn(x, x, x)[0]",
            "self.self_attn(h, h, h, mask)[0]": "self.self_attn(h, h, h)[0]"}),
    # ex3: decoder layer
    Mutant("ex3_decoder_layer", "cross-attention keys and values from the decoder instead of memory",
           {"self.cross_attn(y, memory, memory, memory_mask)": "self.cross_attn(y, y, y)"}),
    Mutant("ex3_decoder_layer", "causal target mask not applied",
           {"self.self_attn(y, y, y, tgt_mask)": "self.self_attn(y, y, y)",
            "self.self_attn(h, h, h, tgt_mask)": "self.self_attn(h, h, h)"}),
    Mutant("ex3_decoder_layer", "source padding mask not applied in the cross-attention",
           {"memory, memory, memory_mask)": "memory, memory)"}),
    Mutant("ex3_decoder_layer", "residual missing around the cross-attention (post-norm)",
           {"y = self.norm2(y + self.dropout2(": "y = self.norm2(self.dropout2("}),
    # ex4: the full model
    Mutant("ex4_transformer", "embeddings not scaled by sqrt(d_model)",
           {"self.src_embed(src) * math.sqrt(self.d_model)": "self.src_embed(src)",
            "self.tgt_embed(tgt_in) * math.sqrt(self.d_model)": "self.tgt_embed(tgt_in)"}),
    Mutant("ex4_transformer", "padding-only (source-style) mask for the target: no causal mask",
           {"tgt_mask = ref.make_tgt_mask(tgt_in, self.pad_id)": "tgt_mask = ref.make_src_mask(tgt_in, self.pad_id)"}),
    Mutant("ex4_transformer", "source padding mask not given to the encoder-decoder attention",
           {"y = layer(y, memory, tgt_mask, src_mask)": "y = layer(y, memory, tgt_mask)"}),
    Mutant("ex4_transformer", "positional encoding not added on the target side",
           {"y = self.pos(self.tgt_embed(tgt_in) * math.sqrt(self.d_model))":
            "y = self.tgt_embed(tgt_in) * math.sqrt(self.d_model)"}),
    Mutant("ex4_transformer", "final decoder norm skipped (matters for pre-norm)",
           {"return self.generator(self.dec_norm(y))": "return self.generator(y)"}),
    # ex5: label smoothing
    Mutant("ex5_label_smoothing", "padding positions counted in the loss",
           {"keep = target != pad_id": "keep = torch.ones_like(target, dtype=torch.bool)"}),
    Mutant("ex5_label_smoothing", "smoothing mass spread over the V - 1 wrong classes only",
           {"uniform = -logp.mean(dim=-1)": "uniform = (-logp.sum(dim=-1) - nll) / (V - 1)"}),
    Mutant("ex5_label_smoothing", "averaged over all positions, padding included",
           {"(loss * keep).sum() / keep.sum()": "(loss * keep).sum() / keep.numel()"}),
    Mutant("ex5_label_smoothing", "the (1 - eps) factor forgotten", {"(1 - eps) * nll": "nll"}),
    # ex6: warm-up schedule
    Mutant("ex6_noam", "max instead of min (no warm-up)", {"min(step ** -0.5": "max(step ** -0.5"}),
    Mutant("ex6_noam", "warm-up exponent -0.5 instead of -1.5", {"warmup ** -1.5": "warmup ** -0.5"}),
    Mutant("ex6_noam", "step 0 not handled", {"    step = max(step, 1)\n": ""}),
]
