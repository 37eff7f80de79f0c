"""The modules that hold a notebook's reference answers, as the student kernel gets them.

The answer list (``answers.json`` beside the instructor's notebook, :func:`..notebook.answers.answers_for`)
names, for each exercise, the objects that answer it: ``dlnlp.reference.*`` and every other copy in the
package (``dlnlp.fast``), or a module handed out with the assignment. For each module that holds one,
the kernel gets a copy whose answer definitions are replaced by stand-ins
(:func:`..inside.withheld.stand_in`): ``dlnlp`` as a copy of the package placed first on the kernel's
path and the only one its sandbox may read, a handed-out module as the file in the kernel's folder.
An answer's source reaches the kernel only in :meth:`Withheld.reveal_messages`, once every test of its
exercise has run.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["Withheld", "withheld_for"]

STAND_IN = "__withheld_stand_in__"
_IMPORT = f"from autograder.grading.inside.withheld import stand_in as {STAND_IN}\n"


def rewrite(source: str, module: str, names: set[str]) -> tuple[str, dict[str, str]]:
    """``source`` with the top-level definitions ``names`` replaced by stand-ins, and each one's source."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found: dict[str, str] = {}
    spans = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            found[node.name] = "".join(lines[start - 1:node.end_lineno])
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            qual = f"{module}.{node.name}"
            spans.append((start, node.end_lineno, f"{node.name} = {STAND_IN}({qual!r}, {kind!r})\n"))
    for start, end, text in sorted(spans, reverse=True):
        lines[start - 1:end] = [text]
    first = 0
    for node in tree.body:                    # after the docstring and the __future__ imports
        if (isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
                and isinstance(node.value.value, str)) or (isinstance(node, ast.ImportFrom)
                                                           and node.module == "__future__"):
            first = node.end_lineno
            continue
        break
    return "".join(lines[:first] + [_IMPORT] + lines[first:]), found


class Withheld:
    """One notebook's withheld answers: the copies the kernel gets and the sources it gets later."""

    def __init__(self, answers: dict[str, list[str]], handed_out: Path | None):
        self.answers = {ex: list(q) for ex, q in answers.items() if q}
        self.by_module: dict[str, set[str]] = {}
        self.exercises_of: dict[str, set[str]] = {}          # qualified name -> exercises it answers
        for ex, quals in self.answers.items():
            for q in quals:
                mod, _, name = q.rpartition(".")
                self.by_module.setdefault(mod, set()).add(name)
                self.exercises_of.setdefault(q, set()).add(ex)
        self.handed_out = handed_out
        self.root: Path | None = None                        # the copy of dlnlp's parent folder
        self.files: dict[str, str] = {}                      # relative path in the kernel's folder -> text
        self.sources: dict[str, str] = {}                    # qualified name -> its definition
        self.missing: list[str] = []
        self._build()

    def _build(self) -> None:
        copies: dict[str, str] = {}
        for module, names in sorted(self.by_module.items()):
            path = self._source_file(module)
            if path is None:
                self.missing += [f"{module}.{n}" for n in sorted(names)]
                continue
            text, found = rewrite(path.read_text(encoding="utf-8"), module, names)
            self.missing += [f"{module}.{n}" for n in sorted(names - set(found))]
            for name, src in found.items():
                self.sources[f"{module}.{name}"] = src
            if module.split(".")[0] == "dlnlp":
                copies[module] = text
            else:
                self.files[module.replace(".", "/") + ".py"] = text
        if copies:
            self.root = _package_copy(copies)

    def _source_file(self, module: str) -> Path | None:
        if module.split(".")[0] == "dlnlp":
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                return None
            origin = getattr(spec, "origin", None)
            return Path(origin) if origin and origin.endswith(".py") else None
        if self.handed_out is None:
            return None
        path = self.handed_out / (module.replace(".", "/") + ".py")
        return path if path.is_file() and not path.is_symlink() else None

    def write_into(self, workdir: Path) -> None:
        """Replace the handed-out modules in the kernel's folder by their copies."""
        for rel, text in self.files.items():
            target = Path(workdir) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            target.write_text(text, encoding="utf-8")

    def reveal_messages(self, exercise: str, sealed: set[str]) -> list[dict]:
        """The definitions that may enter the kernel once ``exercise`` is sealed (``sealed``: every exercise
        sealed so far, this one included): those whose exercises are all sealed."""
        by_module: dict[str, list[str]] = {}
        for q in self.answers.get(exercise, []):
            if q in self.sources and self.exercises_of[q] <= sealed:
                by_module.setdefault(q.rpartition(".")[0], []).append(q.rpartition(".")[2])
        return [{"module": m, "names": names, "source": "\n\n".join(self.sources[f"{m}.{n}"] for n in names)}
                for m, names in sorted(by_module.items())]


def _package_copy(modules: dict[str, str]) -> Path:
    """A copy of the ``dlnlp`` package with ``modules`` (name -> text) rewritten, readable by every user;
    built once per content in this process's temporary folder."""
    spec = importlib.util.find_spec("dlnlp")
    src = Path(list(spec.submodule_search_locations)[0])
    digest = hashlib.sha256(repr(sorted(modules.items())).encode() + str(src).encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"ag-withheld-{os.getpid()}-{digest}"
    if (root / "dlnlp" / "__init__.py").exists():
        return root
    tmp = Path(tempfile.mkdtemp(prefix="ag-withheld-", dir=tempfile.gettempdir()))
    shutil.copytree(src, tmp / "dlnlp", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=False)
    for module, text in modules.items():
        rel = Path(*module.split(".")).with_suffix(".py")
        (tmp / rel).write_text(text, encoding="utf-8")
    for d, _, files in os.walk(tmp):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    try:
        os.rename(tmp, root)
    except OSError:                       # built meanwhile by another call
        shutil.rmtree(tmp, ignore_errors=True)
    return root


_CACHE: dict[tuple, Withheld] = {}


def withheld_for(answers: dict[str, list[str]], handed_out: Path | None) -> Withheld | None:
    """This process's :class:`Withheld` for an answer list (None when nothing is withheld)."""
    if not any(answers.values()):
        return None
    key = (repr(sorted((k, tuple(v)) for k, v in answers.items())), str(handed_out))
    if key not in _CACHE:
        _CACHE[key] = Withheld(answers, handed_out)
    return _CACHE[key]


def release_copies_of(pid: int) -> None:
    """Delete the package copies of grading process ``pid`` once it is gone."""
    for d in Path(tempfile.gettempdir()).glob(f"ag-withheld-{int(pid)}-*"):
        shutil.rmtree(d, ignore_errors=True)
