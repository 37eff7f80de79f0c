"""Unit tests of the long-range data sets (dlnlp.data.long_range) and the reference LSTM/GRU cells
(dlnlp.reference.lstm). Fast: well under 10 s."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from dlnlp.data.long_range import PAD_ID, SequenceTask, local_pattern_task, long_distance_task, memory_task
from dlnlp.reference.lstm import gru_cell, init_forget_bias, lstm_cell


def _well_formed(task: SequenceTask, n: int) -> None:
    assert task.ids.shape == task.mask.shape and task.ids.shape[0] == n == len(task)
    assert task.ids.dtype == torch.long and task.mask.dtype == torch.bool and task.labels.shape == (n,)
    assert task.mask[:, 0].all(), "every sequence has a first real token"
    # padding is on the right only and is exactly where the mask is False
    assert torch.equal(task.mask, task.mask.cummin(dim=1).values)
    assert torch.equal(task.ids == PAD_ID, ~task.mask)
    assert int(task.ids.max()) < task.vocab_size
    assert int(task.labels.min()) >= 0 and int(task.labels.max()) < task.num_classes


def _contains(row: torch.Tensor, motif: tuple[int, ...]) -> bool:
    k = len(motif)
    return bool((row.unfold(0, k, 1) == torch.tensor(motif)).all(-1).any())


def test_memory_task_label_is_first_token():
    t = memory_task(500, lag=12, num_keys=4, num_distractors=8, seed=3)
    _well_formed(t, 500)
    assert t.ids.shape == (500, 13) and t.vocab_size == 13 and t.num_classes == 4
    assert torch.equal(t.ids[:, 0], t.labels + 1)
    assert (t.ids[:, 1:] > 4).all(), "distractors are never keys"
    assert torch.bincount(t.labels, minlength=4).min() > 80, "classes are roughly balanced"
    assert memory_task(5, lag=0).ids.shape == (5, 1)
    with pytest.raises(ValueError):
        memory_task(5, lag=-1)


def test_local_pattern_task_label_is_motif_presence():
    motif = (3, 1, 4)
    t = local_pattern_task(400, min_len=8, max_len=20, vocab=5, motif=motif, seed=1)
    _well_formed(t, 400)
    assert int(t.labels.sum()) == 200
    lengths = t.mask.sum(1)
    assert int(lengths.min()) >= 8 and int(lengths.max()) <= 20
    for row, m, y in zip(t.ids, t.mask, t.labels):
        assert _contains(row[m], motif) == bool(y)


def test_long_distance_task_label_is_marker_order():
    t = long_distance_task(400, min_len=21, max_len=40, vocab=10, min_gap=10, margin=5, seed=2)
    _well_formed(t, 400)
    A, B = 11, 12
    assert int(t.labels.sum()) == 200
    for row, m, y in zip(t.ids, t.mask, t.labels):
        L = int(m.sum())
        pa, pb = (row == A).nonzero().flatten(), (row == B).nonzero().flatten()
        assert pa.numel() == 1 and pb.numel() == 1
        i, j = sorted((int(pa), int(pb)))
        assert j - i >= 10 and i >= 5 and j <= L - 6
        assert (int(pa) < int(pb)) == bool(y)
    with pytest.raises(ValueError):
        long_distance_task(4, min_len=10, min_gap=10, margin=5)


def test_tasks_are_seeded_and_split():
    a, b = local_pattern_task(64, seed=5), local_pattern_task(64, seed=5)
    assert torch.equal(a.ids, b.ids) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.ids, local_pattern_task(64, seed=6).ids)
    c, d = long_distance_task(64, seed=1), long_distance_task(64, seed=1)
    assert torch.equal(c.ids, d.ids)
    tr, te = a.split(50)
    assert len(tr) == 50 and len(te) == 14 and torch.equal(te.ids, a.ids[50:])
    assert tr.to("cpu").vocab_size == a.vocab_size


@pytest.mark.parametrize("bias", [True, False])
def test_reference_cells_match_pytorch(bias):
    torch.manual_seed(0)
    B, I, H = 3, 5, 4
    x, h, c = (torch.randn(B, I, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64),
               torch.randn(B, H, dtype=torch.float64))
    ref = nn.LSTMCell(I, H, bias=bias).double()
    h1, c1 = lstm_cell(x, h, c, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    eh, ec = ref(x, (h, c))
    torch.testing.assert_close(h1, eh, atol=1e-12, rtol=0)
    torch.testing.assert_close(c1, ec, atol=1e-12, rtol=0)
    gref = nn.GRUCell(I, H, bias=bias).double()
    torch.testing.assert_close(gru_cell(x, h, gref.weight_ih, gref.weight_hh, gref.bias_ih, gref.bias_hh),
                               gref(x, h), atol=1e-12, rtol=0)


def test_init_forget_bias():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    before = {k: v.clone() for k, v in lstm.state_dict().items()}
    assert init_forget_bias(lstm, 2.0) is lstm
    for name, p in lstm.named_parameters():
        if name.startswith("bias"):
            f = p.detach()[4:8]
            expected = 2.0 if name.startswith("bias_ih") else 0.0
            assert torch.all(f == expected), name
            assert torch.equal(p.detach()[:4], before[name][:4]) and torch.equal(p.detach()[8:], before[name][8:])
        else:
            assert torch.equal(p.detach(), before[name])
    assert not lstm.bias_ih_l0.grad_fn and lstm.bias_ih_l0.requires_grad
    wrapped = nn.Sequential(nn.LSTMCell(2, 3))
    init_forget_bias(wrapped, 1.5)
    assert torch.all(wrapped[0].bias_ih[3:6] == 1.5)
