"""The tester, on the trusted side: it runs the test cells and decides pass or fail.

``python -I -m autograder.grading.host.tester_main tester ZYGOTE``
    The *tester zygote*: runs the instructor's notebook (solutions included, test cells excluded) once,
    then forks one *tester* per submission. A tester runs the test cells with the student's names
    bound to proxies of the student kernel's objects (:mod:`..channel`) and reports outputs and errors.
"""
from __future__ import annotations

import ast
import os
import socket
import sys
import time

from ..channel.framing import Channel, ChannelClosed
from ..inside.kernel import warm_torch


def _top_level_names(source: str) -> set[str]:
    """Names a cell binds at top level (functions, classes, assignments, imports, loops)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()

    def targets(node):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    targets(t)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets(node.target)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name != "*":
                        names.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets(node.target)
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
                visit(node.body)
            elif isinstance(node, (ast.If, ast.While)):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
    visit(tree.body)
    return names




def _classify(ns: dict, names: set[str]) -> list[str]:
    """Of the names the solution cells bind, those that are the student's work (not modules or
    library objects the solution cell merely imported)."""
    import types as _types

    from ..channel.objects import importable

    keep = []
    for n in sorted(names):
        if n.startswith("__") or n not in ns:
            continue
        v = ns[n]
        if isinstance(v, _types.ModuleType):
            continue
        if (callable(v) or isinstance(v, type)) and importable(v) is not None:
            continue
        keep.append(n)
    return keep


def tester_main(zyg_fd: int) -> int:
    import signal

    sock = socket.socket(fileno=zyg_fd)
    zyg = Channel(zyg_fd)
    setup, _ = zyg.recv()
    from ..channel.objects import GUARD, WITHHELD, install_interrupt_handler

    WITHHELD.update(str(q) for q in setup.get("withheld") or [])
    from ..inside.shell import OutputLimits, make_shell, run_cell

    os.chdir(setup["workdir"])
    shell = make_shell()
    limits = OutputLimits(cell_bytes=int(setup.get("output_bytes_per_cell", 200_000)))
    torch = None
    try:
        import torch  # noqa: F401 - preload so that forked testers share it
        torch.set_num_threads(1)     # testers are forked from here: no OpenMP pool may exist (it would hang)
    except Exception:
        pass
    errors = []
    candidates: set[str] = set()
    start = time.perf_counter()
    install_interrupt_handler()
    for i, cell in enumerate(setup.get("cells", [])):
        src = cell.get("src", "")
        if cell.get("solution"):
            candidates |= _top_level_names(shell.transform_cell(src))
        cap = run_cell(shell, src, limits, GUARD)
        if cap.error is not None:
            errors.append({"cell": cell.get("index", i), "error": f"{cap.error['ename']}: {cap.error['evalue']}"[:500]})
    for mod in setup.get("warm", []):        # what the test cells import: once here, not per tester
        try:
            __import__(mod)
        except BaseException:
            pass
    warm_torch()
    if "torch.testing" in sys.modules:         # its first call imports a lot (seconds)
        try:
            import torch
            torch.testing.assert_close(torch.zeros(2), torch.zeros(2))
        except BaseException:
            pass
    names = _classify(shell.user_ns, candidates)
    for n in names:
        shell.user_ns.pop(n, None)
    try:
        import matplotlib.pyplot as plt
        plt.close("all")
    except Exception:
        pass
    import gc
    gc.freeze()                                # shared with the forked testers (see student_zygote_main)
    zyg.send({"ready": True, "errors": errors, "names": names, "seconds": time.perf_counter() - start,
              "pid": os.getpid()})
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)     # forked testers are reaped automatically
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1, 4)
        except (OSError, KeyboardInterrupt):
            return 0
        if not data or data == b"X":
            return 0
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                code = _tester_session(shell, fds[0], fds[1], names, limits, setup)
            except BaseException:
                code = 1
            os._exit(code)
        for fd in fds:
            os.close(fd)
        zyg.send({"pid": pid})


def _tester_session(shell, ctl_fd: int, rpc_fd: int, names: list[str], limits, setup) -> int:
    import signal

    from ..channel.endpoint import Endpoint
    from ..channel.objects import GUARD, WITHHELD, RemoteError, install_interrupt_handler
    from ..inside.shell import run_cell

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)   # die with the orchestrator
    install_interrupt_handler()
    ctl = Channel(ctl_fd)
    ep = Endpoint(Channel(rpc_fd), guarded=True, namespace=shell.user_ns)
    while True:
        try:
            msg, _ = ctl.recv()
        except (ChannelClosed, KeyboardInterrupt):
            return 0
        q = msg.get("q")
        if q == "exit":
            return 0
        if q == "reset":
            ep.reset()
            ctl.send({"r": msg.get("id")})
            continue
        if q == "test":
            WITHHELD.clear()                     # handed over as proxies, never by name (.channel.objects)
            WITHHELD.update(str(x) for x in msg.get("withheld") or [])
            GUARD.pending = False
            start = time.perf_counter()
            bind_error = None
            try:
                with GUARD:
                    ep.bind_names(list(msg.get("names", names)))
            except (RemoteError, KeyboardInterrupt) as e:
                bind_error = str(e) or type(e).__name__
            n0 = ep.requests
            cap = run_cell(shell, str(msg.get("src", "")), limits, GUARD)
            ep.clear_records()
            ctl.send({"r": msg.get("id"), "outputs": cap.finish(), "error": cap.error is not None,
                      "bind_error": bind_error, "requests": ep.requests - n0, "broken": ep.violation,
                      "modified": list(ep.modified), "seconds": time.perf_counter() - start})
            ep.modified.clear()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "tester":
        if len(argv) == 4 and os.geteuid() == 0:       # started as root under bubblewrap: become the tester's user
            os.setgroups([])
            os.setresgid(int(argv[3]), int(argv[3]), int(argv[3]))
            os.setresuid(int(argv[2]), int(argv[2]), int(argv[2]))
            if os.geteuid() == 0 or os.getegid() == 0:
                raise OSError("the tester could not give up root")
        return tester_main(int(argv[1]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
