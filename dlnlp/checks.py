"""Friendly checks for the visible tests: each failure says what was expected and what was found.

They raise ``AssertionError`` (so nbgrader scores the cell 0) with a message meant for a learner.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

__all__ = ["check_shape", "check_close", "check_true", "check_grad_close", "check_raises", "check_unchanged",
           "relative_error"]


def _fmt(x, limit: int = 6) -> str:
    if isinstance(x, torch.Tensor):
        flat = x.detach().flatten()
        vals = ", ".join(f"{v:.4g}" for v in flat[:limit].tolist())
        more = ", ..." if flat.numel() > limit else ""
        return f"tensor(shape={tuple(x.shape)}, dtype={x.dtype}, values=[{vals}{more}])"
    return repr(x)


def _as_float64(x) -> torch.Tensor:
    """``x`` as a float64 CPU tensor, without a detour through float32.

    ``torch.as_tensor`` turns Python floats (and lists of them) into float32, which rounds them to about
    7 digits before any comparison; numbers and sequences are therefore converted in float64 directly.
    Tensors keep their own values (float32 stays what it is, widened exactly to float64).
    """
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double()
    return torch.as_tensor(x, dtype=torch.float64)


def check_true(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not bool(condition):
        raise AssertionError(message)


def check_shape(tensor, expected: Sequence[int], name: str = "output") -> None:
    """Check that ``tensor`` is a tensor of shape ``expected`` (use -1 for any size on an axis)."""
    if not isinstance(tensor, torch.Tensor):
        raise AssertionError(f"{name} should be a torch.Tensor; got {type(tensor).__name__}")
    shape = tuple(tensor.shape)
    ok = len(shape) == len(expected) and all(e == -1 or s == e for s, e in zip(shape, expected))
    if not ok:
        raise AssertionError(f"{name} should have shape {tuple(expected)}; got {shape}")


def check_close(actual, expected, name: str = "output", atol: float = 1e-6, rtol: float = 1e-5,
                hint: str = "", allow_nan: bool = False) -> None:
    """Check ``actual`` against ``expected`` elementwise: ``|a - e| <= atol + rtol * |e|``.

    Numbers, lists and tensors are accepted; everything is compared in float64 (Python numbers are never
    rounded through float32 first, so a tight ``rtol`` such as 1e-12 takes effect). The message names the
    largest difference and where it is.
    For an exact comparison pass ``atol=0, rtol=0``. An expected value holding NaN fails the check
    (a reference computed from inputs that the code under test overwrote), unless ``allow_nan`` says
    NaN is part of the expected answer: then ``actual`` must be NaN at exactly the same places.
    """
    a, e = _as_float64(actual), _as_float64(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{name} should have shape {tuple(e.shape)}; got {tuple(a.shape)}")
    if torch.isnan(e).any() and not allow_nan:
        raise AssertionError(
            f"the expected value of {name} contains NaN, so nothing can be compared with it. A test computes "
            "its expected values from its inputs: did your code change an input in place (e.g. fill_, "
            "masked_fill_, +=, .data) instead of building a new tensor?")
    nan_a, nan_e = torch.isnan(a), torch.isnan(e)
    if (nan_a != nan_e).any():
        raise AssertionError(f"{name} contains NaN where the expected value has none: {_fmt(a)}")
    diff = (a - e).abs().masked_fill(nan_a & nan_e, 0.0)
    bad = diff > atol + rtol * e.abs().nan_to_num()
    if bad.any():
        idx = int(torch.argmax(diff.flatten()))
        where = tuple(int(i) for i in torch.unravel_index(torch.tensor(idx), a.shape)) if a.dim() else ()
        msg = (f"{name} is not close to the expected value: largest difference {diff.max().item():.3g} "
               f"at index {where} (got {a.flatten()[idx].item():.6g}, expected {e.flatten()[idx].item():.6g}; "
               f"tolerance atol={atol:g}, rtol={rtol:g}).")
        if hint:
            msg += " Hint: " + hint
        raise AssertionError(msg)


def relative_error(actual, expected) -> float:
    """``||a - e|| / max(||a|| + ||e||, 1e-12)`` over all entries (0 when both are empty)."""
    a, e = _as_float64(actual), _as_float64(expected)
    if a.numel() == 0:
        return 0.0
    return ((a - e).norm() / (a.norm() + e.norm()).clamp_min(1e-12)).item()


def check_grad_close(actual, expected, name: str = "gradient", rtol: float = 1e-6) -> None:
    """Check two gradients agree to relative error :func:`relative_error` ``<= rtol``."""
    a, e = _as_float64(actual), _as_float64(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{name} should have shape {tuple(e.shape)}; got {tuple(a.shape)}")
    rel = relative_error(a, e)
    if not rel <= rtol:
        raise AssertionError(f"{name}: relative error {rel:.3g} exceeds {rtol:g}; got {_fmt(a)}, expected {_fmt(e)}")


def check_raises(fn: Callable[[], object], exc: type[BaseException], message: str) -> None:
    """Check that calling ``fn()`` raises ``exc``; fail with ``message`` otherwise."""
    try:
        fn()
    except exc:
        return
    except Exception as other:  # a different error is a failure too, and says which
        raise AssertionError(f"{message} (raised {type(other).__name__}: {other})") from None
    raise AssertionError(message)


def check_unchanged(tensor, original, name: str = "input") -> None:
    """Check that ``tensor`` still holds the values of ``original`` (a clone taken before the call).

    Functions in this course return new tensors; one that overwrites its argument (``x.fill_``,
    ``x[mask] = ...``, ``x += ...``) corrupts the caller's data and every value computed from it later.
    """
    if not isinstance(tensor, torch.Tensor):
        raise AssertionError(f"{name} should be a torch.Tensor; got {type(tensor).__name__}")
    a, e = tensor.detach().cpu(), torch.as_tensor(original).detach().cpu()
    same = a.shape == e.shape and a.dtype == e.dtype and bool(((a == e) | (a.isnan() & e.isnan())).all())
    if not same:
        raise AssertionError(f"your code changed {name} in place: it was {_fmt(e)} and is now {_fmt(a)}. "
                             "Build new tensors instead of writing into the arguments.")


class _CreatedTensors(torch.overrides.TorchFunctionMode):
    """Records the device of every tensor (not 0-d) that a torch function returns while it is active."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, torch.device]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and t.dim() > 0:
                self.seen.append((getattr(func, "__name__", str(func)), t.device))
        return out


