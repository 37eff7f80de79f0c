"""Objects that live in another process: the link between the tester and the student's kernel.

The sealed verdict (see ``docs/grading_trust.md``) runs a test cell in the *tester*, a clean process that
never executes the student's code, while the names the student defines (``softmax``, ``Value``,
``LSTMCell`` ...) are bound to :class:`RemoteObject` proxies of the objects in the *student kernel*.
Calling a proxy, reading an attribute or applying an operator sends a request over a
:class:`.framing.Channel`; the other side runs it and answers with *data* (numbers, strings, containers,
tensors rebuilt from raw bytes, :mod:`.codec`) or a new proxy for an object that is not data. The
comparisons, the reference computations and the check helpers of the test run on the tester's own
objects, so nothing the student's process does can change how they behave.

Both processes run an :class:`Endpoint`. The tester's endpoint is *guarded* (its peer is the
untrusted student kernel):

* the student kernel can only describe its objects as data or as handles to be called back; it can
  never make the tester resolve a library function by name;
* when the student's code calls back into an object the test handed to it (a lambda, a reference
  ``Value``, a module), it may call it and read its public attributes, but never change it (no
  ``setattr``/``setitem`` unless the test marks it ``__grader_writable__``) nor reach dunder attributes,
  frames or code objects; errors raised there travel back without their tracebacks (no test source);
* the state that matters to a test (random generators, grad mode, default dtype) flows from the
  tester to the student kernel only: the student's code cannot steer the tester's random numbers.

Faithful to running in one process:

* a tensor handed to the student's code and changed in place is copied back, so the test sees it, and
  the call raises :class:`.objects.InputModified` (unless the function's name ends in ``_``);
* a tensor the student's code returns unchanged comes back as the very same object;
* gradients flow across the boundary: a result computed from tensors that require grad is attached
  to the caller's autograd graph by a bridge ``Function`` whose backward asks the other side for the
  input gradients (and accumulates the student's parameters' ``.grad`` there, as one process would);
* parameters read from a student's module (``m.weight``) are ``RemoteTensor`` s: in-place updates
  (``copy_``, ``zero_``, ``nn.init.*``, optimiser steps) and ``.grad`` reach the real parameter;
* the tester's random state is pushed with every request, so ``torch.manual_seed(0); Student(...)``
  draws the numbers it would draw in one process;
* names the test rebinds (``linear_backward = reference.linear_backward``) are rebound in the
  student's kernel before its code runs.

Limits (a test that needs them is reported by calibration and graded in the kernel instead): objects
of the submission cannot be ordered or compared by value (only their data can), generators cannot be
handed to the submission, and double backward is not supported.
"""
from __future__ import annotations

import types
from typing import Any

from .codec import Decoder, Encoder, as_list
from .framing import Channel, ChannelClosed, ProtocolError
from .objects import (
    BINOPS,
    DENIED_PREFIXES,
    GUARD,
    GUARDED_TENSOR_DENY,
    INPLACE_DUNDERS,
    MISSING,
    NEVER_EXPORT,
    InputModified,
    RemoteError,
    RngState,
    called_by_library,
    changes_in_place,
    copy_back,
    default_device,
    describe_error,
    differentiable,
    leaves,
    rebuild_error,
    replace_tensors,
    same_data,
    tensor_version,
    torch_module,
    unary,
    watch_seeding,
)
from .proxies import TORCH_CLASSES, BridgeInfo, RemoteObject, is_inplace, setup_torch_classes

__all__ = ["Endpoint", "RemoteObject", "RemoteError", "GUARD",]


