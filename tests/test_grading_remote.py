"""The link between the tester and the student kernel (``autograder/grading/channel/``).

A small server process stands in for the student kernel: it defines objects with the code given and
answers requests. The tests check that what comes back is plain data, that the tester never lets a
submission's object decide a comparison, that the guarded side cannot be climbed from a handed
object, and that one-process semantics hold (in-place changes, identity, gradients, random state).
"""
from __future__ import annotations

import collections
import math
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from autograder.grading.channel.codec import Decoder
from autograder.grading.channel.endpoint import Endpoint
from autograder.grading.channel.framing import Channel, ProtocolError
from autograder.grading.channel.objects import InputModified, RemoteError
from autograder.grading.channel.proxies import RemoteObject

pytestmark = pytest.mark.xdist_group("grading")

SERVER = textwrap.dedent("""\
    import sys
    from autograder.grading.channel.endpoint import Endpoint
    from autograder.grading.channel.objects import install_interrupt_handler
    from autograder.grading.channel.framing import Channel, ChannelClosed
    ns = {"__name__": "__main__"}
    exec(sys.argv[2], ns)
    ep = Endpoint(Channel(int(sys.argv[1])), guarded=False, namespace=ns)
    install_interrupt_handler()
    import torch
    while True:
        try:
            ep.serve_one()
        except ChannelClosed:
            break
        # what the kernel's own next cell would find, after the tester's request
        ns["_between"].append((torch.is_grad_enabled(), str(torch.get_default_dtype())))
""")

STUDENT = textwrap.dedent("""\
    import torch, numpy as np, collections, random
    def ident(x):
        return x
    def double(x):
        return 2 * x
    def square(x):
        return x ** 2
    def inplace(x):
        x.add_(1)
        return None
    def add_one_(x):
        x.add_(1)
    def poke(obj):
        obj.calls = 99
    def poke_item(d):
        d["calls"] = 99
    def merge_in_place(ids, pair, new):
        i = 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                ids[i:i + 2] = [new]
            i += 1
        return ids
    def read_only(ids, table):
        return [table.get(i, i) if isinstance(i, int) else i for i in ids]
    def flat_view(x):
        return x.view(-1).sum()
    def layout(x):
        return [list(x.stride()), x.is_contiguous()]
    def draw(n):
        return torch.rand(n)
    def draw_with(gen, n):
        return torch.rand(n, generator=gen)
    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", "") in ("allclose", "equal"):
                return True
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **(kwargs or {}))
    def liar(x):
        return (x + 100).as_subclass(Liar)
    class Always:
        def __eq__(self, other):
            return True
        def __lt__(self, other):
            return True
    def always():
        return Always()
    class Lin(torch.nn.Module):
        def __init__(self, d_in, d_out):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(d_out, d_in))
        def forward(self, x):
            return x @ self.w.T
    def call_back(fn, x):
        return fn(x)
    def climb(fn, attr):
        return getattr(fn, attr)
    def uses_helper(x):
        return helper(x)
    def helper(x):
        return x + 1
    def halve_grads(params):
        for p in params:
            p.grad.mul_(0.5)
    _between = []
    def between():
        return list(_between)
    def values():
        return {"i": 2 ** 70, "f": float("nan"), "inf": -float("inf"), "s": "é", "b": b"\\x00\\xff",
                "t": (1, [2, {3}], frozenset({4})), "c": 1 + 2j, "sl": slice(1, None, 2), "r": range(3),
                "dt": torch.float16, "dev": torch.device("cpu"), "size": torch.Size([2, 3]),
                "np": np.arange(6, dtype=np.int16).reshape(2, 3), "npf": np.float32(1.5),
                "bf16": torch.tensor([1.5, -2.0], dtype=torch.bfloat16), "bool": torch.tensor([True, False]),
                "cplx": torch.tensor([1 + 1j]), "empty": torch.zeros(0, 3), "scalar": torch.tensor(3.0),
                "od": collections.OrderedDict(a=1), "nt": collections.namedtuple("P", "x y")(1, 2),
                "mx": torch.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1)}
""")