def _tensors_in(value, depth: int = 0) -> list:
    """The tensors in a value a call returned (nested tuples, lists and dicts), in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if depth > 4:
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors_in(v, depth + 1)]
    return []


def check_follows_device(fn: Callable[[], object], name: str, hint: str = "", module=None) -> None:
    """Run ``fn()`` (which calls the code under test on CPU inputs and CPU parameters, deterministically: a
    module in eval mode) twice, once as it is and once with PyTorch's default device set to the data-less
    ``meta`` device, which exists on every machine, and fail if the code creates a tensor anywhere but on its
    inputs' device: a ``torch.arange(T)`` or ``torch.ones(shape)`` without ``device=`` lands on the default
    device whatever the input's device, which breaks on a GPU. 0-d tensors (Python numbers) are not counted.

    Both runs must return the same tensors on the same devices: where the code runs in another process (a
    grader that sends the default device with each call), a tensor made on ``meta`` there shows as an error,
    a tensor on the wrong device or other values (an embedding looked up with ``meta`` indices).

    ``module``: the object under test, when there is one (kept for the tests' signatures)."""
    def fail(what: str) -> AssertionError:
        return AssertionError(f"{name}: {what}" + (f"\nHint: {hint}" if hint else ""))

    with torch.random.fork_rng(devices=[]):
        expected = [t.detach() for t in _tensors_in(fn())]
    mode = _CreatedTensors()
    with torch.random.fork_rng(devices=[]), torch.device("meta"), mode:
        try:
            got = fn()
        except Exception as exc:  # a device mismatch inside the code under test
            raise fail(f"failed while the default device was meta and its inputs on the CPU: "
                       f"{type(exc).__name__}: {str(exc)[:200]}") from None
    wrong = sorted({f for f, d in mode.seen if d.type != "cpu"})
    if wrong:
        raise fail(f"with its inputs on the CPU and the default device set to meta, {', '.join(wrong)} "
                   "made tensors on the meta device; create every tensor on the input's device "
                   "(device=x.device, or *_like functions)")
    got = _tensors_in(got)
    if len(got) != len(expected):
        raise fail("returned other values with the default device set to meta than without")
    for g, e in zip(got, expected):
        if g.device != e.device:
            raise fail(f"with its inputs on the CPU and the default device set to meta it returned a tensor on "
                       f"{g.device}; create every tensor on the input's device (device=x.device, or *_like functions)")
        g = g.detach()
        same = g.shape == e.shape and g.dtype == e.dtype and (
            torch.allclose(g, e, rtol=1e-5, atol=1e-6, equal_nan=True) if g.is_floating_point() else torch.equal(g, e))
        if not same:
            raise fail("returned other values with the default device set to meta than without: a tensor it "
                       "made without device= landed on the meta device (create every tensor on the input's "
                       "device: device=x.device, or *_like functions)")
