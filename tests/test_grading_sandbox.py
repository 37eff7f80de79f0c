"""The student kernel's sandbox (``autograder/grading/host/isolation.py``, ``inside/confine.py``) at every
level this machine offers.

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

from autograder.grading.host import isolation as sandbox
from autograder.grading.host.kernels import KernelZygote, StudentKernel
from autograder.grading.model import Limits

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
        out = _run(kernel, "try:\n    x = bytearray(4 << 30)\n    print('ALLOCATED')\n"
                           "except MemoryError:\n    print('NO MEMORY')")
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


SPAWN = """
import _posixsubprocess, os, sys, time
def spawn(payload):
    r, w = os.pipe()
    args = ([sys.executable], [os.fsencode(sys.executable)], True, (), None, None,
            -1, -1, -1, -1, -1, -1, r, w, False, True, -1, None, None, None, -1, payload)
    try:
        pid = _posixsubprocess.fork_exec(*args, False)
    except TypeError:
        pid = _posixsubprocess.fork_exec(*args)
    os.close(w)
    return pid
"""


@pytest.mark.parametrize("level", _levels())
def test_what_the_kernel_starts_is_seen_bounded_and_killed_from_outside(level):
    """A process started around the audit hook (``_posixsubprocess.fork_exec``, in a session of its
    own) is in the kernel's control group: its memory counts against the kernel, the grader sees it
    and kills it, and a disk quota bounds the kernel's folder. Run as root, the kernel is another user."""
    from autograder.grading.host import cgroup

    if cgroup.backend()[0] is None:
        pytest.skip(f"no writable cgroup here: {cgroup.backend()[1]}")
    iso = sandbox.detect(level)
    limits = Limits(cell_timeout=20, notebook_timeout=60, memory_mb=768, threads=1, file_size_mb=8, disk_mb=32)
    zygote = KernelZygote(iso, limits, [])
    workdir = zygote.new_workdir()
    (workdir / "data.txt").write_text("mine")
    secret = workdir.parent / "grader-only.txt"
    secret.write_text("grader")
    os.chmod(secret, 0o600)
    kernel = StudentKernel(workdir, iso, limits, zygote.scratch, [], zygote)
    try:
        assert kernel.group is not None, getattr(kernel, "group_error", "")
        out = _run(kernel, SPAWN + "def hold():\n    hoard = b'x' * (300 << 20)\n    time.sleep(60)\n"
                                   "pid = spawn(hold)\ntime.sleep(3)\nprint('PID', pid, 'UID', os.getuid())")
        assert "PID" in out, out
        assert kernel.memory_mb() > 300, kernel.memory_mb()          # the detached process counts
        assert len(kernel.pids()) >= 2
        seen = kernel.watch(force=True)
        assert any(code == "violation" and "outside the kernel" in text for code, text in seen), seen
        assert kernel.pids() and set(kernel.pids()) <= kernel._own_pids(), kernel.pids()
        assert kernel.memory_mb() < 300
        if os.geteuid() == 0 and iso.level == "bwrap":
            assert any(a.startswith("unprivileged user") for a in kernel.applied), kernel.applied
            assert "UID 0" not in out, out
        probe = (f"try:\n    open({str(secret)!r}).read()\n    print('READ')\nexcept OSError as e:\n"
                 f"    print('REFUSED', type(e).__name__)\n"
                 "written = 0\ntry:\n    for i in range(8):\n        with open(f'f{i}', 'wb') as f:\n"
                 "            written += f.write(b'0' * (7 << 20))\n"
                 "except OSError as e:\n    print('STOPPED', e.strerror)\n"
                 "print('WRITTEN', written >> 20)")
        out = _run(kernel, probe)
        if kernel.ident is not None or iso.level != "process":
            assert "REFUSED" in out, out
        assert "STOPPED" in out, out
        written = int(out.split("WRITTEN")[-1].split()[0])
        assert written <= limits.disk_mb + 16, out
        assert any(code == "disk_quota" for code, _ in kernel.watch(force=True))
        # the kernel's own death takes everything it started with it
        _run(kernel, SPAWN + "spawn(lambda: time.sleep(60))\nprint('again')")
        kernel.kill()
        assert kernel.group.procs() == []
    finally:
        kernel.close()
        zygote.close()