@pytest.fixture(scope="module")
def link():
    a, b = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(b.fileno()), STUDENT], pass_fds=(b.fileno(),))
    b.close()
    ns = {}
    ep = Endpoint(Channel(a.fileno()), guarded=True, namespace=ns)
    names = ["ident", "double", "square", "inplace", "add_one_", "poke", "poke_item", "draw", "draw_with", "liar",
             "merge_in_place", "read_only", "flat_view", "layout",
             "always", "Lin",
             "call_back", "climb", "uses_helper", "helper", "values", "between",
             "halve_grads"]
    ep.bind_names(names)
    yield ep, ns
    a.close()
    proc.wait(timeout=10)


def test_values_come_back_as_plain_data(link):
    ep, ns = link
    v = ns["values"]()
    assert v["i"] == 2 ** 70 and math.isnan(v["f"]) and v["inf"] == -math.inf and v["s"] == "é"
    assert v["b"] == b"\x00\xff" and v["t"] == (1, [2, {3}], frozenset({4})) and v["c"] == 1 + 2j
    assert v["sl"] == slice(1, None, 2) and v["r"] == range(3) and v["dt"] is torch.float16
    assert v["dev"] == torch.device("cpu") and v["size"] == torch.Size([2, 3])
    assert v["np"].dtype == np.int16 and v["np"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert v["npf"] == np.float32(1.5) and isinstance(v["npf"], np.float32)
    assert v["bf16"].dtype == torch.bfloat16 and v["bf16"].tolist() == [1.5, -2.0]
    assert v["bool"].tolist() == [True, False] and v["cplx"].tolist() == [1 + 1j]
    assert v["empty"].shape == (0, 3) and v["scalar"].item() == 3.0
    assert isinstance(v["od"], collections.OrderedDict)
    assert (v["nt"].x, v["nt"].y) == (1, 2)
    assert v["mx"].values.tolist() == [5.0, 7.0] and v["mx"].indices.tolist() == [1, 0]


def test_a_tensor_subclass_comes_back_as_a_plain_tensor(link):
    ep, ns = link
    out = ns["liar"](torch.zeros(3))
    assert type(out) is torch.Tensor
    assert not torch.allclose(out, torch.zeros(3)), "the subclass's lie must stay in the student kernel"
    assert out.tolist() == [100.0, 100.0, 100.0]


def test_the_submission_never_decides_equality_or_order(link):
    ep, ns = link
    obj = ns["always"]()
    assert isinstance(obj, RemoteObject)
    assert (obj == 3) is False and (obj != 3) is True and obj == obj
    with pytest.raises(TypeError):
        obj < 3


def test_an_in_place_change_of_a_tests_input_is_seen_and_fails_the_test(link):
    ep, ns = link
    x = torch.zeros(3)
    with pytest.raises(InputModified):
        ns["inplace"](x)
    assert x.tolist() == [1.0, 1.0, 1.0]            # the test sees its input as the submission left it
    assert ep.modified and "inplace" in ep.modified[-1]
    ep.modified.clear()
    ns["add_one_"](x)                                 # a trailing underscore: in place by contract
    assert x.tolist() == [2.0, 2.0, 2.0] and not ep.modified
    y = torch.ones(2)
    assert ns["ident"](y) is y


def test_a_list_or_dict_changed_in_place_is_seen_though_it_travels_as_a_copy(link):
    ep, ns = link
    ep.modified.clear()
    ids = [1, 2, 3, 1, 2]
    with pytest.raises(InputModified, match="list of length 5"):
        ns["merge_in_place"](ids, (1, 2), 9)
    assert ids == [1, 2, 3, 1, 2] and "merge_in_place" in ep.modified[-1]
    ep.modified.clear()
    assert ns["merge_in_place"]([4, 5], (1, 2), 9) == [4, 5] and not ep.modified   # no change, no complaint
    table = {1: "a"}
    assert ns["read_only"]([[1, 2], 1], table) == [[1, 2], "a"] and table == {1: "a"} and not ep.modified


def test_a_tensor_keeps_its_layout_across_the_link(link):
    ep, ns = link
    x = torch.arange(24.0).reshape(2, 3, 4)
    sliced, transposed, expanded = x[:, :-1], x.transpose(1, 2), torch.ones(1, 4).expand(3, 4)
    for t in (x, sliced, transposed, expanded, x[..., ::2]):
        assert ns["layout"](t) == [list(t.stride()), t.is_contiguous()]
    assert ns["flat_view"](x) == x.sum()
    with pytest.raises(RuntimeError, match="view"):  # as in the learner's kernel: view needs reshape here
        ns["flat_view"](sliced)
    assert ns["ident"](transposed).stride() == transposed.stride()


def test_gradients_changed_in_place_come_back_also_on_meta_tensors(link):
    """Changing the .grad of a test's parameters (gradient clipping) is not a change of the inputs;
    on "meta" tensors (a stand-in for another device, no values) nothing is compared by value."""
    ep, ns = link
    p = torch.ones(2, requires_grad=True)
    p.grad = torch.full((2,), 4.0)
    ns["halve_grads"]([p])
    assert p.grad.tolist() == [2.0, 2.0] and p.tolist() == [1.0, 1.0]
    m = torch.empty(3, device="meta", requires_grad=True)
    m.grad = torch.empty(3, device="meta")
    ns["halve_grads"]([m])
    assert m.grad.device.type == "meta" and not ep.modified


def test_objects_of_the_test_are_read_only_to_the_submission(link):
    ep, ns = link

    class Recorder:
        calls = 0

    class Table:
        def __init__(self):
            self.items = {"calls": 0}

        def __setitem__(self, key, value):
            self.items[key] = value

    rec, table, plain = Recorder(), Table(), {"calls": 0}
    with pytest.raises(PermissionError):
        ns["poke"](rec)
    with pytest.raises(PermissionError):
        ns["poke_item"](table)
    with pytest.raises(InputModified):                # plain data travels as a copy: the test's stays,
        ns["poke_item"](plain)                        # and the change is seen
    assert rec.calls == 0 and table.items == {"calls": 0} and plain == {"calls": 0}
    rec.__grader_writable__ = True                    # a test that wants the submission to write says so
    ns["poke"](rec)
    assert rec.calls == 99


def test_gradients_flow_through_the_submission(link):
    ep, ns = link
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = ns["square"](x)
    assert y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [2.0, -4.0, 6.0]
    with torch.no_grad():
        assert not ns["square"](x).requires_grad


def test_the_tester_state_does_not_stay_in_the_kernel(link):
    """A backward through the submission runs with grad mode off in the tester (autograd's engine turns
    it off); that state travels with the request and must not stay in the kernel after it, or the
    notebook's next cells run without gradients. The same holds for a test's default dtype."""
    ep, ns = link
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    ns["square"](x).sum().backward()
    with torch.no_grad():
        ns["double"](torch.ones(1))
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        ns["double"](torch.ones(1))
    finally:
        torch.set_default_dtype(old)
    seen = ns["between"]()
    assert seen and all(s == (True, "torch.float32") for s in seen), seen


def test_the_tests_default_device_holds_in_the_submission(link):
    """A test that sets the default device (``with torch.device("meta")``) has the submission's code run
    under it, its own CPU tensors still travel, and the kernel has its own default back afterwards."""
    ep, ns = link
    with torch.device("meta"):
        out = ns["double"](torch.arange(3, device="cpu"))
        made = ns["draw"](2)
    assert out.device.type == "cpu" and out.tolist() == [0, 2, 4]
    assert made.device.type == "meta"
    assert ns["draw"](2).device.type == "cpu"


def test_parameters_of_a_submission_module_are_live(link):
    ep, ns = link
    m = ns["Lin"](2, 1)
    assert isinstance(m, torch.nn.Module)
    with torch.no_grad():
        m.w.copy_(torch.tensor([[3.0, 4.0]]))
    x = torch.tensor([[1.0, 1.0]], requires_grad=True)
    out = m(x)
    assert out.tolist() == [[7.0]]
    out.sum().backward()
    assert m.w.grad.tolist() == [[1.0, 1.0]] and x.grad.tolist() == [[3.0, 4.0]]
    torch.nn.init.zeros_(m.w)
    assert m(x).tolist() == [[0.0]]


def test_random_state_follows_the_tester(link):
    ep, ns = link
    torch.manual_seed(123)
    remote = ns["draw"](4)
    torch.manual_seed(123)
    local = torch.rand(4)
    assert torch.equal(remote, local)
    torch.manual_seed(11)
    a = ns["draw"](3)
    torch.manual_seed(11)                             # the same seed again: the same draws
    b = ns["draw"](3)
    assert torch.equal(a, b) and not torch.equal(a, ns["draw"](3)), "a call without a new seed draws afresh"
    g = torch.Generator().manual_seed(5)
    first = ns["draw_with"](g, 2)
    second = ns["draw_with"](g, 2)
    assert not torch.equal(first, second), "the generator's state must be copied back"
    assert torch.equal(torch.cat([first, second]), torch.rand(4, generator=torch.Generator().manual_seed(5)))


def test_callbacks_work_but_cannot_climb_into_the_tester(link):
    ep, ns = link
    secret = {"hidden": "expected answer"}

    def fn(t):
        return t * 10 + len(secret)

    assert ns["call_back"](fn, torch.tensor([1.0])).tolist() == [11.0]
    for attr in ("__globals__", "__closure__", "__code__", "__dict__", "f_globals", "gi_frame", "func_globals"):
        with pytest.raises(AttributeError):
            ns["climb"](fn, attr)


def test_an_error_of_the_tester_travels_without_its_source(link):
    ep, ns = link

    def fails(t):
        raise ValueError("short message")

    with pytest.raises(ValueError) as info:
        ns["call_back"](fails, 1)
    assert "short message" in str(info.value)


def test_names_rebound_by_the_test_are_rebound_in_the_kernel(link):
    ep, ns = link
    assert ns["uses_helper"](1) == 2
    ns["helper"] = math.factorial          # a library function: the kernel imports its own
    try:
        assert ns["uses_helper"](4) == 24
    finally:
        ep.bind_names(ep.names)


def test_the_tester_refuses_references_to_its_own_objects():
    ep = Endpoint(Channel(0), guarded=True)
    with pytest.raises(ProtocolError):
        Decoder(ep, [], "reply").dec({"t": "R", "m": "os", "q": "system"})
    with pytest.raises(ProtocolError):
        Decoder(ep, [], "reply").dec({"t": "M", "m": "os"})
    with pytest.raises(ProtocolError):
        Decoder(ep, [], "reply").dec({"t": "h", "o": "peer", "id": 12345})


def test_a_dead_kernel_is_an_error_not_a_pass():
    a, b = socket.socketpair()
    ep = Endpoint(Channel(a.fileno()), guarded=True)
    b.close()
    with pytest.raises(RemoteError):
        ep.bind_names(["anything"])
    a.close()


def test_a_librarys_own_accumulator_is_not_a_tests_input(link):
    """torch hands its memo set to a submodule's named_modules: a submission's module inside the test's module
    fills the copy it gets, and that is no change to the test's inputs."""
    ep, ns = link
    ep.modified.clear()
    outer = torch.nn.Module()
    outer.inner = ns["Lin"](2, 3)
    names = [n for n, _ in outer.named_modules()]
    assert names[:2] == ["", "inner"] and not ep.modified
