"""Unit tests of the helper package's core: runtime, checks, training loop, plots, text, report."""
from __future__ import annotations

import json

import matplotlib
import pytest
import torch

import dlnlp
from dlnlp import checks, plot, runtime, text, train

matplotlib.use("agg")


def test_grading_switch(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not runtime.is_grading() and runtime.pick(10, 2) == 10
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert runtime.is_grading() and runtime.pick(10, 2) == 2


@pytest.mark.parametrize("grading", [False, True])
def test_figures_are_drawn_except_while_grading(grading, tmp_path):
    """A learner's kernel shows each figure; a graded one (inline backend rendering is about 0.2 s a figure)
    draws none, says nothing on stderr, and closes the figures after each cell."""
    import nbformat

    from autograder.execute import execute

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import matplotlib, matplotlib.pyplot as plt\nimport dlnlp\n"
                                          "plt.plot([1, 2, 3])\nplt.show()\nfig = plt.figure()"),
                nbformat.v4.new_code_cell("print(matplotlib.get_backend(), len(plt.get_fignums()))")]
    path = tmp_path / "figures.ipynb"
    nbformat.write(nb, str(path))
    _, done = execute(path, grading=grading, save=False)
    outputs = [o for c in done.cells for o in c.outputs]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert not [o for o in outputs if o.get("name") == "stderr"]
    if grading:
        assert not images and outputs[-1]["text"].split() == ["agg", "0"]
    else:
        assert len(images) == 1 and "inline" in outputs[-1]["text"]


def test_device_choice(monkeypatch):
    monkeypatch.setenv("DLNLP_DEVICE", "cpu")
    assert runtime.get_device().type == "cpu"
    assert runtime.get_device("meta").type == "meta"
    monkeypatch.delenv("DLNLP_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert runtime.get_device().type == expected


def test_seeding_is_reproducible():
    runtime.seed_everything(3)
    a = torch.randn(4)
    g = runtime.seed_everything(3)
    assert torch.equal(a, torch.randn(4))
    assert torch.equal(torch.randn(2, generator=g), torch.randn(2, generator=torch.Generator().manual_seed(3)))


def test_checks_pass_and_fail_with_messages():
    checks.check_shape(torch.zeros(2, 3), (2, -1))
    with pytest.raises(AssertionError, match=r"shape \(2, 4\); got \(2, 3\)"):
        checks.check_shape(torch.zeros(2, 3), (2, 4), "logits")
    with pytest.raises(AssertionError, match="torch.Tensor"):
        checks.check_shape([1, 2], (2,))
    checks.check_close(torch.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-7])
    with pytest.raises(AssertionError, match=r"largest difference 0.5 at index \(1,\)"):
        checks.check_close(torch.tensor([1.0, 2.5]), [1.0, 2.0], "y", hint="check the sign")
    with pytest.raises(AssertionError, match="NaN"):
        checks.check_close(torch.tensor([float("nan")]), [1.0])


def test_check_close_refuses_a_poisoned_expected_value():
    nan = float("nan")
    # a function that overwrote its input with NaN and returned NaN must not match a NaN reference
    with pytest.raises(AssertionError, match="expected value of y contains NaN.*in place"):
        checks.check_close(torch.tensor([nan, nan]), torch.tensor([nan, nan]), "y")
    checks.check_close(torch.tensor([nan, 1.0]), torch.tensor([nan, 1.0]), allow_nan=True)
    with pytest.raises(AssertionError, match="NaN"):
        checks.check_close(torch.tensor([1.0, 1.0]), torch.tensor([nan, 1.0]), allow_nan=True)
    with pytest.raises(AssertionError, match="NaN"):
        checks.check_close(torch.tensor([nan, 1.0]), torch.tensor([2.0, 1.0]))
    # exact means exact: rtol=0 as well
    with pytest.raises(AssertionError, match="largest difference"):
        checks.check_close(torch.tensor([1e6 + 1.0]), torch.tensor([1e6]), atol=0, rtol=0)


