"""The student kernel's sandbox (``autograder/grading/sandbox.py``) at every level this machine offers.

A kernel is started at each available level (``bwrap``, ``landlock``, ``process``) and asked to do what
a submission must not: read a file outside its folder, list the course, connect to a server, start a
process, signal its parent, see the grader's environment, exhaust memory. Levels the machine lacks are
skipped with the reason (CI installs bubblewrap).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from adversarial.support import Listener
from autograder.grading import sandbox
from autograder.grading.engine import KernelZygote, StudentKernel
from autograder.grading.sandbox import Limits

pytestmark = pytest.mark.xdist_group("grading")

LIMITS = Limits(cell_timeout=20, notebook_timeout=60, memory_mb=768, threads=1, file_size_mb=8)


def _levels():
    out = []
    for level in sandbox.LEVELS:
        iso = sandbox.detect(level)
        out.append(pytest.param(level, marks=[] if iso.level == level else
                                pytest.mark.skip(reason=f"{level} is not available here: {iso.warnings}")))
    return out


def _run(kernel: StudentKernel, src: str) -> str:
    kernel.send_run(src)
    msg, _ = kernel.ctl.recv(timeout=60)
    text = []
    for o in msg["outputs"]:
        text.append(str(o.get("text", "")) + str(o.get("ename", "")) + " " + str(o.get("evalue", "")))
    return "\n".join(text)


@pytest.fixture(scope="module")
def secret_dir():
    d = Path(tempfile.mkdtemp(prefix="ag-secret-"))
    (d / "gradebook.db").write_text("hidden tests live here")
    os.environ["AG_SECRET_TOKEN"] = "grader-secret"
    yield d
    os.environ.pop("AG_SECRET_TOKEN", None)
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("forked", [False, True], ids=["started", "forked"])
@pytest.mark.parametrize("level", _levels())
def test_the_kernel_cannot_reach_out(level, forked, secret_dir):
    iso = sandbox.detect(level)
    tmp = Path(tempfile.mkdtemp(prefix="ag-sbtest-"))
    zygote = KernelZygote(iso, LIMITS, []) if forked else None
    workdir = zygote.new_workdir() if zygote else tmp / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data.txt").write_text("mine")
    listener = Listener()
    kernel = StudentKernel(workdir, iso, LIMITS, tmp, [], zygote)
    try:
        assert "audit hook" in kernel.applied
        secret = secret_dir / "gradebook.db"
        probe = f"""
import os, socket, subprocess
def attempt(what, fn):
    try:
        fn()
        print("ALLOWED", what)
    except BaseException as e:
        print("DENIED", what, type(e).__name__)
attempt("read secret", lambda: open({str(secret)!r}).read())
attempt("list secret dir", lambda: os.listdir({str(secret_dir)!r}))
attempt("os.open secret", lambda: os.open({str(secret)!r}, os.O_RDONLY))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", {listener.port}), timeout=2))
attempt("subprocess", lambda: subprocess.run(["true"]))
attempt("fork", lambda: os.fork())
attempt("kill parent", lambda: os.kill(os.getppid(), 15))
attempt("write outside", lambda: open({str(secret_dir / 'x.txt')!r}, "w").write("x"))
attempt("big file", lambda: open("big.bin", "wb").write(b"0" * (64 << 20)))
print("ENV", "grader-secret" in str(dict(os.environ)))
print("OWN", open("data.txt").read())
open("out.txt", "w").write("ok")
print("WROTE", open("out.txt").read())
"""
        out = _run(kernel, probe)
        assert "ALLOWED" not in out, out
        assert out.count("DENIED") == 9, out
        assert "ENV False" in out and "OWN mine" in out and "WROTE ok" in out, out
        out = _run(kernel, "try:\n    x = bytearray(4 << 30)\n    print('ALLOCATED')\nexcept MemoryError:\n    print('NO MEMORY')")
        assert "NO MEMORY" in out, out
        assert listener.accepted == 0
        assert not (secret_dir / "x.txt").exists()
    finally:
        kernel.close()
        if zygote:
            zygote.close()
        listener.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_detect_reports_the_strongest_level():
    iso = sandbox.detect()
    assert iso.level in sandbox.LEVELS
    if iso.level == "process":
        assert any("WARNING" in w for w in iso.warnings)
    print(f"isolation here: {iso.level} ({iso.describe()})")


def test_the_environment_is_scrubbed(tmp_path):
    env = sandbox.student_env(tmp_path, LIMITS)
    assert set(env) >= {"PATH", "HOME", "NBGRADER_EXECUTION", "OMP_NUM_THREADS"}
    assert not any(k.startswith(("AWS", "GITHUB", "SSH", "NBGRADER_DB")) for k in env)
    assert env["HOME"].startswith(str(tmp_path))
