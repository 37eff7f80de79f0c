"""python -m dlnlp.speed: the models it compares compute one function from the same weights, and its report
names every ratio. (The timings themselves are measurements, not tested.)"""
import pytest
import torch

from dlnlp import speed

TINY = dict(n_positions=24, n_embd=16, n_layer=2, n_head=2)


def test_course_and_hugging_face_start_from_the_same_weights_and_train_alike():
    course, hf = (speed.build(k, 30, None, TINY) for k in ("course", "hf"))
    x = torch.randint(0, 30, (2, 24), generator=torch.Generator().manual_seed(0))
    y = torch.roll(x, -1, 1)
    with torch.no_grad():
        torch.testing.assert_close(course(x), hf(x), atol=1e-5, rtol=1e-5)
    oc, oh = speed.optimizer(course), speed.optimizer(hf)
    assert [g["weight_decay"] for g in oc.param_groups] == [speed.WEIGHT_DECAY, 0.0]
    for _ in range(3):
        lc, lh = speed.train_step(course, oc, x, y), speed.train_step(hf, oh, x, y)
        assert abs(lc - lh) < 1e-5


def test_missing_nanogpt_checkout_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no model.py"):
        speed.load_nanogpt(tmp_path)


def test_report_lists_ratios_and_flags_disagreement(tmp_path):
    res = {"kinds": ["course", "nanogpt", "hf"], "vocab_size": 94, "threads": 2, "compile": False,
           "date": "2026-01-01", "torch": "x", "machine": "m", "command": "python -m dlnlp.speed",
           "training": {"tokens_per_s": {"course": 110.0, "nanogpt": 100.0, "hf": 80.0},
                        "median_round_ratio": {"course": 1.05, "nanogpt": 1.0, "hf": 0.8},
                        "round_tokens_per_s": {"course": [110.0], "nanogpt": [100.0], "hf": [80.0]},
                        "max_loss_gap": {"course": 0.0, "nanogpt": 0.0, "hf": 0.0}, "steps": 7},
           "memory": {"peak_mib": {"course": 200.0, "nanogpt": 200.0, "hf": 300.0}},
           "generation": {"new_tokens": 8,
                          "tokens_per_s": {"course|cache|1": 50.0, "hf|cache|1": 25.0, "course|no cache|1": 10.0,
                                           "nanogpt|no cache|1": 10.0, "hf|no cache|1": 5.0},
                          "same_tokens_as_course_cache": {"course cache batch 1": True, "hf cache batch 1": True,
                                                          "course no cache batch 1": True,
                                                          "nanogpt no cache batch 1": False,
                                                          "hf no cache batch 1": True}}}
    text = speed.write_report(res, tmp_path).read_text()
    assert "| course GPT | 110 | 1.10x | 1.05x | 200 | 1.00x |" in text
    assert "| HF GPT-2 | 80 | 0.80x | 0.80x | 300 | 1.50x |" in text
    assert "| course GPT | yes | 1 | 50 | 5.00x | 2.00x | yes |" in text
    assert "| nanoGPT | no | 1 | 10 | 1.00x | 2.00x | NO |" in text
    assert (tmp_path / "gpt_speed.json").exists()