def test_check_unchanged_catches_in_place_edits():
    x = torch.randn(3, 4)
    before = x.clone()
    checks.check_unchanged(x, before, "x")
    x[0, 0] = float("nan")
    with pytest.raises(AssertionError, match="changed x in place"):
        checks.check_unchanged(x, before, "x")
    m = torch.tensor([True, False])
    checks.check_unchanged(m, m.clone(), "mask")
    with pytest.raises(AssertionError, match="changed"):
        checks.check_unchanged(m.double(), m.clone(), "mask")
    checks.check_grad_close(torch.tensor([1.0, -2.0], dtype=torch.float64), torch.tensor([1.0, -2.0]))
    with pytest.raises(AssertionError, match="relative error"):
        checks.check_grad_close(torch.tensor([1.0]), torch.tensor([1.1]))
    checks.check_raises(lambda: 1 / 0, ZeroDivisionError, "must raise")
    with pytest.raises(AssertionError, match="must raise"):
        checks.check_raises(lambda: 1, ZeroDivisionError, "must raise")
    with pytest.raises(AssertionError, match="raised KeyError"):
        checks.check_raises(lambda: {}["k"], ZeroDivisionError, "must raise")
    with pytest.raises(AssertionError, match="why"):
        checks.check_true(False, "why")


def test_fit_learns_a_line():
    g = runtime.seed_everything(0)
    x = torch.randn(256, 1, generator=g)
    y = 3 * x + 1
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hist = train.fit(model, lambda: train.batches(x, y, batch_size=32, generator=g),
                     lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]), opt, epochs=20,
                     evaluate=lambda: torch.nn.functional.mse_loss(model(x), y).item(), clip=10.0, progress=False)
    assert len(hist.loss) == len(hist.val) == len(hist.seconds) == 20
    assert hist.val[-1] < 1e-3 < hist.loss[0]
    assert abs(model.weight.item() - 3) < 0.05 and hist.total_seconds > 0
    assert train.count_parameters(model) == 2


def test_batches_cover_every_row_once():
    x = torch.arange(10)
    seen = torch.cat([b for (b,) in train.batches(x, batch_size=3, generator=torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(b) for (b,) in train.batches(x, batch_size=4, shuffle=False)] == [4, 4, 2]


def test_plots_draw():
    ax = plot.plot_losses({"train": [3, 2, 1], "val": [3, 2.5, 2]}, logy=True)
    assert len(ax.lines) == 2
    ax = plot.heatmap(torch.rand(3, 4), xlabels=list("abcd"), ylabels=list("xyz"), annotate=True)
    assert len(ax.texts) == 12
    X = torch.randn(20, 2)
    ax = plot.plot_decision_boundary(lambda g: (g[:, 0] > 0).long(), X, (X[:, 0] > 0).long(), steps=20)
    assert ax.get_title() == "decision boundary"
    ax = plot.plot_lines([1, 2], {"a": [1, 2]}, title="t")
    assert ax.get_title() == "t"


def test_text_vocab_roundtrip():
    toks = [text.tokenize("I'm on the subway now."), text.tokenize("난 이제 지하철 안 이야")]
    assert toks[0] == ["i", "'", "m", "on", "the", "subway", "now", "."]
    assert toks[1] == ["난", "이제", "지하철", "안", "이야"]
    v = text.Vocab(toks + [["the"]])
    assert v.itos[:4] == list(text.SPECIALS) and v.pad_id == 0 and v.itos[4] == "the"
    ids = v.encode(["the", "zebra"], add_sos=True, add_eos=True)
    assert ids == [v.sos_id, v.stoi["the"], v.unk_id, v.eos_id]
    assert v.decode(ids + [v.pad_id, v.stoi["now"]]) == ["the", "<unk>"]
    assert len(text.Vocab(toks, min_freq=2)) == 4


def test_pad_batch_and_mask():
    ids, mask = text.pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]
    ids, mask = text.pad_batch([[5, 6, 7], [8]], max_len=2)
    assert ids.shape == (2, 2) and mask.sum().item() == 3


def test_report_records(tmp_path, monkeypatch, capsys):
    path = tmp_path / "m.jsonl"
    monkeypatch.setenv("DLNLP_METRICS_FILE", str(path))
    assert dlnlp.report(accuracy=0.975) is None
    assert "accuracy = 0.975" in capsys.readouterr().out
    assert json.loads(path.read_text()) == {"name": "accuracy", "value": 0.975}
