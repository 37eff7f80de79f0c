"""What both ends of the channel share: limits, refused names, errors, random state, copy-back."""
from __future__ import annotations

import builtins
import collections
import operator
import os
import random
import sys
import sysconfig
import types

from .framing import ProtocolError

MISSING = object()
MAX_DEPTH = 60
MAX_ITEMS = 200_000


class RemoteError(Exception):
    """An exception raised by the other process, or a failure to talk to it."""


class RemoteTimeout(RemoteError):
    """The other process was interrupted because the cell ran out of time."""


BUILTIN_EXC = {name: obj for name, obj in vars(builtins).items()
                if isinstance(obj, type) and issubclass(obj, Exception)
                and name not in {"StopIteration", "StopAsyncIteration", "GeneratorExit"}}

# --- the guarded endpoint refuses these to the other side ---------------------------------------
DENIED_PREFIXES = ("__", "f_", "gi_", "cr_", "ag_", "tb_", "co_", "im_", "func_")
NEVER_EXPORT = (types.FrameType, types.CodeType, types.TracebackType, types.GeneratorType,
                 types.CoroutineType, types.AsyncGeneratorType, types.CellType, types.ModuleType)
# classes the tester may name when it answers isinstance() for a proxy
CLASS_INFO_ROOTS = ("torch", "numpy", "dlnlp", "collections", "builtins", "numbers")

BINOPS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "matmul": operator.matmul, "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "lshift": operator.lshift, "rshift": operator.rshift, "divmod": divmod,
    "iadd": operator.iadd, "isub": operator.isub, "imul": operator.imul,
    "itruediv": operator.itruediv, "ifloordiv": operator.ifloordiv, "imod": operator.imod,
    "ipow": operator.ipow, "imatmul": operator.imatmul,
}
UNOPS = {
    "neg": operator.neg, "pos": operator.pos, "abs": operator.abs, "invert": operator.invert,
    "float": float, "int": int, "index": operator.index, "complex": complex, "bool": bool,
    "len": len, "repr": repr, "str": str, "reversed": lambda o: list(reversed(o)),
}
ITERATORS = (types.GeneratorType, map, filter, zip, enumerate, reversed)
# in-place tensor methods the guarded side refuses on tensors it handed over (they reach beyond the data)
GUARDED_TENSOR_DENY = {"set_", "share_memory_", "resize_", "resize_as_", "record_stream", "apply_", "map_",
                        "map2_", "storage", "untyped_storage", "pin_memory", "register_hook", "retain_grad"}
INPLACE_DUNDERS = {"__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__",
                    "__ifloordiv__", "__imod__", "__ipow__", "__iand__", "__ior__", "__ixor__"}


def torch_module():
    return sys.modules.get("torch")


def numpy_module():
    return sys.modules.get("numpy")


# qualified names of the reference answers the student kernel has only as stand-ins until their exercise
# is graded: the tester hands these over as proxies, never by name (set in the tester from its setup)
WITHHELD: set[str] = set()


def importable(obj) -> tuple[str, str] | None:
    """``(module, qualname)`` when ``obj`` is the object found under that name in an imported module."""
    try:
        if isinstance(obj, type):
            mod = type.__getattribute__(obj, "__module__")
            qual = type.__getattribute__(obj, "__qualname__")
        else:
            mod = getattr(obj, "__module__", None)
            qual = getattr(obj, "__qualname__", None)
    except Exception:
        return None
    if not isinstance(mod, str) or not isinstance(qual, str) or mod == "__main__" or "<" in qual:
        return None
    module = sys.modules.get(mod)
    if module is None:
        return None
    target = module
    try:
        for part in qual.split("."):
            target = getattr(target, part)
    except Exception:
        return None
    return (mod, qual) if target is obj else None


