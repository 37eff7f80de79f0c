"""``from dlnlp import selfgrade; selfgrade()``: grade the notebook you are working in, hidden tests included.

The call runs ``python -m autograder selfgrade`` (``autograder/grading/commands/selfgrade.py``) on the notebook's
saved file, in a process of its own, and prints what it prints: each test cell's name, points and
failure message, and the score, never the hidden tests' source. It needs the course repository
(``autograder/`` and ``solutions/``) around the notebook.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["selfgrade", "current_notebook"]


def current_notebook() -> Path | None:
    """The notebook this kernel runs for: the path Jupyter gives the kernel (``JPY_SESSION_NAME``,
    or VS Code's ``__vsc_ipynb_file__``), else the only notebook in the working folder."""
    candidates = [os.environ.get("JPY_SESSION_NAME")]
    try:
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            candidates += [ip.user_ns.get("__session__"), ip.user_ns.get("__vsc_ipynb_file__")]
    except ImportError:
        pass
    for c in candidates:
        if c and str(c).endswith(".ipynb"):
            p = Path(c)
            if not p.is_absolute():
                p = Path.cwd() / p.name if not p.exists() else p.resolve()
            if p.is_file():
                return p.resolve()
    found = sorted(Path.cwd().glob("*.ipynb"))
    return found[0].resolve() if len(found) == 1 else None


def _course_root(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        if (folder / "autograder" / "grading" / "commands" / "selfgrade.py").is_file():
            return folder
    return None


def selfgrade(path: str | os.PathLike | None = None, *args: str) -> None:
    """Grade ``path`` (default: this notebook, as last saved) with the hidden tests of ``solutions/``.
    Extra ``args`` go to ``python -m autograder selfgrade`` (e.g. ``"--cell-timeout", "120"``).
    Everything it has to say is printed; it returns nothing, so a notebook cell that ends with the
    call shows no ``Out`` value (the command's exit status is ``python -m autograder selfgrade``'s)."""
    _run(path, *args)


def _run(path: str | os.PathLike | None, *args: str) -> int:
    """:func:`selfgrade`, returning the command's exit status (2: no notebook or no course here)."""
    nb = Path(path).resolve() if path is not None else current_notebook()
    if nb is None:
        print("selfgrade: cannot tell which notebook this is; call selfgrade('path/to/notebook.ipynb')")
        return 2
    root = _course_root(nb.parent) or _course_root(Path(__file__).resolve().parent)
    if root is None:
        print("selfgrade: the course's grader (autograder/) is not here; self-grading needs the course "
              "repository, with its solutions/ folder")
        return 2
    env = dict(os.environ)
    for var in ("NBGRADER_EXECUTION", "JPY_SESSION_NAME", "MPLBACKEND"):
        env.pop(var, None)
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "selfgrade", str(nb), *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
    return proc.wait()
