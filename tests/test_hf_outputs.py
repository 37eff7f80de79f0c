"""The recorded ``transformers`` outputs that notebooks 10 and 11 grade with (dlnlp.reference.hf).

Every record is recomputed with ``transformers`` itself; the solutions, run in grading mode with
``DLNLP_HF=strict``, find a record for every call; a call without one runs ``transformers``, so a record can
make grading faster but never change a result.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from autograder.execute import execute
from dlnlp.reference import bert as rb
from dlnlp.reference import gpt as rg
from dlnlp.reference import hf

ROOT = Path(__file__).resolve().parents[1]
RECORDS = hf.load_records()


def _weights(record: dict) -> dict[str, torch.Tensor]:
    origin = record["origin"]
    if "pretrained" in origin:
        from dlnlp.data.pretrained import load_minilm_state_dict

        return load_minilm_state_dict()
    return hf.draw_weights(hf.shapes(record["family"], record["kind"], record["config"]), origin["seed"], origin["std"])


def test_records_exist_for_both_notebooks():
    kinds = {(r["family"], r["kind"]) for r in RECORDS.values()}
    assert {("bert", "base"), ("bert", "mlm"), ("bert", "cls"), ("bert", "minilm"), ("gpt2", "lm")} <= kinds
    assert len(RECORDS) >= 30


@pytest.mark.parametrize("key", sorted(RECORDS))
def test_record_is_what_transformers_gives(key):
    """Rebuilt from its origin, the model has the recorded weights (same key) and gives the recorded outputs, to
    a fifth of the parity tests' tolerance (1e-5): another CPU may round a little differently."""
    r = RECORDS[key]
    weights = _weights(r)
    assert hf.record_key(r["family"], r["kind"], r["config"], r["path"], weights, r["kwargs"]) == key
    target = hf.build_live(r["family"], r["kind"], r["config"], weights)
    for name in filter(None, r["path"].split(".")):
        target = getattr(target, name)
    with torch.no_grad():
        out = target(**r["kwargs"])
    got = {"": out} if isinstance(out, torch.Tensor) else {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}
    assert set(got) == set(r["output"])
    for name, expected in r["output"].items():
        torch.testing.assert_close(got[name], expected, atol=2e-6, rtol=1e-5, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("family,kind,extra", [("bert", "base", {}), ("bert", "mlm", {}),
                                               ("bert", "cls", {"num_labels": 3}), ("gpt2", "lm", {})])
def test_layout_is_transformers_state_dict(family, kind, extra):
    """Names in transformers' order, shapes, and tied entries (one tensor under two names) as transformers has them."""
    if family == "bert":
        cfg = rb.BertConfig(vocab_size=41, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                            intermediate_size=40, max_position_embeddings=20)
        config, model = {**asdict(cfg), **extra}, rb.hf_bert(cfg, kind, **extra)
    else:
        cfg = rg.GPTConfig(vocab_size=23, n_positions=12, n_embd=24, n_layer=2, n_head=3)
        config, model = rg._gpt2_config_kwargs(cfg), rg.hf_gpt2(cfg)
    assert type(model).__module__.startswith("transformers"), "outside grading, the model is transformers' own"
    layout, sd = hf.shapes(family, kind, config), model.state_dict()
    assert list(sd) == list(layout)
    for name, shape in layout.items():
        if isinstance(shape, str):
            assert sd[name].data_ptr() == sd[shape].data_ptr(), f"{name} is tied to {shape} in transformers"
        else:
            assert tuple(sd[name].shape) == shape, name


def test_weights_depend_on_the_seed_only_and_leave_the_global_random_state():
    cfg = rg.GPTConfig(vocab_size=20, n_positions=8, n_embd=16, n_layer=1, n_head=2)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = rg.hf_gpt2(cfg, seed=4).state_dict()
    assert torch.equal(torch.random.get_rng_state(), before)
    b = rg.hf_gpt2(cfg, seed=4).state_dict()
    c = rg.hf_gpt2(cfg, seed=5).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["transformer.wte.weight"], c["transformer.wte.weight"])
    ln = a["transformer.h.0.ln_1.weight"]
    assert 0.5 < ln.mean() < 1.5 and ln.std() > 0.02, "LayerNorm weights are 1 plus noise"


def _recorded_call(monkeypatch, mode: str = "recorded"):
    """The model and arguments of a recorded call of notebook 10 (a BertModel's hidden states)."""
    monkeypatch.setenv("DLNLP_HF", mode)
    key, r = next((k, r) for k, r in RECORDS.items() if (r["kind"], r["path"]) == ("base", ""))
    model = hf.hf_model(r["family"], r["kind"], r["config"], _weights(r), r["origin"])
    return model, r