# ====================================================================== interrupts
class _Guard:
    """Where user code runs, a SIGINT (the cell's time limit) raises ``KeyboardInterrupt``; while
    a message is being read or written it is deferred, so the stream never breaks mid-message."""

    def __init__(self):
        self.depth = 0
        self.io = 0
        self.pending = False

    def __enter__(self):
        self.depth += 1
        if self.pending and self.io == 0:
            self.pending = False
            self.depth -= 1
            raise KeyboardInterrupt
        return self

    def __exit__(self, *exc):
        self.depth -= 1
        return False

    def after_io(self):
        if self.pending and self.depth > 0 and self.io == 0:
            self.pending = False
            raise KeyboardInterrupt


GUARD = _Guard()


def install_interrupt_handler() -> None:
    import signal

    def handler(signum, frame):
        if GUARD.depth > 0 and GUARD.io == 0:
            raise KeyboardInterrupt
        GUARD.pending = True

    signal.signal(signal.SIGINT, handler)




def requires_grad(t) -> bool:
    torch = torch_module()
    return torch is not None and isinstance(t, torch.Tensor) and t.requires_grad


def default_device(torch) -> str:
    """The type of PyTorch's default device (``torch.device("meta")`` or ``set_default_device``), read
    without creating a tensor, so that a test's torch function modes see nothing of the link."""
    from torch.overrides import _get_current_function_mode_stack
    from torch.utils._device import DeviceContext

    for mode in reversed(_get_current_function_mode_stack()):
        if isinstance(mode, DeviceContext):
            return torch.device(mode.device).type
    return "cpu"


_SEEDINGS = [0]


def watch_seeding() -> None:
    """Count the seeding calls of this process (``torch.manual_seed``, ``random.seed``, ...), so that a test
    that seeds twice with the same seed sends its state again, although it did not change (the student
    kernel's generators moved in between). Wraps each function once."""
    import functools

    torch, np = torch_module(), numpy_module()
    targets = [(random, "seed"), (random, "setstate")]
    if torch is not None:
        targets += [(torch, "manual_seed"), (torch, "seed"), (torch, "set_rng_state"),
                    (torch.random, "manual_seed"), (torch.random, "seed"), (torch.random, "set_rng_state")]
    if np is not None:
        targets += [(np.random, "seed"), (np.random, "set_state")]
    for mod, name in targets:
        fn = getattr(mod, name, None)
        if fn is None or getattr(fn, "_grader_counts_seeding", False):
            continue

        def counted(*args, _fn=fn, **kwargs):
            _SEEDINGS[0] += 1
            return _fn(*args, **kwargs)

        functools.update_wrapper(counted, fn)
        counted._grader_counts_seeding = True
        setattr(mod, name, counted)


class RngState:
    """The global random state of Python, NumPy and PyTorch (CPU), comparable cheaply."""

    def __init__(self, parts, key):
        self.parts = parts
        self.key = key

    @classmethod
    def now(cls) -> "RngState":
        torch, np = torch_module(), numpy_module()
        t = torch.get_rng_state() if torch is not None else None
        n = None
        if np is not None:
            s = np.random.get_state()
            n = [s[1], int(s[2]), int(s[3]), float(s[4])]
        p = random.getstate()
        py = [p[0], list(p[1]), p[2]]
        key = (bytes(t.numpy()) if t is not None else b"", n[0].tobytes() + repr(n[1:]).encode() if n else b"",
               hash(p), _SEEDINGS[0])
        return cls([t, n, py], key)

    @staticmethod
    def restore(parts) -> None:
        if not isinstance(parts, list) or len(parts) != 3:
            raise ProtocolError("bad random state")
        t, n, py = parts
        torch, np = torch_module(), numpy_module()
        if t is not None and torch is not None:
            torch.set_rng_state(t)
        if n is not None and np is not None:
            np.random.set_state(("MT19937", n[0], n[1], n[2], n[3]))
        if py is not None:
            random.setstate((py[0], tuple(py[1]), py[2]))

    def __eq__(self, other):
        return isinstance(other, RngState) and self.key == other.key

    __hash__ = None


class InputModified(RuntimeError):
    """Raised in a test when the submission changed, in place, a tensor the test handed to it."""


