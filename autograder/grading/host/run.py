"""Grading one notebook: the student kernel runs the cells, the tester runs the test cells."""
from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import nbformat

from ..channel.framing import Channel, ChannelClosed, ProtocolError
from ..model import INFO, AssignmentSpec, Flag, Isolation, Limits, NotebookSpec
from ..notebook.answers import answers_for, exercise_of
from ..notebook.score import error_output, test_cells, to_outputs
from . import isolation as sandbox
from .kernels import KERNEL_ZYGOTES, StudentKernel, kernel_zygote_for
from .procs import KernelStartError, copy_tree_files, kernel_ident
from .tester import Tester, Zygote, imports_of, zygote_for
from .withheld import withheld_for


class NotebookRun:
    def __init__(self, nb, spec: NotebookSpec, assignment: AssignmentSpec, limits: Limits, iso: Isolation,
                 tmp: Path, submission_dir: Path | None):
        self.nb, self.spec, self.assignment, self.limits, self.iso = nb, spec, assignment, limits, iso
        self.tmp = tmp
        self.flags: list[dict] = []
        self.timings: dict[str, float] = {}
        self.workdir: Path | None = None
        self.submission_dir = submission_dir
        self.kernel: StudentKernel | None = None
        self.tester: Tester | None = None
        self.zygote: Zygote | None = None
        self.replay: list[str] = []
        self.preload: list[str] = []
        self.use_zygote = True
        self.violations: list[str] = []
        self._old_workdir: Path | None = None
        self._n_workdirs = 0
        self.restarts = 0
        self.cell_log: list[dict] = []
        self.answers = {k: v for k, v in answers_for(spec.source_path).items() if v}
        handed = Path(assignment.release_dir) if assignment.release_dir else Path(spec.source_path).parent
        self.withheld = withheld_for(self.answers, handed)
        self.revealed: list[dict] = []                # answers' sources sent to the kernel so far
        self.sealed: set[str] = set()                 # exercises whose every test has run
        self._answer_cell: str | None = None          # the answer cell running in the kernel, if one is
        self.quota_warned = self.group_warned = False
        self.outside_flags: dict[str, str] = {}      # code -> message, seen by the grader's watchdog

    # -------------------------------------------------------------- processes
    def _prepare_workdir(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        if self.submission_dir is not None:     # the student's own extra files (not notebooks)
            copy_tree_files(self.submission_dir, workdir, max_bytes=50 << 20)
        if self.assignment.release_dir:          # the files handed out win, as nbgrader does
            copy_tree_files(Path(self.assignment.release_dir), workdir)

    @staticmethod
    def _drop_workdir(workdir: Path) -> None:
        sandbox.unmount_quota(workdir.parent)
        shutil.rmtree(workdir.parent, ignore_errors=True)

    def _start_kernel(self) -> None:
        """A fresh student kernel in a fresh copy of the submission's folder."""
        t = time.perf_counter()
        if self.kernel is not None:
            self.kernel.kill()
        if self._old_workdir is not None:
            self._drop_workdir(self._old_workdir)
        zygote = None
        if self.use_zygote:
            try:
                zygote = kernel_zygote_for(self.iso, self.limits, self.preload, self._withheld_root())
            except KernelStartError as e:
                self.flags.append(Flag("zygote_failed", f"kernels are started one by one: {e}"[:500], level=INFO))
                self.use_zygote = False
        ident = zygote.ident if zygote is not None else kernel_ident(self.iso)
        if zygote is not None:
            self.workdir = zygote.new_workdir()
            quota_error = zygote.quota_error
        else:
            self._n_workdirs += 1
            self.workdir = self.tmp / f"run{self._n_workdirs}" / "work"
            self.workdir.parent.mkdir(parents=True)
            quota_error = sandbox.mount_quota(self.workdir.parent, self.limits.disk_mb + 16, ident)
            if ident is not None:
                os.chmod(self.tmp, 0o711)
                os.chmod(self.workdir.parent, 0o711)
        if quota_error and not self.quota_warned:
            self.quota_warned = True
            self.flags.append(Flag("weak_isolation", f"disk quota: {quota_error}", level=INFO))
        self._prepare_workdir(self.workdir)
        if self.withheld is not None:
            self.withheld.write_into(self.workdir)
        sandbox.hand_over(self.workdir, ident)
        self._old_workdir = self.workdir
        try:
            self.kernel = StudentKernel(self.workdir, self.iso, self.limits, self.tmp, self.preload, zygote,
                                        withheld_root=self._withheld_root())
            self.kernel.quota_mounted = quota_error is None
            if self.kernel.group is None and not self.group_warned:
                self.group_warned = True
                self.flags.append(Flag("weak_isolation", "no control group for the kernel "
                                                         f"({getattr(self.kernel, 'group_error', '?')}): processes "
                                                         "it detaches are not bounded or seen", level=INFO))
        except KernelStartError:
            if zygote is None:
                raise
            KERNEL_ZYGOTES.clear()
            zygote.close()
            self.use_zygote = False
            self.kernel = None
            self._start_kernel()
        self.timings["kernel_start"] = self.timings.get("kernel_start", 0) + time.perf_counter() - t

    def _withheld_root(self) -> str | None:
        return str(self.withheld.root) if self.withheld is not None and self.withheld.root else None

    def _reveal(self, defs: list[dict]) -> None:
        """Send the kernel the sources of answers whose exercises are sealed."""
        k = self.kernel
        if not defs or k is None or not k.alive():
            return
        try:
            k.ctl.send({"q": "reveal", "id": -3, "defs": defs})
            reply, _ = self._wait(k.ctl, 30)
        except (ChannelClosed, OSError):
            reply = None
        for err in (reply or {}).get("errors") or []:
            self.flags.append(Flag("reference_not_revealed", str(err)[:300], level=INFO))

    def _still_withheld(self) -> list[str]:
        """The reference answers the kernel has only as stand-ins now."""
        if self.withheld is None:
            return []
        shown = {f"{d['module']}.{n}" for d in self.revealed for n in d["names"]}
        return sorted(q for q in self.withheld.exercises_of if q not in shown)

    def _seal(self, exercise: str | None, left: dict[str, int]) -> None:
        """A test of ``exercise`` has run: once its last one has, its answers may enter the kernel."""
        if exercise is None or exercise not in left:
            return
        left[exercise] -= 1
        if left[exercise] > 0 or self.withheld is None:
            return
        self.sealed.add(exercise)
        defs = self.withheld.reveal_messages(exercise, self.sealed)
        self.revealed += defs
        self._reveal(defs)

    def _note_attempts(self, msg: dict, where: str) -> None:
        """The withheld answers the submission tried to use (the kernel's report: an early warning)."""
        for qual in msg.get("withheld") or []:
            qual = str(qual)[:200]
            for ex in sorted(self.withheld.exercises_of.get(qual, ())) if self.withheld is not None else ():
                key = (ex, qual)
                if key in self._attempts:
                    continue
                self._attempts.add(key)
                self.flags.append(Flag("reference_answer_called", f"{where} the submission called {qual}, the "
                                                                  f"reference answer of {ex}, before {ex} was graded; "
                                                                  "it is not in the kernel until then", cell=ex))

    def _start_tester(self) -> None:
        if self.tester is not None:
            self.tester.kill()
        t = time.perf_counter()
        self.tester = self.zygote.fork(self.kernel.rpc_for_tester)
        self.timings["tester_fork"] = self.timings.get("tester_fork", 0) + time.perf_counter() - t

    def restart(self, reason: str, deadline: float) -> bool:
        """Replace a dead or stuck student kernel and replay the cells that ran before."""
        if self.kernel is not None:
            self.kernel.kill()
        if self.restarts >= 3 or time.monotonic() > deadline - 5:
            self.kernel = None
            return False
        self.restarts += 1
        try:
            self._start_kernel()
        except KernelStartError as e:
            self.flags.append(Flag("kernel_start_failed", str(e)[:500]))
            self.kernel = None
            return False
        self._start_tester()
        self._reveal(self.revealed)
        for src in self.replay:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            status, _ = self.run_in_kernel(src, min(self.limits.cell_timeout, left), replay=True)
            if status in ("died", "memory", "killed"):
                self.kernel = None
                return False
        self.flags.append(Flag("kernel_restarted", f"the student kernel was restarted ({reason}); "
                                                   f"{len(self.replay)} earlier cells were run again",
                               level=INFO))
        return True

    def _wait(self, ch: Channel, timeout: float, kernel_alive=True):
        """Wait for a message on ``ch``; returns (message or None, why)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timeout"
            if ch.poll(min(0.2, left)):
                try:
                    msg, _ = ch.recv(timeout=30)
                    return msg, "ok"
                except (ChannelClosed, ProtocolError, TimeoutError, OSError) as e:
                    return None, f"channel: {type(e).__name__}"
            if kernel_alive and self.kernel is not None:
                self._watch()
                if self.kernel is None:
                    continue
                if not self.kernel.alive():
                    # the kernel is gone; a tester still gets its EOF and answers
                    if ch is self.kernel.ctl:
                        return None, "died"
                elif not self.kernel.check_memory():
                    return None, "memory"

    def run_in_kernel(self, source: str, timeout: float, replay: bool = False):
        k = self.kernel
        try:
            k.send_run(source)
        except (ChannelClosed, OSError):
            return "died", []
        msg, why = self._wait(k.ctl, timeout)
        self._watch(force=True)
        if msg is not None:
            self._note_violations(msg)
            if self._answer_cell:           # the notebook's own cells: their errors show in their outputs
                self._note_attempts(msg, f"in the answer cell {self._answer_cell},")
            return ("error" if msg.get("error") else "ok"), msg.get("outputs", [])
        if why == "timeout":
            k.interrupt()
            msg, why2 = self._wait(k.ctl, 5)
            timeout_err = error_output("CellTimeoutError", f"the cell did not finish within {timeout:.0f} s "
                                                            "and was interrupted")
            if msg is not None:
                self._note_violations(msg)
                outs = [o for o in msg.get("outputs", []) if o.get("output_type") != "error"]
                return "timeout", outs + [timeout_err]
            return "killed", [timeout_err]
        if why == "memory":
            return "memory", [error_output("MemoryError", f"the kernel used more than its memory cap "
                                                           f"({self.limits.memory_mb} MiB) and was stopped")]
        return "died", [error_output("DeadKernelError", "the student kernel stopped while running this cell")]

    def _watch(self, force: bool = False) -> None:
        """The kernel's behaviour seen from outside it (:meth:`StudentKernel.watch`)."""
        if self.kernel is None:
            return
        for code, text in self.kernel.watch(force):
            if code == "violation":
                if text not in self.violations and len(self.violations) < 50:
                    self.violations.append(text)
            else:
                self.outside_flags.setdefault(code, text)

    def _note_violations(self, msg: dict) -> None:
        for v in msg.get("violations") or []:
            if isinstance(v, str) and v not in self.violations and len(self.violations) < 50:
                self.violations.append(v[:300])

    def _final_stats(self, where: str = "while the tests ran,") -> None:
        """What the sandbox refused while the tests ran (reported with the next answer or here)."""
        k = self.kernel
        if k is None or not k.alive():
            return
        try:
            k.ctl.send({"q": "stats", "id": -1})
            msg, _ = self._wait(k.ctl, 10)
            if msg is not None:
                self._note_violations(msg)
                self._note_attempts(msg, where)
        except Exception:
            pass

    def run_test(self, source: str, timeout: float):
        t = self.tester
        try:
            t.send_test(source, self.zygote.names, self._still_withheld())
        except (ChannelClosed, OSError):
            return "died", [error_output("GraderError", "the tester stopped")], {}
        msg, why = self._wait(t.ch, timeout)
        if msg is None and why in ("timeout", "memory"):
            if why == "timeout":
                self.kernel.interrupt()
            else:
                self.kernel.kill()
            msg, why = self._wait(t.ch, 6, kernel_alive=False)
            if msg is None:
                t.interrupt()
                msg, why = self._wait(t.ch, 3, kernel_alive=False)
            if msg is None:
                t.kill()
                self.kernel.kill()
                why = f"the test did not finish within {timeout:.0f} s"
                return "killed", [error_output("CellTimeoutError", why)], {}
            outs = [o for o in msg.get("outputs", []) if o.get("output_type") != "error"]
            err = error_output("CellTimeoutError", f"the test did not finish within {timeout:.0f} s; the "
                                                    "submission's code was interrupted") if why != "memory" else \
                error_output("MemoryError", "the submission's code exceeded the memory cap during this test")
            return "timeout", outs + [err], msg
        if msg is None:
            return "died", [error_output("GraderError", "the tester stopped unexpectedly")], {}
        return ("error" if msg.get("error") else "ok"), msg.get("outputs", []), msg

    # -------------------------------------------------------------- the run
    def run(self) -> None:
        spec = self.spec
        tests = test_cells(self.nb, spec)
        unsealed = set(spec.unsealed)
        solutions = [g for g in spec.order if spec.cells[g].get("solution")]
        exercise_at = {idx: exercise_of(gid, solutions, spec.order) for idx, gid in tests.items()}
        tests_left: dict[str, int] = {}
        for ex in exercise_at.values():
            if ex is not None:
                tests_left[ex] = tests_left.get(ex, 0) + 1
        self._attempts: set[tuple[str, str]] = set()
        setup_cells = self._setup_cells()
        self.preload = imports_of([c["src"] for c in setup_cells])
        t0 = time.perf_counter()
        self.zygote = zygote_for(spec, self.assignment, self.limits, setup_cells)
        self.timings["tester_setup"] = time.perf_counter() - t0
        for err in self.zygote.setup_errors:
            self.flags.append(Flag("instructor_notebook_error", f"the instructor's notebook raised in cell "
                                                                f"{err['cell']}: {err['error']}", level=INFO))
        start = time.monotonic()
        deadline = start + self.limits.notebook_timeout
        try:
            self._start_kernel()
        except KernelStartError as e:
            self.flags.append(Flag("kernel_start_failed", str(e)[:1000]))
            self.fail_rest(0, "the student kernel could not be started")
            return
        self.timings["isolation"] = 0.0
        self._start_tester()
        gave_up = None
        for idx, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            if gave_up:
                cell.outputs = [error_output("NotRun", gave_up)] if idx in tests else []
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                gave_up = f"not run: the notebook's time limit of {self.limits.notebook_timeout:.0f} s ran out"
                self.flags.append(Flag("notebook_timeout", f"the notebook did not finish within "
                                                           f"{self.limits.notebook_timeout:.0f} s; the cells "
                                                           "after it were not run"))
                cell.outputs = [error_output("NotRun", gave_up)] if idx in tests else []
                continue
            if self.kernel is None and not self.restart("it had stopped", deadline):
                gave_up = "not run: the student kernel could not be restarted"
                self.flags.append(Flag("kernel_lost", gave_up))
                cell.outputs = [error_output("NotRun", gave_up)] if idx in tests else []
                continue
            timeout = min(self.limits.cell_timeout, left)
            c0 = time.perf_counter()
            gid = tests.get(idx)
            if gid is not None and gid not in unsealed:
                status, outputs, info = self.run_test(cell.source, timeout)
                kind = "test"
                if info.get("modified"):            # the test fails, whatever it did with the error
                    what = "; ".join(str(m)[:200] for m in info["modified"][:3])
                    outputs = [o for o in outputs if o.get("output_type") != "error"] + [error_output(
                        "InputModified", f"the submission changed the test's inputs in place: {what}")]
                    self.flags.append(Flag("input_modified", f"while {gid} ran, {what}; the test failed", cell=gid))
                if info.get("broken"):
                    self.flags.append(Flag("protocol_violation", f"while testing {gid} the submission's kernel "
                                                                 f"sent malformed data ({info['broken']})", cell=gid))
            else:
                meta = cell.metadata.get("nbgrader") or {}
                self._answer_cell = meta.get("grade_id") if meta.get("solution") else None
                status, outputs = self.run_in_kernel(cell.source, timeout)
                self._answer_cell = None
                kind = "test-in-kernel" if gid is not None else "cell"
                if status in ("ok", "error") and gid is None:
                    self.replay.append(cell.source)
            if gid is not None:
                self._final_stats(f"while {gid} ran,")
                self._seal(exercise_at.get(idx), tests_left)
            cell.outputs = to_outputs(outputs)
            if kind != "test":
                cell.execution_count = None
            self.cell_log.append({"index": idx, "grade_id": gid, "kind": kind, "status": status,
                                  "seconds": round(time.perf_counter() - c0, 3)})
            where = f" (graded cell {gid})" if gid else f" (cell {idx})"
            if status in ("timeout", "killed"):
                self.flags.append(Flag("cell_timeout", f"a cell exceeded the time limit of {timeout:.0f} s"
                                                       f"{where}", cell=gid))
            if status == "memory" or (self.kernel is not None and self.kernel.memory_exceeded):
                self.flags.append(Flag("memory_limit", f"the kernel exceeded its memory cap{where}", cell=gid))
            if status in ("died", "killed", "memory") or (self.kernel is not None and not self.kernel.alive()):
                if status == "died" or (self.kernel is not None and not self.kernel.alive() and status != "killed"):
                    self.flags.append(Flag("kernel_died", f"the student kernel died{where}"
                                                          f"{self._exit_reason()}", cell=gid))
                if self.kernel is not None:
                    self.kernel.kill()
                self.kernel = None
                if not self.restart("it died" if status == "died" else "it was stopped", deadline):
                    gave_up = "not run: the student kernel died and could not be restarted"
            elif self.tester is not None and kind == "test" and status == "killed":
                self._start_tester()
        self.timings["cells"] = time.monotonic() - start
        self._final_stats()
        self._watch(force=True)
        for code, text in self.outside_flags.items():
            if code == "memory_limit" and any(f["code"] == "memory_limit" for f in self.flags):
                continue
            self.flags.append(Flag(code, text))
        benign = set(self.spec.benign_violations)
        own = [v for v in self.violations if v not in benign]
        if own:
            self.flags.append(Flag("sandbox_violation", "the submission tried what the sandbox forbids "
                                                        "(all refused): " + "; ".join(own[:12])))

    def _exit_reason(self) -> str:
        if self.kernel is None:
            return ""
        code = self.kernel.exit_code()
        if code is None:
            return ""
        if code < 0:
            try:
                return f" (signal {signal.Signals(-code).name})"
            except ValueError:
                return f" (signal {-code})"
        return f" (exit status {code})"

    def _setup_cells(self) -> list[dict]:
        """The instructor's code cells that the tester runs first: everything but the test cells."""
        src = nbformat.read(self.spec.source_path, as_version=4)
        cells = []
        for i, cell in enumerate(src.cells):
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader") or {}
            if meta.get("grade") and not meta.get("solution"):
                continue
            cells.append({"index": i, "src": cell.source, "solution": bool(meta.get("solution"))})
        return cells

    def fail_rest(self, start: int, why: str) -> None:
        tests = test_cells(self.nb, self.spec)
        for idx in tests:
            self.nb.cells[idx].outputs = [error_output("NotRun", why)]

    def close(self) -> None:
        if self.tester is not None:
            self.tester.close()
        if self.kernel is not None:
            self.kernel.close()
        if self._old_workdir is not None:
            self._drop_workdir(self._old_workdir)


