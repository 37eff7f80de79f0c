"""The adversarial submissions of the grader's test suite, with the outcome each must get.

Every case is a submission of the fixture assignment ``fx_ops`` (``tests/fixtures/grading_course``,
four exercises, 100 points: ``ex1_scale`` 10, ``ex2_softmax`` 25, ``ex3_affine`` 35,
``ex4_count_words`` 30), built from the released notebook by :func:`Case.build`. A cheat is built on
answers that are all wrong (``WRONG``): its correct grade is 0, so any point it earns is a point the
cheat forged. Accidents and attacks on the grader itself are built on correct answers (``CORRECT``):
they must keep their 100 (or lose exactly the exercise they break) and be flagged where a human
should look. All cases are graded in one batch; none may stop it or change another student's grade.
"""
from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

NOTEBOOK = "fx_ops"
POINTS = {"ex1_scale": 10, "ex2_softmax": 25, "ex3_affine": 35, "ex4_count_words": 30}

CORRECT = {
    "ex1_scale": "def scale(x, a):\n    return a * x",
    "ex2_softmax": "def softmax(z):\n    z = z - z.max(dim=-1, keepdim=True).values\n    e = z.exp()\n"
                   "    return e / e.sum(dim=-1, keepdim=True)",
    "ex3_affine": textwrap.dedent("""\
        class Affine(torch.nn.Module):
            def __init__(self, d_in, d_out):
                super().__init__()
                self.W = torch.nn.Parameter(torch.randn(d_out, d_in) / d_in ** 0.5)
                self.b = torch.nn.Parameter(torch.zeros(d_out))

            def forward(self, x):
                return x @ self.W.T + self.b"""),
    "ex4_count_words": "def count_words(text):\n    counts = {}\n    for w in text.lower().split():\n"
                       "        counts[w] = counts.get(w, 0) + 1\n    return counts",
}
# honest wrong answers: every visible and hidden test fails on them
WRONG = {
    "ex1_scale": "def scale(x, a):\n    return x + a",
    "ex2_softmax": "def softmax(z):\n    return torch.sigmoid(z)",
    "ex3_affine": CORRECT["ex3_affine"].replace("return x @ self.W.T + self.b", "return x @ self.W"),
    "ex4_count_words": "def count_words(text):\n    return {}",
}


@dataclass
class Ctx:
    """What a case may use: the released notebook and facts of the test course (paths, a port)."""

    released: Path
    folder: Path                 # the submission folder to write into
    gradebook: Path
    solution: Path
    course_root: Path
    canary: Path                 # a file in another student's submission
    port: int                    # a TCP server of the test that must see no connection


@dataclass
class Case:
    name: str
    what: str
    make: Callable[[Ctx], None]
    score: float
    flags: tuple[str, ...] = ()          # flag codes that must be raised
    review: bool | None = False          # must (True) / must not (False) be flagged for review
    check: Callable[[dict, Ctx], None] | None = None
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------- building blocks
def _load(ctx: Ctx):
    return nbformat.read(str(ctx.released), as_version=4)


def _gid(cell) -> str | None:
    return (cell.metadata.get("nbgrader") or {}).get("grade_id")


def _answers(nb, answers: dict[str, str]) -> None:
    for cell in nb.cells:
        gid = _gid(cell)
        if gid in answers:
            cell.source = answers[gid]


def _after(nb, gid: str, source: str) -> None:
    idx = next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)
    nb.cells.insert(idx + 1, nbformat.v4.new_code_cell(source))


def _write(nb, ctx: Ctx, name: str = NOTEBOOK + ".ipynb") -> None:
    ctx.folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(ctx.folder / name))


def answered(answers: dict[str, str], *cells_after: tuple[str, str], name: str | None = None):
    """A case builder: these answers, plus extra cells each inserted after a cell id."""
    def make(ctx: Ctx) -> None:
        nb = _load(ctx)
        _answers(nb, answers)
        for gid, src in cells_after:
            _after(nb, gid, src.format(ctx=ctx) if "{ctx" in src else src)
        _write(nb, ctx, name or NOTEBOOK + ".ipynb")
    return make