def same_data(orig, new) -> bool:
    """Whether a tensor handed to the other side came back with the same data."""
    torch = torch_module()
    if torch is None or not isinstance(orig, torch.Tensor) or not isinstance(new, torch.Tensor):
        return True
    with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
        if orig.shape != new.shape or orig.dtype != new.dtype or orig.device != new.device:
            return False
        return orig.device.type == "meta" or bool(torch.equal(orig, new))   # meta: no values to compare


def copy_back(orig, new, grad=None, has_grad: bool = False) -> None:
    torch = torch_module()
    if torch is None:
        return
    if isinstance(orig, torch.Generator) and isinstance(new, torch.Generator):
        orig.set_state(new.get_state())
    elif isinstance(orig, torch.Tensor) and isinstance(new, torch.Tensor):
        with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
            if orig.shape == new.shape and orig.dtype == new.dtype and orig.device == new.device:
                if orig.device.type != "meta" and not torch.equal(orig, new):   # meta: no values to compare
                    orig.copy_(new)
            else:
                orig.data = new
            if has_grad and orig.is_leaf:
                if grad is None:
                    orig.grad = None
                elif isinstance(grad, torch.Tensor) and grad.shape == orig.shape:
                    if orig.grad is not None and orig.grad.shape == grad.shape:
                        orig.grad.copy_(grad)
                    else:
                        orig.grad = grad




def plain_config(obj) -> bool:
    """A configuration object (a dataclass of plain values) of an importable class."""
    import dataclasses

    if isinstance(obj, type) or not dataclasses.is_dataclass(obj):
        return False
    ref = importable(type(obj))
    return ref is not None and ref[0].startswith(("dlnlp", "torch", "transformers")) \
        and f"{ref[0]}.{ref[1]}" not in WITHHELD


def tensor_version(t) -> tuple:
    """What changes when a tensor or its .grad is modified in place or replaced."""
    g = t.grad if t.is_leaf else None
    return (t._version, id(g), g._version if g is not None else None)


def differentiable(t) -> bool:
    torch = torch_module()
    return torch is not None and isinstance(t, torch.Tensor) and t.requires_grad and (
        t.is_floating_point() or t.is_complex())


def leaves(outputs: list, exclude: set[int], limit: int = 20000) -> list:
    """The leaf tensors requiring grad (parameters) that ``outputs`` depend on, in a stable order."""
    seen, order, stack = set(), [], [o.grad_fn for o in outputs if o.grad_fn is not None]
    visited = 0
    while stack and visited < limit:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        visited += 1
        var = getattr(fn, "variable", None)
        if var is not None and id(var) not in exclude and id(var) not in {id(v) for v in order}:
            order.append(var)
        for nxt, _ in getattr(fn, "next_functions", ()):
            if nxt is not None:
                stack.append(nxt)
    return order


def replace_tensors(value, swap: dict):
    torch = torch_module()
    if isinstance(value, torch.Tensor):
        return swap.get(id(value), value)
    t = type(value)
    if t is list:
        return [replace_tensors(v, swap) for v in value]
    if t is tuple:
        return tuple(replace_tensors(v, swap) for v in value)
    if isinstance(value, tuple) and hasattr(t, "_fields"):
        return t(*[replace_tensors(v, swap) for v in value])
    if t is dict:
        return {k: replace_tensors(v, swap) for k, v in value.items()}
    if t is collections.OrderedDict:
        return collections.OrderedDict((k, replace_tensors(v, swap)) for k, v in value.items())
    return value


def describe_error(e: BaseException, with_tb: bool) -> dict:
    import traceback

    if isinstance(e, KeyboardInterrupt):
        return {"type": "KeyboardInterrupt", "msg": "interrupted: the cell ran out of time"}
    try:
        msg = str(e)
    except Exception:
        msg = "<unprintable error>"
    name = type(e).__name__
    if not with_tb:                       # the tester never sends its source lines to the submission
        return {"type": name, "msg": msg[:300]}
    try:
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-10))
    except Exception:
        tb = ""
    return {"type": name, "msg": msg[:4000], "tb": tb[-8000:]}


