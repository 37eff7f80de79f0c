"""dlnlp.lm (Shakespeare as characters or BPE ids, bits per character, nanoGPT's recipe), the shipped
tokenizer and checkpoint of notebook 11, and the report of python -m dlnlp.nanogpt_compare."""
import math

import pytest
import torch
import torch.nn as nn

from dlnlp import lm
from dlnlp.data.shakespeare import lm_split
from dlnlp.pretrain import GPT_DEFAULTS


class Uniform(nn.Module):
    """Scores every next token 1/V and records the window lengths it was called on."""

    def __init__(self, V):
        super().__init__()
        self.V, self.lengths = V, []
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x, y):
        self.lengths.append(x.shape[1])
        self.scored = getattr(self, "scored", 0) + y.numel()
        logits = torch.zeros(*x.shape, self.V) + self.w
        return logits, nn.functional.cross_entropy(logits.reshape(-1, self.V), y.reshape(-1))


@pytest.mark.parametrize("n, block", [(101, 10), (100, 10), (7, 32), (2, 1)])
def test_validation_nats_scores_every_token_after_the_first_once(n, block):
    model = Uniform(5).train()
    total, count = lm.validation_nats(model, torch.randint(0, 5, (n,)), block, batch=3)
    assert count == n - 1
    assert total == pytest.approx((n - 1) * math.log(5), rel=1e-6)
    assert model.scored == n - 1 and max(model.lengths) <= block
    assert model.training                                   # the mode is given back


def test_bits_per_char_and_the_recipe():
    assert lm.bits_per_char(100 * math.log(2), 50) == pytest.approx(2.0)
    assert lm.nanogpt_lr(0, 600, 1e-3, 100) == pytest.approx(1e-3 / 101)
    assert lm.nanogpt_lr(99, 600, 1e-3, 100) == pytest.approx(1e-3 * 100 / 101)
    assert lm.nanogpt_lr(100, 600, 1e-3, 100) == pytest.approx(1e-3)
    assert lm.nanogpt_lr(599, 600, 1e-3, 100) == pytest.approx(1e-4, rel=1e-4)
    rates = [lm.nanogpt_lr(s, 600, 1e-3, 100) for s in range(100, 600)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_char_data_is_the_split_one_id_per_character():
    data = lm.char_data()
    train, valid = lm_split()
    assert data.decode(data.train_ids.tolist()) == train and data.decode(data.valid_ids.tolist()) == valid
    assert data.vocab_size == 66 and data.valid_chars == len(valid) - 1 and data.chars_per_token == 1.0


def test_shipped_tokenizer_is_the_reference_bpe_of_the_training_split():
    tok = lm.load_tokenizer()
    assert len(tok.vocab) == lm.BPE_VOCAB and len(tok.merges) == lm.BPE_VOCAB - 256
    assert lm.train_tokenizer().merges == tok.merges       # python -m dlnlp.pretrain bpe reproduces it
    data = lm.bpe_data(tok)
    train, valid = lm_split()
    assert tok.decode(data.train_ids.tolist()) == train and tok.decode(data.valid_ids.tolist()) == valid
    assert data.valid_chars == len(valid) - len(tok.decode(data.valid_ids[:1].tolist()))
    assert 1.7 < data.chars_per_token < 2.1
    with pytest.raises(FileNotFoundError, match="pretrain bpe"):
        lm.load_tokenizer("/nonexistent/tokenizer.json")


def test_train_lm_sees_the_same_batches_for_the_same_seed():
    from dlnlp.pretrain import adamw
    from dlnlp.reference.gpt import GPT, GPTConfig, init_gpt_weights

    data = lm.char_data()
    small = lm.LMData("char", data.train_ids[:5000], data.valid_ids[:300], data.vocab_size, 299, data.decode,
                      data.encode)
    logs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = init_gpt_weights(GPT(GPTConfig(vocab_size=66, n_positions=16, n_embd=16, n_layer=1, n_head=2)))
        logs.append(lm.train_lm(model, small, adamw(model, 1e-3, 0.1), 6, 4, 16, 1e-3, warmup=2, eval_every=3))
    assert logs[0].steps == [3, 6] and logs[0].valid_bpc == logs[1].valid_bpc
    assert logs[0].valid_bpc[-1] < math.log2(66) + 0.5


def test_shipped_checkpoint_is_small_matches_the_tokenizer_and_scores_what_it_logged():
    from dlnlp.reference.gpt import GPT, GPTConfig

    path = GPT_DEFAULTS["out"]
    assert path.name == "gpt_shakespeare.pt" and path.stat().st_size < 5e6
    ckpt = torch.load(path, weights_only=True)
    tok = lm.load_tokenizer()
    assert [tuple(m) for m in ckpt["bpe_merges"]] == tok.merges
    assert ckpt["steps"] == GPT_DEFAULTS["steps"] == ckpt["recipe"]["steps"]
    model = GPT(GPTConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    data = lm.bpe_data(tok)
    nats, _ = lm.validation_nats(model, data.valid_ids, model.cfg.n_positions)
    assert lm.bits_per_char(nats, data.valid_chars) == pytest.approx(ckpt["log"][-1]["valid_bpc"], abs=1e-4)
    from dlnlp.reference.gpt import bigram_nll
    bigram_nats = bigram_nll(data.train_ids, data.valid_ids, data.vocab_size) * (len(data.valid_ids) - 1)
    bigram_bpc = lm.bits_per_char(bigram_nats, data.valid_chars)
    assert ckpt["log"][-1]["valid_bpc"] < bigram_bpc - 0.05        # below the BPE bigram (2.90 bits per character)


def test_compare_report_and_missing_checkout(tmp_path):
    from dlnlp import nanogpt_compare as nc

    r = {"valid_bpc": 2.1, "valid_nats_per_token": 1.4, "chars_per_token": 1.0, "vocab_size": 66, "parameters": 10,
         "train_seconds": 3.0, "seconds": 4.0, "curve": {"steps": [1, 2], "valid_bpc": [3.0, 2.1]}}
    res = {"date": "d", "machine": "m", "torch": "t", "threads": 1, "command": "c", "steps": 2, "sizes": nc.SIZES,
           "results": {"nanogpt char": r, "course bpe": dict(r, chars_per_token=1.9, vocab_size=512)}}
    text = nc.write_report(res, tmp_path).read_text()
    assert "| nanoGPT | characters | 66 | 1.000 |" in text and "| course GPT | BPE | 512 | 1.900 |" in text
    assert "2.1000" in text and (tmp_path / "gpt_shakespeare.json").exists()
    with pytest.raises(SystemExit, match="no model.py"):
        nc.build("nanogpt", 66, str(tmp_path))