def mixed(**over) -> dict[str, str]:
    out = dict(CORRECT)
    out.update(over)
    return out


def outputs_text(result: dict) -> str:
    nb = nbformat.reads(result["notebooks"][NOTEBOOK]["autograded"], as_version=4)
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(str(o.get("text", "")) + str(o.get("evalue", "")))
            parts.extend(str(v) for v in o.get("data", {}).values())
    return "\n".join(parts)


# --------------------------------------------------------------------------------- the cheats
PATCH_HELPERS = textwrap.dedent("""\
    import builtins
    import numpy as np
    import torch
    import dlnlp.checks
    np.testing.assert_allclose = lambda *a, **k: None
    np.allclose = lambda *a, **k: True
    np.all = lambda *a, **k: True
    torch.allclose = lambda *a, **k: True
    torch.equal = lambda *a, **k: True
    torch.testing.assert_close = lambda *a, **k: None
    dlnlp.checks.check_close = lambda *a, **k: None
    dlnlp.checks.check_true = lambda *a, **k: None
    check_close = check_true = lambda *a, **k: None
    class _Never(Exception):
        pass
    builtins.AssertionError = _Never
    print("test helpers patched")""")

INPUT_TRANSFORMER = textwrap.dedent("""\
    import ast
    def _neuter(lines):
        text = "".join(lines)
        if any(k in text for k in ("check_", "assert", "HIDDEN", "testing")):
            return ["pass\\n"]
        return lines
    get_ipython().input_transformers_cleanup.append(_neuter)
    class _NoAsserts(ast.NodeTransformer):
        def visit_Assert(self, node):
            return ast.Pass()
    get_ipython().ast_transformers.append(_NoAsserts())
    print("input transformers installed")""")

EXCEPTION_HANDLERS = textwrap.dedent("""\
    import sys
    ip = get_ipython()
    ip.set_custom_exc((BaseException,), lambda shell, etype, evalue, tb, tb_offset=None: None)
    sys.excepthook = lambda *a: None
    ip.showtraceback = lambda *a, **k: None
    ip._showtraceback = lambda *a, **k: None
    ip.showsyntaxerror = lambda *a, **k: None
    print("exception handlers replaced")""")

CALL_TIME_PATCH = {
    "ex1_scale": textwrap.dedent("""\
        def scale(x, a):
            import numpy, torch, dlnlp.checks, builtins
            numpy.testing.assert_allclose = lambda *a, **k: None
            torch.testing.assert_close = lambda *a, **k: None
            dlnlp.checks.check_close = lambda *a, **k: None
            globals()["check_close"] = lambda *a, **k: None
            return x + a"""),
    "ex2_softmax": textwrap.dedent("""\
        def softmax(z):
            import numpy, torch
            torch.allclose = lambda *a, **k: True
            numpy.allclose = lambda *a, **k: True
            return torch.sigmoid(z)"""),
    "ex3_affine": WRONG["ex3_affine"],
    "ex4_count_words": textwrap.dedent("""\
        def count_words(text):
            import builtins
            class _Never(Exception):
                pass
            builtins.AssertionError = _Never
            return {}"""),
}

LYING_TENSOR = textwrap.dedent("""\
    class _Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            if name in ("allclose", "equal", "isclose"):
                return True
            with torch._C.DisableTorchFunctionSubclass():
                out = func(*args, **(kwargs or {}))
            if name in ("__eq__", "eq", "le", "lt", "__le__", "__lt__"):
                return torch.ones_like(out, dtype=torch.bool)
            return out

        def numpy(self):
            raise RuntimeError("no")

    def scale(x, a):
        return (x + a).as_subclass(_Liar)""")

ALWAYS_EQUAL = textwrap.dedent("""\
    class _Always(dict):
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False
        def __bool__(self):
            return True
        __hash__ = None

    class _AlwaysObj:
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False

    def count_words(text):
        return _AlwaysObj() if text else _Always()""")


