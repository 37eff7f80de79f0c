"""Helpers of the grader's tests: a throwaway course with the fixture assignment, a TCP listener."""
from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "grading_course"
ASSIGNMENT = "fx_ops"


def make_course(root: Path):
    """Copy the fixture course to ``root`` and release it with nbgrader (records the gradebook)."""
    from nbgrader.apps import NbGraderAPI

    from autograder.grading.batch.gradebook import load_config

    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(FIXTURE, root)
    cfg = load_config(root)
    result = NbGraderAPI(config=cfg).generate_assignment(ASSIGNMENT, force=True, create=True)
    assert result["success"], result.get("error") or result.get("log")
    return cfg


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop = True
        self.thread.join(timeout=2)
        self.sock.close()
