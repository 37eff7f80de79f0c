"""Reference answers as the student kernel has them: stand-ins until their exercise's grade is sealed.

The grader hands the kernel a copy of every module that holds a reference answer of the notebook
(:mod:`..host.withheld`) in which each answer's definition is replaced by a stand-in made here. The
answer's source is not in the kernel's files at all, so no way of reading, importing or rebuilding it
(native reads included) finds it. Calling or instantiating a stand-in raises :class:`ReferenceWithheld`
and notes the attempt, which the kernel reports with its next answer (an early warning the grader
flags; the guarantee is the missing source, not this note).

Once every test of an exercise has run, the grader sends the answer's source (:func:`reveal`): it is
executed in its module, and the stand-in forwards to it from then on, so later cells and exercises that
build on the answer (a transformer made of the reference's attention) work as in one process.
"""
from __future__ import annotations

import sys

__all__ = ["ReferenceWithheld", "stand_in", "reveal", "take_attempts"]

_REVEALED: dict[str, object] = {}
_ATTEMPTS: list[str] = []


class ReferenceWithheld(RuntimeError):
    """Raised in the student kernel when a reference answer is used before its exercise is graded."""


def _refuse(qual: str):
    if qual not in _ATTEMPTS and len(_ATTEMPTS) < 50:
        _ATTEMPTS.append(qual)
    raise ReferenceWithheld(f"{qual} is a reference answer of an exercise not graded yet; it is not available "
                            "while that exercise is graded")


def take_attempts() -> list[str]:
    """The withheld answers the submission tried to use since the last call."""
    out = list(_ATTEMPTS)
    _ATTEMPTS.clear()
    return out


class _WithheldClass(type):
    """The metaclass of a withheld class's stand-in: instances come from the revealed class."""

    def __call__(cls, *args, **kwargs):
        real = _REVEALED.get(cls.__qualified__)
        if real is None or cls.__dict__.get("__qualified__") is None:
            _refuse(cls.__qualified__)
        return real(*args, **kwargs)

    def __instancecheck__(cls, obj):
        real = _REVEALED.get(cls.__qualified__)
        return real is not None and isinstance(obj, real)

    def __subclasscheck__(cls, sub):
        real = _REVEALED.get(cls.__qualified__)
        return real is not None and issubclass(sub, real)


def stand_in(qual: str, kind: str):
    """The stand-in of the reference answer ``qual`` (``kind``: ``class`` or ``function``)."""
    name = qual.rpartition(".")[2]
    if kind == "class":
        return _WithheldClass(name, (), {"__qualified__": qual, "__module__": qual.rpartition(".")[0]})

    def withheld(*args, **kwargs):
        real = _REVEALED.get(qual)
        if real is None:
            _refuse(qual)
        return real(*args, **kwargs)

    withheld.__name__ = withheld.__qualname__ = name
    withheld.__module__ = qual.rpartition(".")[0]
    return withheld


def reveal(module: str, names: list[str], source: str) -> None:
    """Execute ``source`` (the definitions of ``names``) in ``module``: the answers are available from now on."""
    import importlib

    mod = sys.modules.get(module) or importlib.import_module(module)
    code = compile(source, f"<revealed {module}>", "exec")
    exec(code, mod.__dict__)
    for name in names:
        if name in mod.__dict__:
            _REVEALED[f"{module}.{name}"] = mod.__dict__[name]