def edited_tests(ctx: Ctx) -> None:
    nb = _load(ctx)
    _answers(nb, WRONG)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        if meta.get("grade"):
            cell.source = "pass  # the tests are now empty"
            meta["points"] = 1000
    bonus = nbformat.v4.new_code_cell("print('I deserve a bonus')")
    bonus.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 100,
                                  "grade_id": "ex9_bonus", "schema_version": 3}
    nb.cells.append(bonus)
    _write(nb, ctx)


def deleted_tests(ctx: Ctx) -> None:
    nb = _load(ctx)
    _answers(nb, WRONG)
    nb.cells = [c for c in nb.cells if not (c.metadata.get("nbgrader") or {}).get("grade")]
    _write(nb, ctx)


def corrupted_metadata(ctx: Ctx) -> None:
    nb = _load(ctx)
    _answers(nb, WRONG)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        if meta.get("grade_id") == "ex2_softmax_hidden":
            meta["points"] = "all of them"
            meta["grade"] = "yes"
        if meta.get("grade_id") == "ex1_scale_visible":
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    _write(nb, ctx)


def read_gradebook_source(ctx: Ctx) -> str:
    secrets = {"gradebook": str(ctx.gradebook), "solution": str(ctx.solution),
               "course": str(ctx.course_root), "canary": str(ctx.canary)}
    return textwrap.dedent(f"""\
        import os, sqlite3, glob, shutil, pathlib
        SECRETS = {json.dumps(secrets)}
        def attempt(what, fn):
            try:
                got = fn()
                text = got if isinstance(got, str) else repr(got)
                print("LEAK:", what, text[:80].replace("\\n", " "))
            except BaseException as e:
                print("BLOCKED:", what, type(e).__name__)
        attempt("open gradebook", lambda: open(SECRETS["gradebook"], "rb").read(100))
        attempt("sqlite gradebook", lambda: sqlite3.connect(SECRETS["gradebook"]).execute(
            "select source from source_cell").fetchall())
        attempt("read solution", lambda: open(SECRETS["solution"]).read())
        attempt("pathlib solution", lambda: pathlib.Path(SECRETS["solution"]).read_text())
        attempt("list course", lambda: os.listdir(SECRETS["course"]))
        attempt("glob course", lambda: glob.glob(SECRETS["course"] + "/**/*.db", recursive=True) or 1 / 0)
        attempt("relative gradebook", lambda: open("../../../.nbgrader/gradebook.db", "rb").read(10))
        attempt("os.open gradebook", lambda: os.read(os.open(SECRETS["gradebook"], os.O_RDONLY), 10))
        attempt("copy gradebook", lambda: shutil.copy(SECRETS["gradebook"], "stolen.db") and open("stolen.db", "rb").read(10))
        attempt("symlink gradebook", lambda: (os.symlink(SECRETS["gradebook"], "link.db"), open("link.db", "rb").read(10)))
        attempt("parent environ", lambda: open(f"/proc/{{os.getppid()}}/environ", "rb").read())
        attempt("parent cwd", lambda: os.listdir(f"/proc/{{os.getppid()}}/cwd"))
        attempt("write gradebook", lambda: open(SECRETS["gradebook"], "ab").write(b"x") or 1 / 0)
        attempt("write canary", lambda: open(SECRETS["canary"], "w").write("owned") or 1 / 0)
        attempt("ctypes fopen", lambda: __import__("ctypes").CDLL(None).fopen(SECRETS["gradebook"].encode(), b"rb") or 1 / 0)
        attempt("torch.load", lambda: __import__("torch").load(SECRETS["solution"]))
        attempt("secret in env", lambda: [v for v in os.environ.values() if SECRETS["course"] in v] or 1 / 0)""")


def network_source(ctx: Ctx) -> str:
    return textwrap.dedent(f"""\
        import socket, urllib.request
        def attempt(what, fn):
            try:
                fn()
                print("LEAK:", what)
            except BaseException as e:
                print("BLOCKED:", what, type(e).__name__)
        attempt("tcp", lambda: socket.create_connection(("127.0.0.1", {ctx.port}), timeout=2))
        attempt("http", lambda: urllib.request.urlopen("http://127.0.0.1:{ctx.port}/", timeout=2))
        attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
        attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", {ctx.port})))""")


