"""Encoding and decoding of values for one message of the channel."""
from __future__ import annotations

import collections
import importlib
import sys
import types
from typing import Any

from .framing import ProtocolError, array_from_wire, array_to_wire, tensor_from_wire, tensor_to_wire
from .objects import (
    CLASS_INFO_ROOTS,
    ITERATORS,
    MAX_DEPTH,
    MAX_ITEMS,
    MISSING,
    WITHHELD,
    importable,
    numpy_module,
    plain_config,
    snapshot,
    tensor_version,
    torch_module,
)
from .proxies import TORCH_CLASSES, RemoteObject

MIGRATABLE_ROOTS = ("torch.nn", "dlnlp")


def migratable(obj) -> bool:
    """A module the tester hands over by state: every module in it has a class the student kernel can
    import itself (torch.nn, dlnlp)."""
    torch = torch_module()
    if torch is None or not isinstance(obj, torch.nn.Module) or type(obj) is RemoteObject:
        return False
    todo, seen = [obj], set()
    while todo:
        m = todo.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        if type(m) is RemoteObject or not isinstance(m, torch.nn.Module):
            return False
        ref = importable(type(m))
        if ref is None or not ref[0].startswith(MIGRATABLE_ROOTS) or f"{ref[0]}.{ref[1]}" in WITHHELD:
            return False
        children = m.__dict__.get("_modules") or {}
        todo.extend(c for c in children.values() if c is not None)
    return True