def rebuild_error(err, with_tb: bool) -> BaseException:
    if not isinstance(err, dict):
        return RemoteError("malformed error")
    name = str(err.get("type", "Exception"))
    msg = str(err.get("msg", ""))
    if name == "KeyboardInterrupt":
        return RemoteTimeout(msg)
    cls = BUILTIN_EXC.get(name)
    try:
        e = cls(msg) if cls is not None else RemoteError(f"{name}: {msg}")
    except Exception:
        e = RemoteError(f"{name}: {msg}")
    if with_tb and err.get("tb"):
        try:
            e.remote_traceback = str(err.get("tb"))
        except Exception:
            pass
    return e


def unary(target, name: str, args: list, check_writable):
    """The operation ``name`` (not a binary operator) on ``target``, for a request of the other side."""
    if name in UNOPS:
        return UNOPS[name](target)
    if name == "getitem":
        return target[args[0]]
    if name == "setitem":
        check_writable(target, "[...]")
        target[args[0]] = args[1]
        return None
    if name == "delitem":
        check_writable(target, "[...]")
        del target[args[0]]
        return None
    if name == "contains":
        return args[0] in target
    if name == "iter":
        items = []
        for item in target:
            items.append(item)
            if len(items) > MAX_ITEMS:
                raise RuntimeError("iteration produced too many items")
        return items
    if name == "format":
        return format(target, *args[:1])
    if name == "round":
        return round(target, *args[:1])
    if name == "enter":
        return target.__enter__()
    if name == "exit":
        return target.__exit__(None, None, None)
    if name == "array":
        return numpy_module().asarray(target)
    raise ProtocolError(f"unknown operation {name!r}")


def snapshot(obj, depth: int = 0):
    """What a container holds, comparable with ``==`` after a call: values of plain items, the identity of
    anything else (a tensor changed in place is told by its version counter instead)."""
    if depth > MAX_DEPTH:
        return ("deep",)
    t = type(obj)
    if obj is None or t in (bool, int, str, bytes):
        return (t.__name__, obj)
    if t is float:
        return ("float", repr(obj))
    if t in (list, tuple):
        return (t.__name__, tuple(snapshot(x, depth + 1) for x in obj))
    if t in (set, frozenset):
        return (t.__name__, frozenset(snapshot(x, depth + 1) for x in obj))
    if t in (dict, collections.OrderedDict, collections.defaultdict):
        return ("dict", tuple((snapshot(k, depth + 1), snapshot(v, depth + 1)) for k, v in obj.items()))
    if t is bytearray:
        return ("bytearray", bytes(obj))
    return ("id", id(obj))

def changes_in_place(args: dict, versions: dict, enc) -> list:
    """What a served call changed in place among the request's arguments (``args``: number -> tensor, generator
    or container; ``versions``: what each was before), as copy-back items for the reply: a tensor's new data and
    .grad, a generator's new state, a container's length (containers are said to have changed, not copied)."""
    cb = []
    torch = torch_module()
    for s, t in sorted(args.items()):
        if torch is not None and isinstance(t, torch.Tensor):
            if tensor_version(t) != versions[s]:
                item = {"t": "cb", "d": enc.enc(t.detach(), plain=True)}
                item["g"] = enc.enc(t.grad.detach(), plain=True) if t.grad is not None else None
                cb.append([s, item])
        elif torch is not None and isinstance(t, torch.Generator):
            if bytes(t.get_state().numpy()) != versions[s]:
                cb.append([s, enc.enc(t, plain=True)])
        elif snapshot(t) != versions[s]:          # a list, dict, set or bytearray changed in place
            cb.append([s, {"t": "cbl", "n": len(t)}])
    return cb


_LIBRARY_DIRS = tuple({sysconfig.get_paths()[k] + os.sep for k in ("stdlib", "purelib", "platlib")})


def called_by_library() -> bool:
    """Whether the code that made the current request, past this package's own frames, is a library's
    (the standard library or an installed package, e.g. torch passing its own accumulator along) rather than
    a test's."""
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(here):
        f = f.f_back
    return f is not None and f.f_code.co_filename.startswith(_LIBRARY_DIRS)