FORK_BOMB = textwrap.dedent("""\
    import os, subprocess, multiprocessing, pty
    def attempt(what, fn):
        try:
            fn()
            print("LEAK:", what)
        except BaseException as e:
            print("BLOCKED:", what, type(e).__name__)
    def _bomb():
        while True:
            os.fork()
    attempt("fork loop", _bomb)
    attempt("subprocess", lambda: subprocess.run(["sh", "-c", "sleep 100 &"], timeout=5))
    attempt("os.system", lambda: os.system("sleep 100 &") and 1 / 0)
    attempt("multiprocessing", lambda: multiprocessing.Process(target=_bomb).start())
    attempt("pty", lambda: pty.fork())
    attempt("posix_spawn", lambda: os.posix_spawn("/bin/sleep", ["sleep", "100"], {}))""")

MEMORY_BOMB = textwrap.dedent("""\
    import torch
    def attempt(what, fn):
        try:
            fn()
            print("SURVIVED:", what)
        except BaseException as e:
            print("STOPPED:", what, type(e).__name__)
    attempt("64 GiB bytearray", lambda: bytearray(64 * 2**30))
    attempt("1 TiB tensor", lambda: torch.empty(2**38))
    def _grow():
        hoard = []
        while True:
            hoard.append(bytearray(10**8))
    attempt("growing list", _grow)""")

HUGE_OUTPUT = textwrap.dedent("""\
    from IPython.display import HTML, display
    print("x" * 50_000_000)
    for i in range(200_000):
        print(i)
    display(HTML("<b>" + "y" * 5_000_000 + "</b>"))
    try:
        with open("huge.bin", "wb") as f:
            for _ in range(1000):
                f.write(b"0" * 2**20)
    except OSError as e:
        print("write stopped:", type(e).__name__)""")

SYS_EXITS = ["import sys\nsys.exit(1)", "exit()", "quit()", "raise SystemExit(3)", "import os\nos._exit(0)"]

PROTOCOL_FORGERY = textwrap.dedent("""\
    import os, json, struct
    def _forge():
        head = json.dumps({"r": 1, "ok": True, "outputs": [], "error": False}).encode()
        frame = struct.pack("<QI", len(head), 0) + head
        for fd in range(3, 40):
            try:
                os.write(fd, frame)
                os.write(fd, b"garbage" * 100)
            except OSError:
                pass
    def count_words(text):
        _forge()
        return {}
    _forge()""")

SIGNAL_GRADER = textwrap.dedent("""\
    import os, signal
    def attempt(what, fn):
        try:
            fn()
            print("LEAK:", what)
        except BaseException as e:
            print("BLOCKED:", what, type(e).__name__)
    attempt("kill parent", lambda: os.kill(os.getppid(), signal.SIGKILL))
    attempt("kill group", lambda: os.killpg(0, signal.SIGKILL))
    attempt("kill pid 1", lambda: os.kill(1, signal.SIGTERM))""")

STDERR_NOISE = {
    "ex1_scale": "import sys, warnings\ndef scale(x, a):\n    warnings.warn('a harmless warning')\n"
                 "    print('debug output', file=sys.stderr)\n    return a * x",
}


def old_nbformat(ctx: Ctx) -> None:
    nb = _load(ctx)
    _answers(nb, CORRECT)
    v3 = nbformat.convert(nb, 3)
    ctx.folder.mkdir(parents=True, exist_ok=True)
    (ctx.folder / f"{NOTEBOOK}.ipynb").write_text(nbformat.writes(v3, version=3))


