"""Attacks on what code inside the student's kernel used to guarantee.

Each case attacks a mechanism rather than one piece of code: it disarms whatever in-kernel hook refused
it by editing the hook's state through the frames of the refusal's traceback; it reads every file of
the modules that hold reference answers natively (no ``open`` audit event) and runs what it finds; and
it answers wrongly but overwrites the tests' input tensors in place so that an expected value computed
after the call agrees. None of it may earn a point: the guarantees rest on the operating system and on
the trusted side (the answers' source is not in the kernel, the verdicts are computed in the tester, a
changed input fails its test). A disarmed hook's own reports are gone with it, so that case requires no
flag: it shows what the in-kernel warnings are worth.
"""
from __future__ import annotations

import json
import textwrap

from .cases import CORRECT, WRONG, Case, Ctx, answered, mixed, outputs_text

# Provoke refusals, then walk each refusal's traceback to the frames of whatever refused it (code that
# is not the submission's) and flip every mutable piece of state found there: flags to True, records
# emptied. Then try again what was refused, and the reference answers.
FRAME_DISARM = textwrap.dedent("""\
    import json, os, sys
    SECRETS = {secrets}
    def _disarm(exc):
        n, tb = 0, exc.__traceback__
        own = tb.tb_frame.f_code.co_filename if tb is not None else None
        while tb is not None:
            f = tb.tb_frame
            if f.f_code.co_filename != own:
                for v in list(f.f_locals.values()):
                    try:
                        if type(v) is list and v and all(type(x) is bool for x in v):
                            v[:] = [True] * len(v); n += 1
                        elif type(v) is list:
                            v.clear(); n += 1
                        elif type(v) is dict and "armed" in v:
                            v["armed"] = None; n += 1
                        elif type(v) in (set, dict):
                            v.clear(); n += 1
                    except Exception:
                        pass
            tb = tb.tb_next
        return n
    disarmed = 0
    for attempt in (lambda: open(SECRETS["gradebook"], "rb"), lambda: os.listdir("/"),
                    lambda: __import__("gc").get_objects(), lambda: __import__("socket").socket()):
        try:
            attempt()
        except BaseException as e:
            disarmed += _disarm(e)
    print("disarmed", disarmed)
    for what, fn in (("open gradebook", lambda: open(SECRETS["gradebook"], "rb").read(100)),
                     ("read solution", lambda: open(SECRETS["solution"]).read(100))):
        try:
            got = fn()
            print("LEAK:", what, repr(got)[:60])
        except BaseException as e:
            print("BLOCKED:", what, type(e).__name__)
""")

# Read natively every file that could hold the answers' source (the handed-out module wherever the
# kernel can import it from, and its neighbours), by three routes that open no file through Python's
# io: torch.from_file, a hard link under a new name, a rename. Run whatever defines the answers.
NATIVE_READ = textwrap.dedent("""\
    import glob, os, sys, torch
    import fx_reference
    _found = {}
    def _native(path):
        n = os.path.getsize(path)
        return bytes(torch.from_file(path, size=n, dtype=torch.uint8).numpy()).decode("utf-8", "replace")
    def _linked(path):
        other = "copy_" + os.path.basename(path)
        try:
            os.link(path, other)
        except OSError:
            os.rename(path, other)
        with open(other) as f:
            return f.read()
    _paths = {fx_reference.__file__}
    for d in sys.path:
        _paths.update(glob.glob(os.path.join(d or ".", "fx_reference*.py")))
    for p in sorted(_paths):
        for how in (_native, _linked):
            try:
                text = how(p)
            except BaseException as e:
                print("BLOCKED:", how.__name__, p, type(e).__name__)
                continue
            ns = {"__name__": "stolen"}
            try:
                exec(compile(text, "stolen", "exec"), ns)
            except BaseException as e:
                print("no code:", how.__name__, type(e).__name__)
                continue
            for k in ("scale", "softmax", "Affine", "count_words"):
                if k in ns and k not in _found:
                    _found[k] = ns[k]
    print("found", sorted(_found))
""")

WRAPPERS = {
    "ex1_scale": "def scale(x, a):\n    return _found['scale'](x, a)",
    "ex2_softmax": "def softmax(z):\n    return _found['softmax'](z)",
    "ex3_affine": "class Affine(_found['Affine']):\n    pass",
    "ex4_count_words": "def count_words(text):\n    return _found['count_words'](text)",
}

# Wrong answers that zero their input tensors in place: a test that computes its expected value from
# the inputs after the call would agree with them.
OVERWRITES = {
    "ex1_scale": "def scale(x, a):\n    x.zero_()\n    return x.clone()",
    "ex2_softmax": "def softmax(z):\n    z.fill_(0.0)\n    return torch.full_like(z, 1.0 / z.shape[-1])",
    "ex3_affine": CORRECT["ex3_affine"].replace(
        "return x @ self.W.T + self.b",
        "with torch.no_grad():\n            x.zero_()\n        return x @ self.W.T + self.b"),
    "ex4_count_words": WRONG["ex4_count_words"],
}


def _frame_disarm(ctx: Ctx) -> None:
    secrets = json.dumps({"gradebook": str(ctx.gradebook), "solution": str(ctx.solution)})
    answered(WRONG, ("ex1_scale", FRAME_DISARM.replace("{secrets}", secrets)))(ctx)


def _disarm_ran(result: dict, ctx: Ctx) -> None:
    text = outputs_text(result)
    assert "disarmed" in text and ("BLOCKED:" in text or "LEAK:" in text), "the attack did not run: " + text[-800:]
    if result.get("isolation") != "process":
        leaks = [line for line in text.splitlines() if line.startswith("LEAK:")]
        assert not leaks, "\n".join(leaks)


def _read_ran(result: dict, ctx: Ctx) -> None:
    text = outputs_text(result)
    assert "found" in text, "the attack did not run: " + text[-800:]


CASES = [
    Case("hook_disarmed_through_a_frame", "wrong answers; every refusal's traceback walked to the frames of "
         "what refused it and their state flipped (flags set, records emptied), then the gradebook and the "
         "solution read", _frame_disarm, 0, review=None, check=_disarm_ran),
    Case("reference_read_natively", "the handed-out reference module read with torch.from_file, a hard link "
         "and a rename, its code run, and every answer a wrapper of what it defined",
         answered(mixed(**WRAPPERS), ("ex1_scale", NATIVE_READ)), 0, flags=("reference_answer_called",),
         review=True, check=_read_ran),
    Case("inputs_overwritten", "wrong answers that zero the test's input tensors in place, so that an "
         "expected value computed after the call agrees", answered(OVERWRITES), 0, flags=("input_modified",),
         review=True),
]
