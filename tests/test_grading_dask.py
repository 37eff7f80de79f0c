"""Grading on Dask distributed: a real scheduler and two real worker processes on 127.0.0.1.

A small class is graded by the local pool and then through Dask while one worker is killed with
SIGKILL mid-run: every grade must equal the local pool's and nothing may be lost. Then: a worker with
weaker isolation or another copy of the course is refused by name, a scheduler that goes away stops
``grade`` with a clear message and running it again resumes, and the whole path works over TLS with
certificates the test makes itself."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from adversarial.cases import CORRECT, NOTEBOOK, WRONG, _answers, mixed
from adversarial.support import ASSIGNMENT, make_course

pytest.importorskip("distributed")
pytestmark = pytest.mark.xdist_group("grading")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ANSWERS = {"s1": CORRECT, "s2": WRONG, "s3": mixed(ex3_affine=WRONG["ex3_affine"]), "s4": CORRECT,
           "s5": mixed(ex2_softmax=WRONG["ex2_softmax"]), "s6": CORRECT}


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_DB_URL", "JUPYTER_CONFIG_PATH",
                                                           "DLNLP_DASK_SCHEDULER")}
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def _grade(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", "--root", str(root), "--cell-timeout", "30",
                           *args], cwd=REPO, env=env or _env(), text=True, capture_output=True, timeout=900)


def _scores(root: Path) -> dict[str, float]:
    out = {}
    for p in sorted((root / "autograded").glob(f"*/{ASSIGNMENT}/grading.json")):
        out[p.parts[-3]] = json.loads(p.read_text())["score"]
    return out


def _records(root: Path) -> dict[str, dict]:
    return {p.parts[-3]: json.loads(p.read_text()) for p in (root / "autograded").glob(f"*/{ASSIGNMENT}/grading.json")}


def _class(root: Path) -> None:
    make_course(root)
    released = root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    for student, answers in ANSWERS.items():
        nb = nbformat.read(str(released), as_version=4)
        _answers(nb, answers)
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{NOTEBOOK}.ipynb"))


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, stopped at the end."""

    def __init__(self, tmp: Path, course: Path, tls: dict | None = None):
        self.tmp, self.course, self.tls = tmp, course, tls or {}
        self.file = tmp / f"scheduler-{time.monotonic_ns()}.json"
        self.procs: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}
        self.scheduler: subprocess.Popen | None = None

    def _tls_args(self, role: str) -> list[str]:
        if not self.tls:
            return []
        return ["--tls-ca-file", self.tls["ca"], "--tls-cert", self.tls[role + "_cert"],
                "--tls-key", self.tls[role + "_key"]]

    def start_scheduler(self) -> str:
        if self.file.exists():
            self.file.unlink()
        proto = ["--protocol", "tls"] if self.tls else []
        self.scheduler = subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(self.file), *proto, *self._tls_args("scheduler")],
            env=_env(DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1"), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(self.scheduler)
        for _ in range(300):
            if self.file.exists():
                try:
                    return json.loads(self.file.read_text())["address"]
                except (ValueError, KeyError):
                    pass
            time.sleep(0.1)
        raise RuntimeError("the Dask scheduler did not start")

    def start_worker(self, name: str, course: Path | None = None, **env) -> None:
        proc = subprocess.Popen(
            [str(BIN / "dask"), "worker", "--scheduler-file", str(self.file), "--nthreads", "1", "--no-nanny",
             "--no-dashboard", "--name", name, *self._tls_args("worker")],
            env=_env(DLNLP_COURSE_ROOT=str(course or self.course), **env), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        self.workers[name] = proc

    def wait_for_workers(self, n: int, address: str, security=None) -> None:
        from distributed import Client

        with Client(address, timeout=30, security=security, set_as_default=False) as c:
            c.wait_for_workers(n, timeout=60)

    def kill(self, proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    local = tmp / "local"
    _class(local)
    proc = _grade(local, "--workers", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = _scores(local)
    assert len(expected) == len(ANSWERS) and expected["s1"] == 100 and expected["s2"] == 0, expected
    # The workers grade in their own copy of the course, at another path.
    workers_course = tmp / "worker-course"
    shutil.copytree(local / "solutions", workers_course / "solutions")
    shutil.copytree(local / "notebooks", workers_course / "notebooks")
    return {"tmp": tmp, "local": local, "expected": expected, "workers_course": workers_course}


def _fresh(classes, name: str) -> Path:
    root = classes["tmp"] / name
    shutil.copytree(classes["local"], root, ignore=shutil.ignore_patterns("autograded", "feedback", "exports"))
    return root


def test_dask_grades_equal_the_local_pool_when_a_worker_is_killed(classes):
    from distributed import Client

    root = _fresh(classes, "killed")
    cluster = Cluster(classes["tmp"], classes["workers_course"])
    try:
        address = cluster.start_scheduler()
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        cluster.wait_for_workers(2, address)
        proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "--root", str(root), "--cell-timeout",
                                 "30", "--scheduler", address], cwd=REPO, env=_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killed = None
        deadline = time.monotonic() + 600
        with Client(address, timeout=30, set_as_default=False) as client:
            w1 = next(a for a, w in client.scheduler_info()["workers"].items() if w["name"] == "w1")
            while proc.poll() is None and time.monotonic() < deadline and killed is None:
                # kill w1 while it grades a student (not the calibration)
                running = [k for k in client.processing().get(w1, ()) if "__calibration__" not in str(k)]
                if running:
                    cluster.kill(cluster.workers["w1"])
                    killed = str(running[0])
                time.sleep(0.05)
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, out + err
        assert killed, out
        victim = killed.split(f"grade-{ASSIGNMENT}-")[1].rsplit("-", 1)[0]
        assert _records(root)[victim]["worker"].startswith("w2"), (victim, _records(root)[victim]["worker"])
        assert "Dask worker w2" in out and "isolation" in out, out
        assert _scores(root) == classes["expected"], (out, err)
        for student, rec in _records(root).items():
            assert rec.get("worker"), (student, rec)
            assert rec["isolation"] == _records(classes["local"])[student]["isolation"]
    finally:
        cluster.stop()


def test_refused_workers_and_a_lost_scheduler(classes):
    root = _fresh(classes, "lost")
    other = classes["tmp"] / "other-course"
    shutil.copytree(classes["workers_course"], other)
    nb = other / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nb.write_text(nb.read_text().replace("Hidden tests", "Hidden  tests", 1))   # another version of the tests
    cluster = Cluster(classes["tmp"], classes["workers_course"])
    try:
        address = cluster.start_scheduler()
        cluster.start_worker("stale", course=other)
        cluster.wait_for_workers(1, address)
        refused = _grade(root, "--scheduler", address)
        assert refused.returncode == 5, refused.stdout + refused.stderr
        assert "refusing Dask worker stale" in refused.stdout and "differs for fx_ops" in refused.stdout, refused.stdout
        assert not _records(root)

        cluster.start_worker("good")
        cluster.wait_for_workers(2, address)
        proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "--root", str(root), "--cell-timeout",
                                 "30", "--scheduler", address], cwd=REPO, env=_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline and len(_records(root)) < 2:
            time.sleep(0.1)
        cluster.kill(cluster.scheduler)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 6, out + err
        assert "went away" in err and "run the same grade command" in err, err
        saved = len(_records(root))
        assert 1 <= saved < len(ANSWERS), out

        cluster.stop()
        cluster = Cluster(classes["tmp"], classes["workers_course"])
        address = cluster.start_scheduler()
        cluster.start_worker("again")
        cluster.wait_for_workers(1, address)
        again = _grade(root, "--scheduler", address, env=_env(DLNLP_DASK_SCHEDULER=address))
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"{saved} already graded and unchanged" in again.stdout, again.stdout
        assert _scores(root) == classes["expected"]
    finally:
        cluster.stop()


def _certificates(folder: Path) -> dict:
    """A certificate authority and a certificate for 127.0.0.1 signed by it, made with openssl."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is not installed")
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args):
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=grading-ca",
        "-keyout", "ca.key", "-out", "ca.pem")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "node.key", "-out", "node.csr")
    run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "ext.cnf", "-out", "node.pem")
    files = {k: str(folder / v) for k, v in (("ca", "ca.pem"), ("cert", "node.pem"), ("key", "node.key"))}
    return {"ca": files["ca"], "scheduler_cert": files["cert"], "scheduler_key": files["key"],
            "worker_cert": files["cert"], "worker_key": files["key"], "client_cert": files["cert"],
            "client_key": files["key"]}


def test_dask_over_tls(classes):
    from distributed.security import Security

    root = _fresh(classes, "tls")
    tls = _certificates(classes["tmp"] / "certs")
    cluster = Cluster(classes["tmp"], classes["workers_course"], tls=tls)
    env = _env(DASK_DISTRIBUTED__COMM__TLS__CA_FILE=tls["ca"],
               DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT=tls["client_cert"],
               DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY=tls["client_key"],
               DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION="True")
    try:
        address = cluster.start_scheduler()
        assert address.startswith("tls://"), address
        cluster.start_worker("tls1")
        cluster.wait_for_workers(1, address, Security(tls_ca_file=tls["ca"], tls_client_cert=tls["client_cert"],
                                                      tls_client_key=tls["client_key"], require_encryption=True))
        plain = _grade(root, "--scheduler", address.replace("tls://", "tcp://"), "--student", "s1")
        assert plain.returncode == 5 and "no Dask scheduler answered" in plain.stderr, plain.stdout + plain.stderr
        proc = _grade(root, "--scheduler", address, "--student", "s1", "--student", "s2", env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        scores = _scores(root)
        assert scores == {s: classes["expected"][s] for s in ("s1", "s2")}, scores
    finally:
        cluster.stop()