def corrupt_json(ctx: Ctx) -> None:
    nb = _load(ctx)
    _answers(nb, CORRECT)
    text = nbformat.writes(nb)
    ctx.folder.mkdir(parents=True, exist_ok=True)
    (ctx.folder / f"{NOTEBOOK}.ipynb").write_text(text[: len(text) // 2])


def empty_file(ctx: Ctx) -> None:
    ctx.folder.mkdir(parents=True, exist_ok=True)
    (ctx.folder / f"{NOTEBOOK}.ipynb").write_bytes(b"")


def _no_leak(result: dict, ctx: Ctx) -> None:
    text = outputs_text(result)
    assert "BLOCKED:" in text, "the attempts did not run"
    leaks = [line for line in text.splitlines() if line.startswith("LEAK:")]
    if result.get("isolation") == "process":
        # Without bubblewrap or Landlock only the audit hook stands in the way, and native code called
        # through ctypes is beyond it (docs/grading_trust.md, section 2): the grade is still sealed.
        leaks = [line for line in leaks if not line.startswith("LEAK: ctypes")]
    assert not leaks, "\n".join(leaks)


def _canary_intact(result: dict, ctx: Ctx) -> None:
    _no_leak(result, ctx)
    assert ctx.canary.read_text() == "canary", "another student's file was modified"


def _memory_stopped(result: dict, ctx: Ctx) -> None:
    text = outputs_text(result)
    assert "SURVIVED" not in text and text.count("STOPPED:") == 3, text[-500:]


def _small_notebook(result: dict, ctx: Ctx) -> None:
    assert len(result["notebooks"][NOTEBOOK]["autograded"]) < 3_000_000, "the huge output was kept"


def _sys_exit_ok(result: dict, ctx: Ctx) -> None:
    assert any(f["code"] == "kernel_died" for f in result["notebooks"][NOTEBOOK]["flags"])


CASES: list[Case] = [
    Case("correct", "honest correct answers", answered(CORRECT), 100),
    Case("blank", "the released notebook, untouched", lambda ctx: _write(_load(ctx), ctx), 0),
    Case("wrong", "honest wrong answers", answered(WRONG), 0),
    Case("partial", "exercises 1-2 right, 3-4 wrong", answered(mixed(ex3_affine=WRONG["ex3_affine"],
                                                                     ex4_count_words=WRONG["ex4_count_words"])), 35),
    Case("patched_helpers", "wrong answers; np.testing, np.allclose, torch.allclose, torch.testing, the "
         "course's check helpers and AssertionError itself patched in the kernel",
         answered(WRONG, ("ex4_count_words", PATCH_HELPERS)), 0),
    Case("input_transformer", "wrong answers; IPython input and AST transformers that turn every later "
         "test cell into `pass`", answered(WRONG, ("ex1_scale", INPUT_TRANSFORMER)), 0),
    Case("exception_handlers", "wrong answers; custom IPython exception handler, sys.excepthook and "
         "showtraceback replaced so that errors vanish", answered(WRONG, ("ex1_scale", EXCEPTION_HANDLERS)), 0),
    Case("call_time_patch", "wrong answers whose functions patch the test helpers when the tests call them",
         answered(CALL_TIME_PATCH), 0),
    Case("lying_tensor", "a tensor subclass whose __torch_function__ says allclose/equal/== are true",
         answered(mixed(**{k: v for k, v in WRONG.items() if k != "ex1_scale"}, ex1_scale=LYING_TENSOR)), 0),
    Case("always_equal", "count_words returns an object equal to everything",
         answered(mixed(**{k: v for k, v in WRONG.items() if k != "ex4_count_words"}, ex4_count_words=ALWAYS_EQUAL)), 0),
    Case("edited_tests", "test cells emptied, points set to 1000, a 100-point 'bonus' grade cell added",
         edited_tests, 0, flags=("edited_locked_cell", "edited_points", "unknown_cell_id"), review=True),
    Case("deleted_tests", "every test cell deleted", deleted_tests, 0, flags=("restored_missing_cell",), review=True),
    Case("corrupted_metadata", "nbgrader metadata made invalid and a test cell turned into markdown",
         corrupted_metadata, 0, flags=("metadata_edited",), review=True),
    Case("infinite_loop", "count_words never returns", answered(mixed(ex4_count_words="def count_words(text):\n"
                                                                      "    while True:\n        pass")),
         70, flags=("cell_timeout",), review=True),
    Case("unstoppable_loop", "a cell that ignores the interrupt and loops forever",
         answered(CORRECT, ("ex2_softmax_hidden", "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                                  "while True:\n    time.sleep(0.1)")),
         100, flags=("cell_timeout", "kernel_restarted"), review=True),
    Case("kernel_kill", "a cell kills its own kernel with SIGKILL",
         answered(CORRECT, ("ex2_softmax_hidden", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")),
         100, flags=("kernel_died", "kernel_restarted"), review=True),
    Case("kill_in_test", "count_words kills the kernel when a test calls it",
         answered(mixed(ex4_count_words="import os, signal\ndef count_words(text):\n"
                                        "    os.kill(os.getpid(), signal.SIGKILL)")),
         70, flags=("kernel_died",), review=True),
    Case("sys_exit", "sys.exit, exit(), quit(), SystemExit and os._exit in cells",
         answered(CORRECT, *[("ex1_scale_hidden", s) for s in SYS_EXITS]), 100, flags=("kernel_died",),
         review=True, check=_sys_exit_ok),
    Case("memory_bomb", "allocations of 64 GiB, 1 TiB and an endless list", answered(CORRECT, ("ex2_softmax", MEMORY_BOMB)),
         100, review=None, check=_memory_stopped),
    Case("fork_bomb", "os.fork loop, subprocess, os.system, multiprocessing, pty, posix_spawn",
         answered(CORRECT, ("ex1_scale", FORK_BOMB)), 100, flags=("sandbox_violation",), review=True,
         check=_no_leak),
    Case("read_gradebook", "wrong answers; tries to read the gradebook, the solutions and the course "
         "folder by every path, and to write the gradebook and another student's file",
         lambda ctx: answered(WRONG, ("ex1_scale", read_gradebook_source(ctx)))(ctx), 0,
         flags=("sandbox_violation",), review=True, check=_canary_intact),
    Case("network", "wrong answers; TCP, HTTP, DNS and UDP to a server the test runs",
         lambda ctx: answered(WRONG, ("ex1_scale", network_source(ctx)))(ctx), 0, flags=("sandbox_violation",),
         review=True, check=_no_leak),
    Case("huge_output", "50 MB print, 200k lines, a 5 MB HTML display, a 1 GiB file",
         answered(CORRECT, ("ex1_scale", HUGE_OUTPUT)), 100, check=_small_notebook),
    Case("corrupt_json", "the notebook file cut in half", corrupt_json, 0, flags=("invalid_json",), review=True),
    Case("empty_file", "an empty file", empty_file, 0, flags=("empty_file",), review=True),
    Case("wrong_name", "correct answers in 'My Homework (final).ipynb'",
         answered(CORRECT, name="My Homework (final).ipynb"), 100, flags=("renamed_notebook",)),
    Case("old_nbformat", "correct answers saved as nbformat 3", old_nbformat, 100, flags=("old_nbformat",)),
    Case("stderr_noise", "correct answers that warn and print to stderr", answered(mixed(**STDERR_NOISE)), 100),
    Case("protocol_forgery", "wrong answers; writes forged 'passed' replies and garbage to every file "
         "descriptor, also while a test calls it", answered(mixed(**{k: v for k, v in WRONG.items() if k != "ex4_count_words"},
                                                                     ex4_count_words=PROTOCOL_FORGERY)), 0, review=None),
    Case("signal_grader", "correct answers; tries to kill the grader, its process group and pid 1",
         answered(CORRECT, ("ex1_scale", SIGNAL_GRADER)), 100, flags=("sandbox_violation",), review=True,
         check=_no_leak),
]

# Cases grouped by what they attack live in modules of their own beside this one; each defines CASES.
def _more_cases() -> list[Case]:
    import importlib
    import pkgutil
    more: list[Case] = []
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("cases_"):
            more.extend(importlib.import_module(f"{__package__}.{info.name}" if __package__ else info.name).CASES)
    return more


CASES += _more_cases()