# ====================================================================== encoding
class Encoder:
    """Encodes values for one message. ``mode``: ``request`` (arguments; tensors are numbered for
    copy-back and gradients), ``result`` (an answer; tensors may be live parameters, bridged
    outputs or references to the request's own arguments) or ``state``."""

    def __init__(self, ep, bufs: list, mode: str, args: "Decoder | None" = None):
        self.ep = ep
        self.bufs = bufs
        self.mode = mode
        self.args = args
        self.sent: dict[int, Any] = {}
        self.grad_outputs: list = []
        self._memo: dict[int, dict] = {}
        self.new_objs: list[int] = []
        self.new_tensors: list[int] = []
        self._in_set = 0

    def enc(self, obj, depth: int = 0, plain: bool = False):
        if depth > MAX_DEPTH:
            raise ValueError("value nested too deeply to send")
        t = type(obj)
        if obj is None or t is bool or t is str:
            return obj
        if t is int:
            return obj if -(1 << 62) < obj < (1 << 62) else {"t": "I", "v": str(obj)}
        if t is float:
            return obj if obj == obj and abs(obj) != float("inf") else {"t": "f", "v": repr(obj)}
        if t is RemoteObject:
            if object.__getattribute__(obj, "_ep") is not self.ep:
                raise TypeError("a proxy of another link")
            return {"t": "h", "o": "peer", "id": object.__getattribute__(obj, "_id")}
        torch = torch_module()
        np = numpy_module()
        if torch is not None:
            if TORCH_CLASSES.remote_tensor is not None and t is TORCH_CLASSES.remote_tensor and not plain:
                return {"t": "h", "o": "peer", "id": obj._remote[1]}
            if isinstance(obj, torch.Tensor):
                return self._tensor(obj, plain)
            if t is torch.dtype:
                return {"t": "dt", "v": str(obj).replace("torch.", "")}
            if t is torch.device:
                return {"t": "dv", "v": str(obj)}
            if t is torch.Size:
                return {"t": "sz", "v": [int(s) for s in obj]}
            if t is torch.Generator:
                return self._generator(obj)
        if np is not None:
            if t is np.ndarray and obj.dtype.kind in "biufcUS":
                desc, raw = array_to_wire(obj)
                desc.update(t="A", b=self._buf(raw))
                return desc
            if isinstance(obj, np.generic) and obj.dtype.kind in "biufc":
                desc, raw = array_to_wire(np.asarray(obj))
                desc.update(t="a0", b=self._buf(raw))
                return desc
        if isinstance(obj, ITERATORS) or (t.__module__ == "builtins" and t.__name__.endswith("iterator")):
            items = []                           # iterated here, once, as the receiver would
            for item in obj:
                items.append(item)
                if len(items) > MAX_ITEMS:
                    raise ValueError("iterator too long to send")
            return {"t": "it", "v": [self.enc(v, depth + 1) for v in items]}
        if t in (type({}.keys()), type({}.values()), type({}.items())):
            return {"t": "L", "v": [self.enc(v, depth + 1) for v in obj]}
        if t in (list, tuple, set, frozenset):
            if len(obj) > MAX_ITEMS:
                raise ValueError("container too large to send")
            tag = {list: "L", tuple: "U", set: "S", frozenset: "F"}[t]
            if tag in ("S", "F"):
                self._in_set += 1
                try:
                    return self._mark({"t": tag, "v": [self.enc(v, depth + 1) for v in obj]}, obj, depth)
                finally:
                    self._in_set -= 1
            return self._mark({"t": tag, "v": [self.enc(v, depth + 1) for v in obj]}, obj, depth)
        if t in (dict, collections.OrderedDict, collections.defaultdict):
            if len(obj) > MAX_ITEMS:
                raise ValueError("container too large to send")
            return self._mark({"t": "D", "o": int(t is collections.OrderedDict),
                               "k": [self.enc(k, depth + 1) for k in obj.keys()],
                               "v": [self.enc(v, depth + 1) for v in obj.values()]}, obj, depth)
        if isinstance(obj, tuple) and (hasattr(t, "_fields") or t.__module__ == "torch.return_types"):
            if hasattr(t, "_fields"):
                fields = [str(f) for f in t._fields]
            else:
                counts = ("n_fields", "n_sequence_fields", "n_unnamed_fields")
                fields = [f for f in t.__dict__ if not f.startswith("_") and f not in counts]
            return {"t": "N", "n": str(t.__name__)[:60], "f": fields[:64], "c": list(importable(t) or []),
                    "v": [self.enc(v, depth + 1) for v in tuple.__iter__(obj)]}
        if t is bytes or t is bytearray:
            return self._mark({"t": "B", "b": self._buf(bytes(obj)), "ba": t is bytearray}, obj, depth)
        if t is complex:
            return {"t": "c", "v": [repr(obj.real), repr(obj.imag)]}
        if t is slice:
            return {"t": "sl", "v": [self.enc(obj.start), self.enc(obj.stop), self.enc(obj.step)]}
        if t is range:
            return {"t": "rg", "v": [obj.start, obj.stop, obj.step]}
        if obj is Ellipsis:
            return {"t": "el"}
        if obj is NotImplemented:
            return {"t": "ni"}
        if self.ep.guarded and not self._in_set and migratable(obj):
            try:
                return self._migrate(obj, depth)
            except Exception:
                pass
        ep = self.ep
        if not ep.guarded and id(obj) in ep._mig_obj_k and ep._mig_obj.get(ep._mig_obj_k[id(obj)]) is obj:
            return {"t": "migo", "k": self.ep._mig_obj_k[id(obj)]}
        if self.ep.guarded and plain_config(obj):
            self._migrating = getattr(self, "_migrating", 0) + 1
            try:
                return {"t": "obj", "c": list(importable(type(obj))),
                        "state": self.enc(dict(vars(obj)), depth + 1)}
            except Exception:
                pass
            finally:
                self._migrating -= 1
        if self.ep.guarded:
            # the tester names library functions and modules; the student kernel imports its own
            if isinstance(obj, types.ModuleType):
                name = getattr(obj, "__name__", None)
                if isinstance(name, str) and sys.modules.get(name) is obj:
                    return {"t": "M", "m": name}
            if isinstance(obj, type) or callable(obj):
                ref = importable(obj)
                if ref is not None and f"{ref[0]}.{ref[1]}" not in WITHHELD:
                    return {"t": "R", "m": ref[0], "q": ref[1]}
        else:
            # subclasses of plain types travel as the plain type (their methods stay behind)
            for base in (int, float, str):
                if isinstance(obj, base):
                    return self.enc(base(obj), depth)
        return self._handle(obj)

    def _buf(self, raw: bytes) -> int:
        self.bufs.append(raw)
        return len(self.bufs) - 1

    def _mark(self, desc: dict, obj, depth: int) -> dict:
        """A mutable container (list, dict, set, bytearray) an argument holds: numbered like the request's
        tensors, so that the receiver can say when the call changed it in place. The request's own list of
        arguments (depth 0) and the state of objects handed over by state are not numbered."""
        if self.mode == "request" and depth > 0 and not getattr(self, "_migrating", 0) \
                and type(obj) in (list, dict, set, bytearray, collections.OrderedDict, collections.defaultdict):
            desc["s"] = len(self.sent)
            self.sent[desc["s"]] = obj
        return desc

    def _migrate(self, obj, depth: int) -> dict:
        ep = self.ep
        k = ep._mig_obj_k.get(id(obj))
        if k is not None and ep._mig_obj.get(k) is obj and (k in ep._mig_sent or k in self.new_objs):
            return {"t": "migo", "k": k}
        k = ep._new_id()
        ep._mig_obj[k] = obj
        ep._mig_obj_k[id(obj)] = k
        self.new_objs.append(k)
        self._migrating = getattr(self, "_migrating", 0) + 1
        try:
            state = self.enc(dict(obj.__dict__), depth + 1)
        finally:
            self._migrating -= 1
        return {"t": "mod", "k": k, "c": list(importable(type(obj))), "state": state}

    def _committed_tensor(self, mk: int) -> bool:
        return mk in self.ep._mig_ver and mk not in self.new_tensors

    def commit(self) -> None:
        """The message was sent: what it handed over by state is now known to the other side."""
        self.ep._mig_sent.update(self.new_objs)
        self.new_objs.clear()
        self.new_tensors.clear()

    def rollback(self) -> None:
        """The message was not sent: forget what it would have handed over."""
        ep = self.ep
        for k in self.new_objs:
            obj = ep._mig_obj.pop(k, None)
            if obj is not None and ep._mig_obj_k.get(id(obj)) == k:
                del ep._mig_obj_k[id(obj)]
        for k in self.new_tensors:
            t = ep._mig_t.pop(k, None)
            ep._mig_ver.pop(k, None)
            if t is not None and ep._mig_t_k.get(id(t)) == k:
                del ep._mig_t_k[id(t)]
        self.new_objs.clear()
        self.new_tensors.clear()

    def _tensor(self, obj, plain: bool):
        torch = torch_module()
        if not plain:
            mk = self.ep._mig_t_k.get(id(obj))
            if mk is not None and self.ep._mig_t.get(mk) is obj and (
                    not self.ep.guarded or mk not in self.new_tensors and self._committed_tensor(mk)):
                return {"t": "migt", "k": mk}
            if getattr(self, "_migrating", 0):
                with torch._C.DisableTorchFunctionSubclass():
                    desc, raw = tensor_to_wire(obj)
                    rg, is_param = bool(obj.requires_grad), isinstance(obj, torch.nn.Parameter)
                    g = obj.grad if obj.is_leaf else None
                mk = self.ep._new_id()
                self.ep._mig_t[mk] = obj
                self.ep._mig_t_k[id(obj)] = mk
                self.ep._mig_ver[mk] = tensor_version(obj)
                self.new_tensors.append(mk)
                desc.update(t="T", b=self._buf(raw), mig=mk, rg=rg, param=is_param)
                if g is not None:
                    desc["g"] = self.enc(g.detach(), plain=True)
                self._memo[id(obj)] = {"t": "migt", "k": mk}
                return desc
        if self.mode == "result" and not plain and self.args is not None:
            s = self.args.ids.get(id(obj))
            if s is not None:
                return {"t": "arg", "i": s}
        key = id(obj)
        if key in self._memo and not plain:
            return self._memo[key]
        with torch._C.DisableTorchFunctionSubclass():
            requires_grad = bool(obj.requires_grad)
            is_leaf = bool(obj.is_leaf)
            is_param = isinstance(obj, torch.nn.Parameter)
        desc, raw = tensor_to_wire(obj)
        desc.update(t="T", b=self._buf(raw))
        grad_on = torch.is_grad_enabled()
        if self.mode == "request" and not plain:
            desc["rg"] = requires_grad and grad_on
            desc["s"] = len(self.sent)
            self.sent[desc["s"]] = obj
            with torch._C.DisableTorchFunctionSubclass():
                grad = obj.grad if is_leaf else None
            if grad is not None:
                desc["g"] = self.enc(grad.detach(), plain=True)
        elif self.mode == "result" and not plain:
            if is_param or (is_leaf and requires_grad):
                desc["live"] = self.ep.export(obj)
                desc["rg"] = requires_grad
            elif requires_grad and not is_leaf and grad_on:
                desc["rg"] = True
                desc["o"] = len(self.grad_outputs)
                self.grad_outputs.append(obj)
        if not plain:
            self._memo[key] = desc
        return desc

    def _generator(self, gen):
        desc = {"t": "G", "b": self._buf(bytes(gen.get_state().numpy())), "dev": str(gen.device)}
        if self.mode == "request":
            desc["s"] = len(self.sent)
            self.sent[desc["s"]] = gen
        return desc

    def _handle(self, obj):
        eid = self.ep.export(obj)
        t = type(obj)
        if isinstance(obj, type):
            kind = "cls"
        elif isinstance(obj, (types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                              types.BuiltinMethodType)):
            kind = "fn"
        else:
            kind = "obj"
        bases = []
        if kind == "obj" and not self.ep.guarded:
            for klass in t.__mro__[:20]:
                ref = importable(klass)
                if ref is not None and klass is not object and ref[0].split(".")[0] in CLASS_INFO_ROOTS:
                    bases.append(list(ref))
        try:
            name = type.__getattribute__(obj if kind == "cls" else t, "__name__")
        except Exception:
            name = "object"
        return {"t": "h", "o": "mine", "id": eid, "k": kind, "c": bases[:8], "n": str(name)[:80]}