def test_recorded_mode_answers_from_the_record(monkeypatch):
    model, r = _recorded_call(monkeypatch)
    assert isinstance(model, hf.HFModel)
    out = model(**r["kwargs"])
    torch.testing.assert_close(out.last_hidden_state, r["output"]["last_hidden_state"], atol=0, rtol=0)
    out.last_hidden_state.zero_()                              # a caller's change does not reach the record
    torch.testing.assert_close(model(**r["kwargs"]).last_hidden_state, r["output"]["last_hidden_state"], atol=0, rtol=0)
    with pytest.raises(AttributeError, match="no output 'logits'"):
        out.logits
    with pytest.raises(TypeError, match="by name"):
        model(r["kwargs"]["input_ids"])


def test_a_call_without_a_record_runs_transformers(monkeypatch):
    """Other inputs, or weights changed in place, give transformers' answer, not a stale record."""
    model, r = _recorded_call(monkeypatch)
    live = hf.build_live(r["family"], r["kind"], r["config"], _weights(r))
    kwargs = {k: v.clone() for k, v in r["kwargs"].items()}
    kwargs["input_ids"][0, 0] = (kwargs["input_ids"][0, 0] + 1) % r["config"]["vocab_size"]
    with torch.no_grad():
        torch.testing.assert_close(model(**kwargs).last_hidden_state, live(**kwargs).last_hidden_state)
        model.state_dict()["embeddings.LayerNorm.bias"].add_(1.0)
        changed = model(**r["kwargs"]).last_hidden_state
    assert not torch.allclose(changed, r["output"]["last_hidden_state"], atol=1e-3)
    live.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(changed, live(**r["kwargs"]).last_hidden_state)


def test_strict_mode_raises_without_a_record(monkeypatch):
    model, r = _recorded_call(monkeypatch, "strict")
    model(**r["kwargs"])
    kwargs = dict(r["kwargs"], input_ids=r["kwargs"]["input_ids"].flip(1))
    with pytest.raises(LookupError, match="no recorded transformers output"):
        model(**kwargs)


def test_record_mode_adds_calls_on_the_weights_as_made(monkeypatch, tmp_path):
    """DLNLP_HF=record answers with transformers and writes the call; a call after the weights changed in place
    is answered but not written (its record could not be checked against the weights' origin)."""
    monkeypatch.setattr(hf, "RECORDS", tmp_path / "outputs.pt")
    monkeypatch.setenv("DLNLP_HF", "record")
    cfg = rg.GPTConfig(vocab_size=13, n_positions=8, n_embd=8, n_layer=1, n_head=2)
    model = rg.hf_gpt2(cfg, seed=7)
    idx = torch.tensor([[1, 5, 2, 12]])
    with torch.no_grad():
        logits = model(input_ids=idx, labels=idx).logits
        records = hf.load_records()
        assert len(records) == 1
        (key, r), = records.items()
        assert r["origin"] == {"seed": 7, "std": 0.2} and set(r["output"]) == {"logits", "loss"}
        torch.testing.assert_close(r["output"]["logits"], logits, atol=0, rtol=0)
        model.state_dict()["transformer.ln_f.bias"].add_(1.0)
        model(input_ids=idx)
    assert list(hf.load_records()) == [key]
    monkeypatch.setattr(hf, "_records", hf.load_records())
    monkeypatch.setenv("DLNLP_HF", "strict")
    torch.testing.assert_close(rg.hf_gpt2(cfg, seed=7)(input_ids=idx, labels=idx).logits, logits, atol=0, rtol=0)


def test_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setenv("DLNLP_HF", "cached")
    with pytest.raises(ValueError, match="DLNLP_HF='cached'"):
        hf.hf_mode()


def test_grading_mode_does_not_import_transformers():
    """While a notebook is graded, a recorded parity check runs without importing transformers (about 3 s)."""
    code = """
import sys, torch
from dlnlp.reference import bert as ref
cfg = ref.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=4, intermediate_size=32,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
hf_model = ref.hf_bert(cfg, "base", seed=0)
ids = torch.tensor([[2, 7, 8, 9, 3], [2, 10, 3, 0, 0]])
ours = ref.load_hf_bert(ref.MiniBert(cfg).eval(), hf_model)
with torch.no_grad():
    diff = (ours(ids, None, ids != 0) - hf_model(input_ids=ids, attention_mask=(ids != 0).long()).last_hidden_state)
print(type(hf_model).__name__, float(diff[ids != 0].abs().max()) < 1e-5, "transformers" in sys.modules)
"""
    env = {"PATH": "/usr/bin:/bin", "NBGRADER_EXECUTION": "autograde", "DLNLP_HF": "strict"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["HFModel", "True", "False"]


@pytest.mark.parametrize("name", ["10_bert", "11_gpt"])
def test_solution_in_grading_mode_finds_a_record_for_every_call(name):
    """Every parity call the graded solution makes is recorded (DLNLP_HF=strict raises on a call without one)."""
    execute(ROOT / "solutions" / name / f"{name}.ipynb", grading=True, save=False,
            extra_env={"DLNLP_HF": "strict", "OMP_WAIT_POLICY": "PASSIVE"})
