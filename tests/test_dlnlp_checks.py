"""dlnlp.checks compares in float64 from the start: Python numbers are never rounded through float32."""
from __future__ import annotations

import pytest
import torch

from dlnlp import checks


def test_python_floats_are_compared_in_float64():
    # 1e-9 apart: float32 rounds both to the same number, so a float32 comparison cannot see it
    a, e = 0.1 + 1e-9, 0.1
    assert torch.tensor(a, dtype=torch.float32) == torch.tensor(e, dtype=torch.float32)
    with pytest.raises(AssertionError, match="not close"):
        checks.check_close(a, e, "rate", atol=0, rtol=1e-12)
    checks.check_close(a, e, "rate", atol=0, rtol=1e-7)


def test_a_value_rounded_through_float32_fails_a_tight_tolerance():
    exact = 512 ** -0.5 * min(4000 ** -0.5, 4000 * 4000 ** -1.5)
    rounded = torch.tensor(exact, dtype=torch.float32).item()
    with pytest.raises(AssertionError):
        checks.check_close(rounded, exact, atol=0, rtol=1e-12)
    checks.check_close(exact, exact, atol=0, rtol=1e-12)


def test_lists_and_large_integers_keep_their_values():
    with pytest.raises(AssertionError):
        checks.check_close([1.0, 0.3 + 1e-10], [1.0, 0.3], atol=0, rtol=1e-12)
    big = 2 ** 40 + 1                      # not representable in float32 (24-bit mantissa)
    with pytest.raises(AssertionError):
        checks.check_close(big, 2 ** 40, atol=0, rtol=0)
    checks.check_close(big, big, atol=0, rtol=0)
    checks.check_close(True, 1, atol=0, rtol=0)


def test_tensors_keep_their_own_precision():
    x32 = torch.tensor([0.1], dtype=torch.float32)
    # a float32 tensor is widened exactly: it differs from the float64 0.1 by about 1.5e-9
    with pytest.raises(AssertionError):
        checks.check_close(x32, [0.1], atol=0, rtol=1e-12)
    checks.check_close(x32, [0.1], atol=0, rtol=1e-7)
    checks.check_close(torch.tensor(3, dtype=torch.int64), 3, atol=0, rtol=0)


def test_grad_close_and_relative_error_use_float64_too():
    assert checks.relative_error(0.1 + 1e-9, 0.1) > 0
    with pytest.raises(AssertionError):
        checks.check_grad_close([1.0, 0.1 + 1e-9], [1.0, 0.1], rtol=1e-12)
    checks.check_grad_close([1.0, 0.1], [1.0, 0.1], rtol=0)