def test_the_process_level_is_refused_unless_asked_for(monkeypatch):
    monkeypatch.setattr(sandbox, "_DETECTED", {})
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    monkeypatch.delenv("GRADER_ISOLATION", raising=False)
    with pytest.raises(sandbox.IsolationUnavailable) as err:
        sandbox.detect()
    assert "--isolation process" in str(err.value) and "gradebook" in str(err.value)
    with pytest.raises(sandbox.IsolationUnavailable):
        sandbox.detect("bwrap")
    iso = sandbox.detect("process")
    assert iso.level == "process" and any("gradebook" in w for w in iso.warnings)
    monkeypatch.setattr(sandbox, "_DETECTED", {})
    monkeypatch.setenv("GRADER_ISOLATION", "process")
    assert sandbox.detect().level == "process"


def test_a_forked_kernel_starts_warm():
    """What every graded test pays once is paid in the kernel's zygote, not inside a cell's time limit:
    the gradient path of the tester-kernel bridge (``torch.autograd.grad`` with output gradients
    imports sympy, about 480 modules) is imported there, and what the zygote loaded is frozen out of
    the collector's reach (a forked kernel's first full collection otherwise walks and copies it).
    Before both, the fixture's first backward test took 0.5 s in a landlock kernel on an idle core
    and its first test 0.36 s, against 0.02 s after."""
    iso = sandbox.detect()
    zygote = KernelZygote(iso, LIMITS, ["numpy", "torch"])
    workdir = zygote.new_workdir()
    kernel = StudentKernel(workdir, iso, LIMITS, zygote.scratch, ["numpy", "torch"], zygote)
    try:
        out = _run(kernel, "import gc, sys\nfrozen = gc.get_freeze_count()\nbefore = set(sys.modules)\n"
                           "import torch\nx = torch.zeros(3, requires_grad=True)\n"
                           "g, = torch.autograd.grad([x * 2.0], [x], [torch.ones(3)])\n"
                           "new = sorted(set(sys.modules) - before)\n"
                           "print('FROZEN', frozen, 'GRAD', g.tolist(), 'NEW', len(new), new[:5])")
        assert "GRAD [2.0, 2.0, 2.0]" in out, out
        assert "NEW 0 []" in out, out
        assert int(out.split("FROZEN")[1].split()[0]) > 100_000, out
    finally:
        kernel.close()
        zygote.close()


def test_the_tester_runs_as_a_user_of_its_own_under_its_memory_limit(tmp_path):
    """The tester handles what submissions return: run as root, the grader starts it as another user, also
    when the Python installation lies under a folder closed to other users (bubblewrap opens the way to it
    for the tester alone), and with a data-segment limit of its own."""
    from adversarial.support import ASSIGNMENT, make_course

    from autograder.grading.batch.gradebook import assignment_spec
    from autograder.grading.host.tester import Zygote, tester_identity

    if os.geteuid() != 0:
        pytest.skip("the grader is not root: the tester runs as the grader's own unprivileged user")
    ident, wrap = tester_identity()
    if ident is None:
        pytest.skip("no user of its own can be made for the tester here (no bubblewrap, or a closed Python)")
    cfg = make_course(tmp_path / "course")
    spec = assignment_spec(cfg, ASSIGNMENT)
    probe = ("import os, resource\n"
             "data = resource.getrlimit(resource.RLIMIT_DATA)[0]\n"
             "open('who.txt', 'w').write(f'{os.geteuid()} {os.getegid()} {data}')\n"
             "import torch\n")
    zygote = Zygote(spec.notebooks[0], spec, LIMITS, [{"index": 0, "src": probe, "solution": False}])
    try:
        uid, gid, data = (int(x) for x in (zygote.tmp / "work" / "who.txt").read_text().split())
        assert (uid, gid) == ident and uid != 0, (uid, gid, ident)
        assert data == zygote.memory_bytes
        assert not zygote.setup_errors, zygote.setup_errors
    finally:
        zygote.close()
