"""Unit tests of dlnlp.reference.textcnn and dlnlp.data.sentiment (fast: well under 10 s)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dlnlp.data.sentiment import ADVERBS, NEGATIVE, POSITIVE, make_sentiment
from dlnlp.reference.textcnn import BagOfEmbeddings, TextCNN, masked_max, masked_mean
from dlnlp.text import Vocab, pad_batch, tokenize


def _padded(seqs, pad_id=0):
    return pad_batch(seqs, pad_id=pad_id)


def test_masked_mean_and_max_ignore_padding():
    x = torch.tensor([[[1.0, -5.0], [3.0, -1.0], [100.0, 100.0]],
                      [[-2.0, -3.0], [9.0, 9.0], [9.0, 9.0]]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert torch.equal(masked_mean(x, mask), torch.tensor([[2.0, -3.0], [-2.0, -3.0]]))
    assert torch.equal(masked_max(x, mask), torch.tensor([[3.0, -1.0], [-2.0, -3.0]]))
    assert torch.equal(masked_mean(x, None), x.mean(1))
    assert torch.equal(masked_max(x, None), x.max(1).values)


def test_masked_poolings_give_zero_for_empty_rows():
    x = torch.randn(2, 3, 4)
    mask = torch.tensor([[False, False, False], [True, True, True]])
    assert torch.equal(masked_mean(x, mask)[0], torch.zeros(4))
    assert torch.equal(masked_max(x, mask)[0], torch.zeros(4))
    assert torch.isfinite(masked_max(x, mask)).all()


@pytest.mark.parametrize("kernel_sizes", [(3, 4, 5), (2,), (1, 7)])
def test_textcnn_shape_and_padding_invariance(kernel_sizes):
    torch.manual_seed(0)
    model = TextCNN(30, 8, 3, kernel_sizes=kernel_sizes, num_filters=5).eval()
    seqs = [[4, 5, 6, 7, 8, 9, 10, 11], [12], [13, 14]]
    ids, mask = _padded(seqs)
    out = model(ids, mask)
    assert out.shape == (3, 3)
    for b, s in enumerate(seqs):
        alone = model(torch.tensor([s]), torch.ones(1, len(s), dtype=torch.bool))
        torch.testing.assert_close(out[b:b + 1], alone, atol=1e-5, rtol=1e-5)


def test_textcnn_ignores_ids_under_the_mask_and_copes_with_short_input():
    torch.manual_seed(1)
    model = TextCNN(30, 8, 2, num_filters=4).eval()
    ids, mask = _padded([[3, 4], [5, 6, 7, 8, 9, 10]])
    garbage = ids.masked_fill(~mask, 17)
    torch.testing.assert_close(model(ids, mask), model(garbage, mask))
    assert model(torch.tensor([[5]])).shape == (1, 2)          # T=1 < every kernel width
    assert torch.equal(model(ids[1:], None), model(ids[1:], mask[1:]))


def test_textcnn_matches_a_hand_computation():
    torch.manual_seed(2)
    model = TextCNN(20, 6, 2, kernel_sizes=(2,), num_filters=3).double().eval()
    ids = torch.tensor([[4, 9, 2]])
    x = model.embedding.weight[ids[0]]                          # (T, E)
    conv = model.convs[0]
    xp = torch.cat([x, torch.zeros(1, 6, dtype=torch.double)])  # pad k-1 = 1 zero vector
    windows = [conv.bias + (conv.weight * xp[t:t + 2].T).sum((1, 2)) for t in range(3)]
    feats = torch.relu(torch.stack(windows)).max(0).values
    torch.testing.assert_close(model(ids), model.fc(feats)[None])


def test_textcnn_gradients_reach_embeddings_and_dropout_is_used_in_train_mode():
    torch.manual_seed(3)
    model = TextCNN(25, 8, 2, num_filters=4, dropout=0.5)
    ids, mask = _padded([[3, 4, 5], [6]])
    F.cross_entropy(model(ids, mask), torch.tensor([0, 1])).backward()
    assert model.embedding.weight.grad[3:7].abs().sum() > 0
    assert model.embedding.weight.grad[0].abs().sum() == 0     # padding_idx row
    model.eval()
    torch.testing.assert_close(model(ids, mask), model(ids, mask))


def test_bag_of_embeddings_is_order_blind():
    torch.manual_seed(4)
    model = BagOfEmbeddings(20, 5, 2).eval()
    a = model(torch.tensor([[3, 4, 5, 0]]), torch.tensor([[True, True, True, False]]))
    b = model(torch.tensor([[5, 3, 4]]))
    torch.testing.assert_close(a, b)


def test_sentiment_is_reproducible_and_labelled_by_negation():
    d1, d2 = make_sentiment(300, seed=7), make_sentiment(300, seed=7)
    assert d1.texts == d2.texts and torch.equal(d1.labels, d2.labels)
    assert make_sentiment(50, seed=8).texts != d1.texts[:50]
    pos, neg = set(POSITIVE), set(NEGATIVE)
    for text, label, negated in zip(d1.texts, d1.labels.tolist(), d1.negated.tolist()):
        toks = tokenize(text)
        assert ("not" in toks) == negated
        score = 0
        for i, t in enumerate(toks):
            if t in pos or t in neg:
                j = i - 1
                while toks[j] in ADVERBS:
                    j -= 1
                polarity = 1 if t in pos else -1
                score += -polarity if toks[j] == "not" else polarity
        assert score == (2 if label == 1 else -2), text
    assert 0.4 < d1.labels.float().mean() < 0.6 and 0.4 < d1.negated.float().mean() < 0.6


def test_sentiment_gap_counts_adverbs_and_bags_do_not_decide_negated_reviews():
    d = make_sentiment(200, seed=3, gap=4, negated_frac=1.0)
    for text in d.texts:
        toks = tokenize(text)
        i = toks.index("not")
        assert all(t in ADVERBS for t in toks[i + 1:i + 5]) and toks[i + 5] in set(POSITIVE) | set(NEGATIVE)
        assert sum(t in POSITIVE for t in toks) == 1 and sum(t in NEGATIVE for t in toks) == 1
    with pytest.raises(ValueError):
        make_sentiment(3, gap=(2, 1))
    vocab = Vocab([tokenize(t) for t in make_sentiment(500, seed=0).texts])
    assert len(vocab) < 100
