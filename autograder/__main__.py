"""``python -m autograder COMMAND ...``: the course's tools. ``python -m autograder`` lists them."""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "release": ("autograder.release", "regenerate notebooks/ from solutions/"),
    "execute": ("autograder.execute", "run a solution notebook and store its outputs"),
    "mutants": ("autograder.mutants_cli", "check that every exercise's tests catch its mutants"),
    "benchmark": ("autograder.benchmark", "time every solution notebook and collect its metrics"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print("usage: python -m autograder COMMAND [ARGS]\n\ncommands:")
        for name, (_, doc) in COMMANDS.items():
            print(f"  {name:<10} {doc}")
        return 0 if not argv or argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
