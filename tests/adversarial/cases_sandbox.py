"""Adversarial cases against the sandbox itself: silencing the in-process detector, starting processes
around it, processes that outlive their kernel, CPU and memory held by detached processes, filling the
disk, and a notebook too large to parse.

The processes these cases start are seen by the grader from outside the kernel (its control group),
so they are flagged as ``sandbox_violation`` even when the submission has switched the audit hook off,
and killed before they can act. Each case claims every isolation level, with one exception stated in
its check: at the ``process`` level (which must be asked for) a silenced audit hook leaves reads of the
grader's files to the operating system's permissions.
"""
from __future__ import annotations

import json
import textwrap

import nbformat

from .cases import CORRECT, WRONG, Case, Ctx, _answers, _load, answered, outputs_text

_SPAWN = textwrap.dedent("""\
    import _posixsubprocess, os, sys
    def spawn(payload):
        # a process started around the audit hook: fork_exec raises no audit event, and the payload
        # runs in the child before any exec (so it needs no right to execute anything)
        r, w = os.pipe()
        args = ([sys.executable], [os.fsencode(sys.executable)], True, (), None, None,
                -1, -1, -1, -1, -1, -1, r, w, False, True, -1, None, None, None, -1, payload)
        try:
            pid = _posixsubprocess.fork_exec(*args, False)
        except TypeError:
            pid = _posixsubprocess.fork_exec(*args)
        os.close(w)
        print("started", pid)
        return pid
    """)


def _targets(ctx: Ctx) -> dict[str, str]:
    root = ctx.course_root
    return {"canary": str(ctx.canary),
            "other_submission": str(root / "submitted" / "correct" / "fx_ops" / "owned.txt"),
            "other_grade": str(root / "autograded" / "correct" / "fx_ops" / "owned.txt"),
            "export": str(root / "exports" / "owned.csv")}


def silenced_hook_source(ctx: Ctx) -> str:
    secrets = {"gradebook": str(ctx.gradebook), "solution": str(ctx.solution)}
    return _SPAWN + textwrap.dedent(f"""\
        import gc, time
        from autograder.grading.inside import confine as sandbox
        silenced = 0
        try:
            for obj in gc.get_objects():
                if callable(obj) and getattr(obj, "__name__", "") == "hook" and getattr(obj, "__closure__", None):
                    for cell in obj.__closure__:
                        try:
                            if cell.cell_contents == [False]:
                                cell.cell_contents[0] = True
                                silenced += 1
                        except ValueError:
                            pass
        except PermissionError as e:
            print("gc refused:", e)
        sandbox.take_violations = lambda: []
        print("silenced", silenced)
        SECRETS = {json.dumps(secrets)}
        def attempt(what, fn):
            try:
                got = fn()
                print("LEAK:", what, repr(got)[:60])
            except BaseException as e:
                print("BLOCKED:", what, type(e).__name__)
        attempt("open gradebook", lambda: open(SECRETS["gradebook"], "rb").read(100))
        attempt("read solution", lambda: open(SECRETS["solution"]).read(100))
        def _linger():
            time.sleep(60)
        spawn(_linger)
        time.sleep(1)""")


def daemon_source(ctx: Ctx) -> str:
    return _SPAWN + textwrap.dedent(f"""\
        TARGETS = {json.dumps(_targets(ctx))}
        def _daemon():
            import time
            for _ in range(120):                 # keeps trying while the batch goes on
                time.sleep(0.5)
                for path in TARGETS.values():
                    try:
                        with open(path, "w") as f:
                            f.write("owned")
                    except BaseException:
                        pass
        spawn(_daemon)""")


CPU_BURNERS = _SPAWN + textwrap.dedent("""\
    import time
    def _burn():
        while True:
            pass
    for _ in range(4):
        spawn(_burn)
    time.sleep(1)""")

DETACHED_MEMORY = _SPAWN + textwrap.dedent("""\
    import time
    def _hold():
        hoard = b"\\x01" * (700 << 20)      # touched: resident, not just reserved
        time.sleep(120)
        print(len(hoard))
    for _ in range(2):
        spawn(_hold)
    time.sleep(2)""")

DISK_FILL = textwrap.dedent("""\
    written = 0
    errors = set()
    chunk = b"0" * (16 << 20)
    for i in range(20):
        try:
            with open(f"fill{i}.bin", "wb", buffering=0) as f:
                for _ in range(16):
                    written += f.write(chunk)
        except OSError as e:
            errors.add(e.strerror)
    print("WRITTEN MiB", written >> 20)
    print("ERRORS", sorted(errors))""")


def many_cells(ctx: Ctx) -> None:
    nb = _load(ctx)
    _answers(nb, CORRECT)
    data = json.loads(nbformat.writes(nb))
    data["cells"] += [{"cell_type": "markdown", "metadata": {}, "source": ""}] * 150_000
    ctx.folder.mkdir(parents=True, exist_ok=True)
    (ctx.folder / "fx_ops.ipynb").write_text(json.dumps(data))


