"""Tests of devices send tensors on the ``meta`` device (shapes and dtypes, no data) across the sealed link:
they must travel as such, arrive on ``meta``, and be copied back without reading values they do not have."""
from __future__ import annotations

import torch

from autograder.grading.channel.framing import tensor_from_wire, tensor_to_wire
from autograder.grading.channel.objects import copy_back, same_data


def test_meta_tensors_travel_as_shape_and_dtype():
    for t in (torch.empty(2, 3, device="meta", dtype=torch.float64), torch.zeros(4, dtype=torch.long).to("meta"),
              torch.empty(0, 5, device="meta")):
        desc, raw = tensor_to_wire(t)
        assert raw == b"" and desc["device"] == "meta"
        back = tensor_from_wire(desc, raw)
        assert back.device.type == "meta" and back.shape == t.shape and back.dtype == t.dtype
    desc, raw = tensor_to_wire(torch.arange(3.0))             # ordinary tensors are unchanged
    assert "device" not in desc and torch.equal(tensor_from_wire(desc, raw), torch.arange(3.0))


def test_copy_back_skips_the_values_of_meta_tensors():
    orig = torch.empty(3, device="meta")
    copy_back(orig, torch.empty(3, device="meta"))            # nothing to compare, nothing to copy
    back = torch.zeros(2)
    copy_back(back, torch.ones(2))
    assert torch.equal(back, torch.ones(2))


def test_meta_tensors_are_compared_by_shape_and_dtype_only():
    assert same_data(torch.empty(3, device="meta"), torch.empty(3, device="meta"))
    assert not same_data(torch.empty(3, device="meta"), torch.empty(2, device="meta"))
    assert not same_data(torch.empty(3, device="meta"), torch.zeros(3))
    assert same_data(torch.ones(2), torch.ones(2)) and not same_data(torch.ones(2), torch.zeros(2))