# ====================================================================== decoding
class Decoder:
    """Decodes one message. ``mode``: ``request`` (argument tensors are recorded for copy-back and
    made to require grad as the caller's did), ``reply`` (``arg`` references resolve to what this side
    sent; bridged outputs are collected) or ``state``."""

    def __init__(self, ep, bufs: list, mode: str, sent: dict | None = None):
        self.ep = ep
        self.bufs = bufs
        self.mode = mode
        self.sent = sent or {}
        self.args: dict[int, Any] = {}        # request mode: s -> decoded tensor, generator or container
        self.versions: dict[int, Any] = {}
        self.ids: dict[int, int] = {}          # id(decoded tensor) -> s
        self.grad_outputs: dict[int, Any] = {}
        self._tensors: dict[int, Any] = {}     # buffer index -> decoded tensor

    def _buf(self, i):
        if not isinstance(i, int) or not 0 <= i < len(self.bufs):
            raise ProtocolError("bad buffer index")
        return self.bufs[i]

    def dec(self, tree, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if tree is None or isinstance(tree, (bool, int, float, str)):
            return tree
        if not isinstance(tree, dict):
            raise ProtocolError("bad value")
        tag = tree.get("t")
        v = tree.get("v")
        if tag == "L":
            return self._arg(tree, [self.dec(x, depth + 1) for x in as_list(v)])
        if tag == "it":
            return iter([self.dec(x, depth + 1) for x in as_list(v)])
        if tag in ("migo", "migt"):
            k = tree.get("k")
            table = self.ep._mig_obj if tag == "migo" else self.ep._mig_t
            if k not in table:
                raise ProtocolError(f"unknown handed-over {'object' if tag == 'migo' else 'tensor'} #{k}")
            return table[k]
        if tag in ("mod", "obj"):
            if self.ep.guarded:
                raise ProtocolError("the submission cannot hand objects over by state")
            return self._by_state(tree, depth)
        if tag == "U":
            return tuple(self.dec(x, depth + 1) for x in as_list(v))
        if tag == "S":
            return self._arg(tree, set(self.dec(x, depth + 1) for x in as_list(v)))
        if tag == "F":
            return frozenset(self.dec(x, depth + 1) for x in as_list(v))
        if tag == "D":
            keys = [self.dec(x, depth + 1) for x in as_list(tree.get("k"))]
            vals = [self.dec(x, depth + 1) for x in as_list(v)]
            if len(keys) != len(vals):
                raise ProtocolError("bad dict")
            try:
                d = (collections.OrderedDict if tree.get("o") else dict)(zip(keys, vals))
            except TypeError:
                raise ProtocolError("unhashable dict key") from None
            return self._arg(tree, d)
        if tag == "T":
            return self._tensor(tree)
        if tag == "arg":
            i = tree.get("i")
            if self.mode != "reply" or i not in self.sent:
                raise ProtocolError("bad argument reference")
            return self.sent[i]
        if tag == "I":
            return int(str(v)[:5000])
        if tag == "f":
            return float(str(v))
        if tag == "c":
            re_, im = as_list(v)
            return complex(float(re_), float(im))
        if tag == "A":
            return array_from_wire(tree, self._buf(tree.get("b")))
        if tag == "a0":
            return array_from_wire(tree, self._buf(tree.get("b")))[()]
        if tag == "B":
            raw = self._buf(tree.get("b"))
            return self._arg(tree, bytearray(raw)) if tree.get("ba") else bytes(raw)
        if tag == "sl":
            a, b, c = (self.dec(x, depth + 1) for x in as_list(v))
            return slice(a, b, c)
        if tag == "rg":
            a, b, c = (int(x) for x in as_list(v))
            return range(a, b, c)
        if tag == "el":
            return Ellipsis
        if tag == "ni":
            return NotImplemented
        if tag == "dt":
            torch = torch_module()
            dt = getattr(torch, str(v), None)
            if not isinstance(dt, torch.dtype):
                raise ProtocolError("bad dtype")
            return dt
        if tag == "dv":
            return torch_module().device(str(v))
        if tag == "sz":
            return torch_module().Size([int(x) for x in as_list(v)])
        if tag == "G":
            return self._generator(tree)
        if tag == "N":
            return self._namedtuple(tree, depth)
        if tag in ("M", "R"):
            if self.ep.guarded:
                raise ProtocolError("the submission cannot name objects of the grader")
            return self._resolve(str(tree.get("m")), str(tree.get("q", "")) if tag == "R" else "")
        if tag == "h":
            eid = tree.get("id")
            if not isinstance(eid, int):
                raise ProtocolError("bad handle")
            if tree.get("o") == "peer":
                obj = self.ep._exports.get(eid, MISSING)
                if obj is MISSING:
                    raise ProtocolError("unknown handle")
                return obj
            return self.ep.proxy(eid, tree)
        raise ProtocolError(f"unknown tag {tag!r}")

    def _arg(self, tree: dict, obj):
        """In a request: remember a numbered container and what it held, to tell a change in place."""
        s = tree.get("s")
        if self.mode == "request" and isinstance(s, int):
            self.args[s] = obj
            self.versions[s] = snapshot(obj)
        return obj

    def _by_state(self, tree, depth):
        ep = self.ep
        k = tree.get("k")
        if tree.get("t") == "mod" and k in ep._mig_obj:
            return ep._mig_obj[k]
        ref = as_list(tree.get("c"))
        if len(ref) != 2:
            raise ProtocolError("bad class reference")
        cls = self._resolve(str(ref[0]), str(ref[1]))
        obj = cls.__new__(cls)
        if tree.get("t") == "mod":
            ep._mig_obj[k] = obj
            ep._mig_obj_k[id(obj)] = k
        state = self.dec(tree.get("state"), depth + 1)
        if not isinstance(state, dict):
            raise ProtocolError("bad state")
        setstate = getattr(obj, "__setstate__", None)
        if tree.get("t") == "mod" and setstate is not None:
            setstate(state)
        else:
            obj.__dict__.update(state)
        return obj

    def _tensor(self, tree):
        b = tree.get("b")
        if b in self._tensors:
            return self._tensors[b]
        torch = torch_module()
        t = tensor_from_wire(tree, self._buf(b))
        mk = tree.get("mig")
        if mk is not None and not self.ep.guarded:
            if tree.get("rg") and (t.is_floating_point() or t.is_complex()):
                t.requires_grad_(True)
            if tree.get("param"):
                t = torch.nn.Parameter(t, requires_grad=bool(tree.get("rg")))
            if isinstance(tree.get("g"), dict):
                g = self.dec(tree["g"])
                if isinstance(g, torch.Tensor) and g.shape == t.shape:
                    t.grad = g
            self.ep._mig_t[mk] = t
            self.ep._mig_t_k[id(t)] = mk
            self.ep._mig_ver[mk] = tensor_version(t)
            self._tensors[b] = t
            return t
        self._tensors[b] = t
        if self.mode == "request":
            s = tree.get("s")
            if tree.get("rg") and (t.is_floating_point() or t.is_complex()) and torch.is_grad_enabled():
                t.requires_grad_(True)
            if isinstance(tree.get("g"), dict):
                g = self.dec(tree["g"])
                if isinstance(g, torch.Tensor) and g.shape == t.shape:
                    t.grad = g
            if isinstance(s, int):
                self.args[s] = t
                self.versions[s] = tensor_version(t)
                self.ids[id(t)] = s
        elif self.mode == "reply":
            live = tree.get("live")
            if live is not None and isinstance(live, int):
                if tree.get("rg") and (t.is_floating_point() or t.is_complex()):
                    t.requires_grad_(True)
                t = self.ep.live_tensor(live, t)
                self._tensors[b] = t
            elif tree.get("rg") and isinstance(tree.get("o"), int) and t.is_floating_point():
                self.grad_outputs[tree["o"]] = t
        return t

    def _generator(self, tree):
        torch = torch_module()
        gen = torch.Generator(device="cpu")
        with torch.device("cpu"):
            gen.set_state(torch.frombuffer(bytearray(self._buf(tree.get("b"))), dtype=torch.uint8).clone())
        if self.mode == "request" and isinstance(tree.get("s"), int):
            self.args[tree["s"]] = gen
            self.versions[tree["s"]] = bytes(gen.get_state().numpy())
        return gen

    def _namedtuple(self, tree, depth):
        vals = [self.dec(x, depth + 1) for x in as_list(tree.get("v"))]
        ref = tree.get("c") or []
        if len(ref) == 2 and isinstance(ref[0], str) and isinstance(ref[1], str) and "__" not in ref[1] and (
                not self.ep.guarded or ref[0].startswith("torch.")):
            cls = None
            try:
                cls = sys.modules.get(ref[0]) or (None if self.ep.guarded else importlib.import_module(ref[0]))
                for part in ref[1].split("."):
                    cls = getattr(cls, part)
            except Exception:
                cls = None
            if isinstance(cls, type) and issubclass(cls, tuple):
                try:
                    return cls(vals) if cls.__module__ == "torch.return_types" else cls(*vals)
                except Exception:
                    pass
        fields = [str(f) for f in as_list(tree.get("f"))]
        name = str(tree.get("n", "result"))
        if len(fields) == len(vals) and all(f.isidentifier() and not f.startswith("_") for f in fields) \
                and len(set(fields)) == len(fields):
            return collections.namedtuple(name if name.isidentifier() else "result", fields)(*vals)
        return tuple(vals)

    def _resolve(self, module: str, qual: str):
        mod = sys.modules.get(module) or importlib.import_module(module)
        target = mod
        for part in filter(None, qual.split(".")):
            target = getattr(target, part)
        return target


def as_list(v) -> list:
    if not isinstance(v, list):
        raise ProtocolError("expected a list")
    return v


