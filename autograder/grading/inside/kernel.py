"""The student kernel, the one process that runs a submission's code.

``python -I -m autograder.grading.inside.kernel student CTL RPC``
    Applies the sandbox (:mod:`.confine`) before anything else, then runs the submission's cells on
    request (``CTL``) and answers the tester's requests about its objects (``RPC``). It never sees a
    test cell.

``python -I -m autograder.grading.inside.kernel student-zygote FD``
    A template that imports the notebook's modules once and forks one student kernel per submission;
    each child applies its own sandbox before any cell.
"""
from __future__ import annotations

import os
import select
import socket
import sys
import time

from ..channel.framing import Channel, ChannelClosed


def warm_torch() -> None:
    """Import once what torch imports on first use of the paths every graded test takes, so that no
    kernel or tester pays for it inside a cell's time limit. ``torch.autograd.grad`` with given output
    gradients (how a gradient crosses from the tester to the student kernel) imports
    ``torch.fx.experimental.symbolic_shapes`` and with it sympy: about 480 modules, 0.25 s on an idle
    core and 0.5 s in the sandbox, many times that on a loaded machine, paid by the first test cell
    that calls ``backward`` through a submission's code."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        x = torch.zeros(2, requires_grad=True)
        torch.autograd.grad([x * 2.0], [x], [torch.ones(2)])
        (x * 2.0).sum().backward()
    except BaseException:
        pass


# ====================================================================== student kernel
def _prepare_student(preload: list[str], threads: int):
    """The shell and the notebook's imports (before any submission code runs)."""
    from .shell import make_shell

    shell = make_shell()
    errors = {}
    for mod in preload:
        try:
            __import__(mod)
        except BaseException as e:   # the notebook will meet the same error when it imports it
            errors[mod] = f"{type(e).__name__}: {e}"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(max(1, int(threads)))
        warm_torch()
    return shell, errors


def _student_serve(init: dict, ctl: Channel, rpc_fd: int, shell, applied: list[str], preload_errors: dict) -> int:
    """Run the submission's cells (``ctl``) and answer the tester (``rpc_fd``) until told to stop."""
    from ..channel.endpoint import Endpoint
    from ..channel.objects import GUARD, install_interrupt_handler
    from . import confine as sandbox
    from .shell import OutputLimits, run_cell

    os.chdir(init["workdir"])
    first = [init["workdir"]] + [str(p) for p in init.get("path") or []]
    sys.path[:] = first + [p for p in sys.path if p and os.path.isdir(p) and p not in first]
    limits = OutputLimits(cell_bytes=int(init.get("limits", {}).get("output_bytes_per_cell", 200_000)))
    ep = Endpoint(Channel(rpc_fd), guarded=False, namespace=shell.user_ns)
    install_interrupt_handler()
    if init.get("audit", True):
        sandbox.install_audit_hook(init.get("read", []), init.get("write", []))
        applied.append("audit hook")
    from . import withheld

    if init.get("path"):
        applied.append("reference answers withheld until their exercise is graded")
    ctl.send({"ready": True, "applied": applied, "preload_errors": preload_errors, "pid": os.getpid()})
    ctl_fd = ctl.rfd
    rpc_open = True
    while True:
        fds = [ctl_fd] + ([rpc_fd] if rpc_open else [])
        try:
            ready, _, _ = select.select(fds, [], [])
        except (InterruptedError, KeyboardInterrupt):
            continue
        if ctl_fd in ready:
            try:
                msg, _ = ctl.recv()
            except (ChannelClosed, KeyboardInterrupt):
                return 0
            if msg.get("q") == "exit":
                return 0
            if msg.get("q") == "run":
                GUARD.pending = False
                start = time.perf_counter()
                cap = run_cell(shell, str(msg.get("src", "")), limits, GUARD)
                ctl.send({"r": msg.get("id"), "outputs": cap.finish(), "error": cap.error is not None,
                          "count": shell.execution_count - 1, "seconds": time.perf_counter() - start,
                          "violations": sandbox.take_violations(), "withheld": withheld.take_attempts()})
            elif msg.get("q") == "reveal":
                errors = []
                for d in msg.get("defs") or []:
                    try:
                        withheld.reveal(str(d["module"]), [str(n) for n in d["names"]], str(d["source"]))
                    except Exception as e:       # the answer stays withheld; the notebook meets the error
                        errors.append(f"{d.get('module')}: {type(e).__name__}: {e}")
                ctl.send({"r": msg.get("id"), "errors": errors})
            elif msg.get("q") == "stats":
                ctl.send({"r": msg.get("id"), "violations": sandbox.take_violations(),
                          "withheld": withheld.take_attempts()})
        if rpc_open and rpc_fd in ready:
            try:
                ep.serve_one()
            except ChannelClosed:
                rpc_open = False
            except KeyboardInterrupt:
                pass


def student_main(ctl_fd: int, rpc_fd: int) -> int:
    """A student kernel started on its own (inside bubblewrap when that is the isolation)."""
    ctl = Channel(ctl_fd)
    init, _ = ctl.recv(timeout=120)
    from . import confine as sandbox

    applied = sandbox.enter_sandbox(init)
    sys.path[:0] = [str(p) for p in init.get("path") or []]
    shell, errors = _prepare_student(init.get("preload", []), init.get("limits", {}).get("threads", 1))
    return _student_serve(init, ctl, rpc_fd, shell, applied, errors)


def student_zygote_main(zyg_fd: int) -> int:
    """Imports once, then forks one student kernel per submission; each child applies its own
    sandbox (limits, Landlock to its own folder, namespaces, audit hook) before it runs any cell."""
    import signal
    import tempfile

    sock = socket.socket(fileno=zyg_fd)
    zyg = Channel(zyg_fd)
    init, _ = zyg.recv(timeout=120)
    from . import confine as sandbox

    sandbox.drop_privileges(init)          # the kernels forked from here are never root
    if sys.platform.startswith("linux"):
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)
    sys.path[:0] = [str(p) for p in init.get("path") or []]     # dlnlp without the withheld answers
    # one thread here: an OpenMP pool created before fork() would hang the children
    shell, errors = _prepare_student(init.get("preload", []), 1)
    # What is loaded here is shared with every kernel forked from it: out of the collector's reach, so
    # that a kernel's first full collection neither walks nor copies it (with torch and sympy loaded
    # that collection took 0.3 s inside the first test cell).
    import gc
    gc.freeze()
    zyg.send({"ready": True, "errors": errors, "pid": os.getpid(),
              "threads": len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1})
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1, 4)
        except (OSError, KeyboardInterrupt):
            return 0
        if not data or data == b"X":
            return 0
        try:
            cfg, _ = zyg.recv(timeout=30)
        except Exception:
            return 1
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sock.close()
                os.setsid()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.environ.clear()
                os.environ.update(cfg.get("env", {}))
                tempfile.tempdir = None
                from . import confine as sandbox

                applied = sandbox.enter_sandbox(cfg)
                if "torch" in sys.modules:
                    sys.modules["torch"].set_num_threads(max(1, int(cfg.get("limits", {}).get("threads", 1))))
                code = _student_serve(cfg, Channel(fds[0]), fds[1], shell, applied, dict(errors))
            except BaseException:
                code = 1
            os._exit(code)
        for fd in fds:
            os.close(fd)
        zyg.send({"pid": pid})


# ====================================================================== tester


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "student":
        return student_main(int(argv[1]), int(argv[2]))
    if argv and argv[0] == "student-zygote":
        return student_zygote_main(int(argv[1]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