# ====================================================================== the endpoint
class Endpoint:
    """One side of the link. ``guarded=True`` in the tester (its peer is the student kernel).

    ``namespace`` is this process's user namespace (the notebook's globals); ``names`` are the
    student's names, rebound in the student kernel when the tester rebinds them.
    """

    def __init__(self, channel: Channel, *, guarded: bool, namespace: dict | None = None):
        self.ch = channel
        self.guarded = guarded
        self.ns = namespace if namespace is not None else {}
        self.names: list[str] = []
        self._known: dict[str, Any] = {}
        self._exports: dict[int, Any] = {}
        self._export_ids: dict[int, int] = {}
        self._proxies: dict[int, "RemoteObject"] = {}
        self._live: dict[int, object] = {}
        self._records: dict[int, tuple] = {}
        # modules handed over by state ("migrated"): the tester owns the originals, the kernel holds copies
        self._mig_obj: dict[int, object] = {}      # key -> original (owner) or copy (holder)
        self._mig_obj_k: dict[int, int] = {}       # id(object) -> key
        self._mig_t: dict[int, object] = {}        # key -> tensor (original or copy)
        self._mig_t_k: dict[int, int] = {}         # id(tensor) -> key
        self._mig_ver: dict[int, tuple] = {}       # key -> version at the last synchronisation
        self._mig_sent: set[int] = set()
        self._next = 1
        self._rng_sent = None
        self.broken: str | None = None
        self.violation: str | None = None
        self.modified: list[str] = []              # the test's inputs the submission changed in place
        self._called: dict[int, str] = {}          # id(proxy) -> the name the test knows it by
        self.requests = 0
        if guarded:
            watch_seeding()

    # ---------------------------------------------------------------- asking the other side
    def request(self, q: str, **fields):
        """Ask the other side to do ``q`` (call, getattr, ...) and return its answer as data or a proxy."""
        if self.broken:
            raise RemoteError(f"the link to the other process is broken: {self.broken}")
        self.requests += 1
        rid = self._new_id()
        bufs: list = []
        enc = Encoder(self, bufs, "request")
        state_enc = Encoder(self, bufs, "state")
        msg: dict = {"q": q, "id": rid}
        try:
            for key, value in fields.items():
                msg[key] = enc.enc(value) if key in ("h", "a", "k", "v") else value
            if self.guarded:
                msg["st"] = self._state(state_enc)
            ms = self._sync_out(state_enc)
            if ms:
                msg["ms"] = ms
        except BaseException:
            enc.rollback()
            state_enc.rollback()
            raise
        GUARD.io += 1
        try:
            try:
                self.ch.send(msg, bufs)
            except BaseException:
                enc.rollback()
                state_enc.rollback()
                raise
            enc.commit()
            state_enc.commit()
            while True:
                reply, rbufs = self.ch.recv()
                if "q" in reply:
                    GUARD.io -= 1
                    try:
                        self._serve(reply, rbufs)
                    finally:
                        GUARD.io += 1
                    continue
                if reply.get("r") == rid:
                    break
        except ProtocolError as e:
            self.broken = self.violation = str(e) or type(e).__name__
            raise RemoteError(f"the other process sent malformed data ({self.broken})") from None
        except (ChannelClosed, OSError) as e:
            self.broken = str(e) or type(e).__name__
            raise RemoteError(f"the other process stopped answering ({self.broken})") from None
        finally:
            GUARD.io -= 1
        GUARD.after_io()
        try:
            value = self._finish(reply, rbufs, enc, fields.get("h"))
        except ProtocolError as e:
            self.broken = self.violation = f"malformed answer: {e}"
            raise RemoteError(self.broken) from None
        if q == "getattr" and type(value) is RemoteObject and isinstance(fields.get("n"), str):
            self._called[id(value)] = fields["n"]
        return value

    def _finish(self, reply: dict, rbufs: list, enc: "Encoder", target=None):
        dec = Decoder(self, rbufs, "reply", sent=enc.sent)
        self._sync_in(reply.get("ms"), Decoder(self, rbufs, "state"))
        changed = []
        for idx, tree in as_list(reply.get("cb", [])):
            if not isinstance(idx, int) or idx not in enc.sent:
                raise ProtocolError("bad copy-back index")
            if isinstance(tree, dict) and tree.get("t") == "cbl":
                # a container the test handed over changed on the other side: said, not copied back (a
                # library's accumulator, such as the memo of nn.Module.named_modules, is not the test's input)
                orig = enc.sent[idx]
                if self.guarded and isinstance(orig, (list, dict, set, bytearray)) and not called_by_library():
                    changed.append(f"a {type(orig).__name__} of length {len(orig)}")
            elif isinstance(tree, dict) and tree.get("t") == "cb":
                orig, new = enc.sent[idx], dec.dec(tree.get("d"))
                if self.guarded and not same_data(orig, new):
                    changed.append(f"a tensor of shape {list(getattr(orig, 'shape', ()))}")
                copy_back(orig, new, grad=dec.dec(tree["g"]) if tree.get("g") is not None else None, has_grad=True)
            else:
                copy_back(enc.sent[idx], dec.dec(tree))
        name = self._called.get(id(target)) if target is not None else None
        if changed and not (name or "").endswith("_"):
            # the test sees its input tensors as the submission left them, and the change fails the test
            what = f"{len(changed)} input(s) ({', '.join(changed[:3])})"
            self.modified.append(f"{name or 'the submission'} changed {what} in place")
            raise InputModified(f"the submission changed {what} that the test handed to it, in place; a test's "
                                "inputs are read-only unless the function's name ends in '_'")
        if "err" in reply:
            raise rebuild_error(reply["err"], with_tb=self.guarded)
        value = dec.dec(reply.get("ok"))
        rec = reply.get("rec")
        torch = torch_module()
        if rec is not None and dec.grad_outputs and torch is not None and torch.is_grad_enabled():
            params = [dec.dec(t) for t in as_list(reply.get("params", []))]
            if not all(isinstance(p, torch.Tensor) and p.requires_grad for p in params):
                raise ProtocolError("bad parameters")
            value = self._bridge(value, rec, dec, enc, params)
        return value

    def _bridge(self, value, rec, dec: "Decoder", enc: "Encoder", params: list):
        torch = torch_module()
        setup_torch_classes()
        inputs = [t for _, t in sorted(enc.sent.items()) if differentiable(t)] + list(params)
        outs = [t for _, t in sorted(dec.grad_outputs.items())]
        info = BridgeInfo(self, rec, outs, len(inputs))
        dummy = torch.zeros((), requires_grad=True, device="cpu")
        linked = TORCH_CLASSES.bridge.apply(info, dummy, *inputs)
        if not isinstance(linked, tuple):
            linked = (linked,)
        return replace_tensors(value, {id(o): n for o, n in zip(outs, linked)})

    def call(self, target, args, kwargs):
        return self.request("call", h=target, a=list(args), k=dict(kwargs))

    def op(self, target, name: str, *args):
        return self.request("op", h=target, o=name, a=list(args))

    def binop(self, name: str, left, right):
        return self.request("binop", o=name, a=[left, right])

    def bind_names(self, names: list[str]) -> dict:
        """Tester: fetch what the student kernel's ``names`` are bound to and bind them here."""
        self.names = list(names)
        got = self.request("describe", names=self.names)
        if not isinstance(got, dict):
            raise ProtocolError("bad answer to describe")
        for n in self.names:
            if n in got:
                self.ns[n] = got[n]
                self._called[id(got[n])] = n
            else:
                self.ns.pop(n, None)
            self._known[n] = self.ns.get(n, MISSING)
        return got

    # ---------------------------------------------------------------- answering the other side
    def serve_one(self, timeout: float | None = None) -> bool:
        GUARD.io += 1
        try:
            msg, bufs = self.ch.recv(timeout)
        finally:
            GUARD.io -= 1
        if "q" not in msg:
            return False
        self._serve(msg, bufs)
        return True

    def _serve(self, msg: dict, bufs: list) -> None:
        # The tester's grad mode, default dtype and default device hold for this request only: the kernel gets its own
        # back afterwards, so a backward through the submission (run with grad mode off by autograd)
        # or a test's float64 does not stay in the kernel for the notebook's next cells.
        own = None if self.guarded else self._own_state()
        try:
            self._serve_one(msg, bufs)
        finally:
            if own is not None:
                self._restore_own_state(own)

    def _serve_one(self, msg: dict, bufs: list) -> None:
        rid = msg.get("id")
        out: list = []
        dec = Decoder(self, bufs, "request")
        enc = Encoder(self, out, "result", args=dec)
        reply: dict = {"r": rid}
        try:
            self._apply_state(msg.get("st"), Decoder(self, bufs, "state"))
            self._sync_in(msg.get("ms"), Decoder(self, bufs, "state"))
            value = self._perform(msg, dec)
            reply["ok"] = enc.enc(value)
            if enc.grad_outputs:
                rec_id = self._new_id()
                inputs = [t for _, t in sorted(dec.args.items()) if differentiable(t) and t.requires_grad]
                params = leaves(enc.grad_outputs, exclude={id(t) for t in inputs})
                self._records[rec_id] = (inputs, enc.grad_outputs, params)
                reply["rec"] = rec_id
                reply["params"] = [enc.enc(p) for p in params]
        except ChannelClosed:
            raise
        except BaseException as e:  # noqa: BLE001 - whatever the other side's request raised
            out.clear()
            enc.rollback()
            enc = Encoder(self, out, "result", args=dec)
            reply = {"r": rid, "err": describe_error(e, with_tb=not self.guarded)}
        try:
            cb = changes_in_place(dec.args, dec.versions, enc)
            if cb:
                reply["cb"] = cb
        except Exception:
            reply.pop("cb", None)
        try:
            ms = self._sync_out(enc)
            if ms:
                reply["ms"] = ms
        except Exception:
            pass
        GUARD.io += 1
        try:
            try:
                self.ch.send(reply, out)
                enc.commit()
            except ProtocolError as e:   # e.g. a result too large to send
                enc.rollback()
                self.ch.send({"r": rid, "err": describe_error(e, with_tb=False)}, [])
        finally:
            GUARD.io -= 1

    def _perform(self, msg: dict, dec: "Decoder"):
        q = msg.get("q")
        if q == "describe":
            if self.guarded:
                raise PermissionError("not allowed")
            self.names = [str(n) for n in as_list(msg.get("names", []))]
            GUARD.pending = False          # a new test starts: an old interrupt is void
            out = {}
            for n in self.names:
                v = self.ns.get(n, MISSING)
                self._known[n] = v
                if v is not MISSING:
                    out[n] = v
            return out
        if q == "backward":
            return self._backward(msg, dec)
        target = dec.dec(msg["h"]) if "h" in msg else None
        if q == "call":
            args = dec.dec(msg.get("a", {"t": "L", "v": []}))
            kwargs = dec.dec(msg.get("k", {"t": "D", "k": [], "v": []}))
            if not isinstance(args, list) or not isinstance(kwargs, dict) \
                    or not all(isinstance(k, str) for k in kwargs):
                raise ProtocolError("bad call")
            with GUARD:
                return target(*args, **kwargs)
        if q in ("getattr", "setattr", "delattr"):
            name = str(msg.get("n"))
            self._check_attr(target, name)
            if q == "getattr":
                with GUARD:
                    return getattr(target, name)
            if q != "getattr":
                self._check_writable(target, name)
            if q == "setattr":
                value = dec.dec(msg.get("v"))
                with GUARD:
                    setattr(target, name, value)
                return None
            with GUARD:
                delattr(target, name)
            return None
        if q == "binop":
            fn = BINOPS.get(msg.get("o"))
            if fn is None:
                raise ProtocolError("unknown operator")
            pair = dec.dec(msg.get("a"))
            if not isinstance(pair, list) or len(pair) != 2:
                raise ProtocolError("bad operands")
            with GUARD:
                return fn(pair[0], pair[1])
        if q == "op":
            args = dec.dec(msg.get("a", {"t": "L", "v": []}))
            with GUARD:
                return unary(target, str(msg.get("o")), args, self._check_writable)
        if q == "tensor":       # a live tensor of this side used by the other (RemoteTensor)
            name = str(msg.get("n"))
            torch = torch_module()
            if torch is None or not isinstance(target, torch.Tensor):
                raise PermissionError("not a tensor")
            if (name.startswith("_") and name not in INPLACE_DUNDERS) or (
                    self.guarded and (name in GUARDED_TENSOR_DENY or (
                        msg.get("kind") == "call" and not is_inplace(name)) or (
                        msg.get("kind") in ("get", "set") and name not in ("grad", "data", "requires_grad")))):
                raise PermissionError(f"not allowed: {name}")
            args = dec.dec(msg.get("a", {"t": "L", "v": []}))
            kwargs = dec.dec(msg.get("k", {"t": "D", "k": [], "v": []}))
            kind = msg.get("kind")
            with GUARD, torch.set_grad_enabled(bool(msg.get("gm", torch.is_grad_enabled()))):
                if kind == "get":
                    return getattr(target, name)
                if kind == "set":
                    setattr(target, name, args[0])
                    return None
                getattr(target, name)(*args, **kwargs)
                return None
        raise ProtocolError(f"unknown request {q!r}")

    def _check_writable(self, target, what: str) -> None:
        """Objects the tester hands to the submission are read-only to it, unless the test marks one
        writable (``obj.__grader_writable__ = True``)."""
        if self.guarded and not getattr(target, "__grader_writable__", False):
            raise PermissionError(f"the test's {type(target).__name__} object is read-only to the submission "
                                  f"(it tried to change {what})")

    def _check_attr(self, target, name: str) -> None:
        if not self.guarded:
            return
        if name.startswith(DENIED_PREFIXES) or isinstance(
                target, (types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                         types.BuiltinMethodType, type(len.__call__), type(object.__init__))):
            raise AttributeError(f"attribute {name!r} is not available to the submission")

    def _backward(self, msg: dict, dec: "Decoder"):
        torch = torch_module()
        rec = self._records.get(msg.get("rec"))
        if rec is None:
            raise RuntimeError("this result's autograd graph is no longer available")
        inputs, outputs, params = rec
        grads = dec.dec(msg.get("a"))
        if not isinstance(grads, list) or len(grads) != len(outputs):
            raise ProtocolError("bad gradients")
        pairs = [(o, g) for o, g in zip(outputs, grads) if g is not None and o.requires_grad]
        targets = list(inputs) + list(params)
        if not pairs or not targets:
            return [None] * len(targets)
        with GUARD:
            got = torch.autograd.grad([o for o, _ in pairs], targets, [g for _, g in pairs],
                                      retain_graph=True, allow_unused=True)
        with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
            for p, g in zip(params, got[len(inputs):]):
                # this side's own parameters accumulate .grad as in one process; stand-ins and copies of
                # the other side's tensors do not (their owner accumulates through its own graph)
                if g is None or type(p) is TORCH_CLASSES.remote_tensor or id(p) in self._mig_t_k and not self.guarded:
                    continue
                if p.grad is None:
                    p.grad = g.detach().clone()
                else:
                    p.grad.add_(g)
        return [None if g is None else g.detach() for g in got]

    # ---------------------------------------------------------------- migrated tensors, both ways
    def _sync_out(self, enc: "Encoder") -> list:
        """Migrated tensors changed here since the last synchronisation (data and .grad)."""
        out = []
        torch = torch_module()
        if torch is None or not self._mig_t:
            return out
        for k, t in self._mig_t.items():
            v = tensor_version(t)
            if v != self._mig_ver.get(k):
                self._mig_ver[k] = v
                with torch._C.DisableTorchFunctionSubclass():
                    g = t.grad
                out.append([k, enc.enc(t.detach(), plain=True), None if g is None else enc.enc(g.detach(), plain=True)])
        return out

    def _sync_in(self, entries, dec: "Decoder") -> None:
        for entry in as_list(entries or []):
            if not (isinstance(entry, list) and len(entry) == 3):
                raise ProtocolError("bad synchronisation")
            k, data, grad = entry
            t = self._mig_t.get(k)
            if t is None:
                continue
            copy_back(t, dec.dec(data), grad=None if grad is None else dec.dec(grad), has_grad=True)
            self._mig_ver[k] = tensor_version(t)

    # ---------------------------------------------------------------- state: tester -> student only
    def _state(self, enc: "Encoder") -> dict:
        torch = torch_module()
        st: dict = {}
        if torch is not None:
            st["grad"] = bool(torch.is_grad_enabled())
            st["dtype"] = str(torch.get_default_dtype()).replace("torch.", "")
            st["device"] = default_device(torch)
        rng = RngState.now()
        if rng != self._rng_sent:
            self._rng_sent = rng
            st["rng"] = enc.enc(rng.parts)
        names = {}
        for n in self.names:
            cur = self.ns.get(n, MISSING)
            if cur is not self._known.get(n, MISSING):
                self._known[n] = cur
                try:
                    names[n] = None if cur is MISSING else {"v": enc.enc(cur)}
                except Exception:
                    pass
        if names:
            st["names"] = names
        return st

    @staticmethod
    def _own_state() -> tuple | None:
        torch = torch_module()
        if torch is None:
            return None
        return bool(torch.is_grad_enabled()), torch.get_default_dtype(), default_device(torch)

    @staticmethod
    def _restore_own_state(own: tuple) -> None:
        torch = torch_module()
        grad, dtype, device = own
        torch.set_grad_enabled(grad)
        if torch.get_default_dtype() != dtype:
            torch.set_default_dtype(dtype)
        if default_device(torch) != device:
            torch.set_default_device(None if device == "cpu" else device)

    def _apply_state(self, st, dec: "Decoder") -> None:
        if not st or self.guarded:
            return
        if not isinstance(st, dict):
            raise ProtocolError("bad state")
        torch = torch_module()
        if torch is not None:
            if "grad" in st:
                torch.set_grad_enabled(bool(st["grad"]))
            if st.get("dtype") in ("float32", "float64", "float16", "bfloat16"):
                torch.set_default_dtype(getattr(torch, st["dtype"]))
            if st.get("device") in ("cpu", "meta") and st["device"] != default_device(torch):
                torch.set_default_device(st["device"])
        if st.get("rng") is not None:
            RngState.restore(dec.dec(st["rng"]))
        for n, v in (st.get("names") or {}).items():
            if v is None:
                self.ns.pop(n, None)
            else:
                self.ns[n] = dec.dec(v["v"])
            self._known[n] = self.ns.get(n, MISSING)

    # ---------------------------------------------------------------- exports and proxies
    def _new_id(self) -> int:
        self._next += 1
        return self._next

    def export(self, obj) -> int:
        key = id(obj)
        eid = self._export_ids.get(key)
        if eid is not None and self._exports.get(eid) is obj:
            return eid
        if self.guarded and isinstance(obj, NEVER_EXPORT):
            raise TypeError(f"a {type(obj).__name__} cannot be handed to the submission")
        eid = self._new_id()
        self._exports[eid] = obj
        self._export_ids[key] = eid
        return eid

    def live_tensor(self, eid: int, data) -> "object":
        """The one local stand-in of the other side's tensor ``eid`` (refreshed with ``data``)."""
        setup_torch_classes()
        torch = torch_module()
        cur = self._live.get(eid)
        if cur is not None:
            with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
                if cur.shape == data.shape and cur.dtype == data.dtype and cur.device == data.device:
                    if cur.device.type != "meta" and not torch.equal(cur, data):   # meta: no values to compare
                        cur.copy_(data)
                else:
                    cur.data = data
            return cur
        cur = TORCH_CLASSES.remote_tensor(data, (self, eid))
        self._live[eid] = cur
        return cur

    def proxy(self, eid: int, info: dict) -> "RemoteObject":
        p = self._proxies.get(eid)
        if p is None:
            p = RemoteObject._make(self, eid, info)
            self._proxies[eid] = p
        return p

    def reset(self) -> None:
        """Forget every proxy, export and record (the other process was replaced)."""
        self._exports.clear()
        self._export_ids.clear()
        self._proxies.clear()
        self._live.clear()
        self._records.clear()
        self._known.clear()
        for d in (self._mig_obj, self._mig_obj_k, self._mig_t, self._mig_t_k, self._mig_ver):
            d.clear()
        self._mig_sent.clear()
        self._rng_sent = None
        self.broken = None
        self.violation = None
        self.modified = []
        self._called.clear()

    def clear_records(self) -> None:
        self._records.clear()
