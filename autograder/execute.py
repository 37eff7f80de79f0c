"""Execute a solution notebook top to bottom and store its outputs in place.

``python -m autograder execute solutions/NN_slug/NN_slug.ipynb [--grading]`` runs the notebook with
nbclient in its own folder (``--grading`` sets ``NBGRADER_EXECUTION=autograde``, without saving) and
prints the wall time. Use it after editing a solution notebook, then ``python -m autograder release``.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .course import venv_env


def execute(path: Path, grading: bool = False, timeout: int = 600, save: bool = True,
            extra_env: dict[str, str] | None = None) -> tuple[float, object]:
    """Run the notebook at ``path``; return (seconds, executed notebook). Raises on a cell error."""
    nb = nbformat.read(str(path), as_version=4)
    # alone on the machine, as in a learner's JupyterLab (see venv_env)
    env = venv_env(shared_cores=False, MPLBACKEND="module://matplotlib_inline.backend_inline",
                   **(extra_env or {}))
    if grading:
        env["NBGRADER_EXECUTION"] = "autograde"
    # "immediate": the kernel is killed once the last cell has answered; a graceful shutdown waits for it to
    # exit, which now and then takes 3.4 s instead of 0.2 s (jupyter_client sends SIGTERM after 2.5 s)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env=env)
    seconds = time.perf_counter() - start
    if save and not grading:
        nbformat.write(nb, str(path))
    return seconds, nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder execute", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--grading", action="store_true", help="run in grading mode; do not save")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    for path in args.paths:
        seconds, _ = execute(path, grading=args.grading, save=not args.no_save)
        print(f"{path}: {seconds:.1f} s ({'grading' if args.grading else 'normal'} mode)")
    # the kernels were this process's children: the largest resident set any of them reached
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak kernel memory: {peak_mib:.0f} MiB")
    return 0