def many_objects(ctx: Ctx) -> None:
    """Correct answers, and 6 million empty dicts in a cell's metadata (18 MB of JSON; parsed, about
    450 MB in the grading worker)."""
    nb = _load(ctx)
    _answers(nb, CORRECT)
    text = nbformat.writes(nb)
    ctx.folder.mkdir(parents=True, exist_ok=True)
    (ctx.folder / "fx_ops.ipynb").write_text(text.replace('"metadata": {', '"metadata": {"x": [' + "{}," * 6_000_000
                                                          + '{}], ', 1))


def deep_nesting(ctx: Ctx) -> None:
    """Correct answers, and an output nested 200,000 lists deep."""
    nb = _load(ctx)
    _answers(nb, CORRECT)
    text = nbformat.writes(nb)
    ctx.folder.mkdir(parents=True, exist_ok=True)
    (ctx.folder / "fx_ops.ipynb").write_text(text.replace('"metadata": {', '"metadata": {"x": ' + "[" * 200_000
                                                          + "]" * 200_000 + ", ", 1))


def _no_leak_below_process(result: dict, ctx: Ctx) -> None:
    text = outputs_text(result)
    assert "silenced" in text and "started" in text, "the attack did not run: " + text[-800:]
    if result.get("isolation") != "process":
        leaks = [line for line in text.splitlines() if line.startswith("LEAK:")]
        assert not leaks, "\n".join(leaks)
    msgs = " ".join(f["message"] for f in result["notebooks"]["fx_ops"]["flags"] if f["code"] == "sandbox_violation")
    assert "seen by the grader" in msgs, msgs


def _nothing_written(result: dict, ctx: Ctx) -> None:
    from pathlib import Path

    assert "started" in outputs_text(result), "the daemon was not started"
    assert ctx.canary.read_text() == "canary", "another student's file was modified"
    written = [p for name, p in _targets(ctx).items() if name != "canary" and Path(p).exists()]
    assert not written, written


def _seen_outside(result: dict, ctx: Ctx) -> None:
    assert "started" in outputs_text(result), "no process was started"
    msgs = " ".join(f["message"] for f in result["notebooks"]["fx_ops"]["flags"] if f["code"] == "sandbox_violation")
    assert "seen by the grader and killed" in msgs, msgs


def _disk_bounded(result: dict, ctx: Ctx) -> None:
    text = outputs_text(result)
    line = next((l for l in text.splitlines() if l.startswith("WRITTEN MiB")), None)
    if line is not None:                       # the kernel was not stopped before it could report
        assert int(line.split()[-1]) <= 1024 + 64, line


def _not_parsed(result: dict, ctx: Ctx) -> None:
    assert result["seconds"] < 60, f"reading the notebook took {result['seconds']} s"


CASES: list[Case] = [
    Case("audit_hook_silenced", "wrong answers; the audit hook's closure found with gc and set busy, "
         "sandbox.take_violations replaced; then reads of the gradebook and solutions and a setsid'd fork",
         lambda ctx: answered(WRONG, ("ex1_scale", silenced_hook_source(ctx)))(ctx), 0,
         flags=("sandbox_violation",), review=True, check=_no_leak_below_process),
    Case("fork_exec_daemon", "correct answers; a setsid'd daemon started with _posixsubprocess.fork_exec "
         "that keeps trying to write another student's submission and grade, the export and a private file",
         lambda ctx: answered(CORRECT, ("ex1_scale", daemon_source(ctx)))(ctx), 100,
         flags=("sandbox_violation",), review=True, check=_nothing_written),
    Case("cpu_burners", "correct answers; four detached processes that spin forever",
         answered(CORRECT, ("ex2_softmax", CPU_BURNERS)), 100, flags=("sandbox_violation",), review=True,
         check=_seen_outside),
    Case("detached_memory", "correct answers; two detached processes holding 700 MB each",
         answered(CORRECT, ("ex2_softmax", DETACHED_MEMORY)), 100, flags=("sandbox_violation",), review=True,
         check=_seen_outside),
    Case("disk_fill", "correct answers; 20 files of 256 MB written in the kernel's folder",
         answered(CORRECT, ("ex1_scale", DISK_FILL)), 100, flags=("disk_quota",), review=True,
         check=_disk_bounded),
    Case("many_cells", "correct answers followed by 150,000 empty cells", many_cells, 0,
         flags=("too_many_cells",), review=True, check=_not_parsed),
    Case("many_objects", "correct answers and 6 million empty dicts in a cell's metadata", many_objects, 0,
         flags=("notebook_too_complex",), review=True, check=_not_parsed),
    Case("deep_nesting", "correct answers and metadata nested 200,000 lists deep", deep_nesting, 0,
         flags=("notebook_too_complex",), review=True, check=_not_parsed),
]
