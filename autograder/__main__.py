"""``python -m autograder COMMAND ...``: the course's tools. ``python -m autograder`` lists them."""
from __future__ import annotations

import importlib
import os
import sys

COMMANDS = {
    "release": ("autograder.release", "regenerate notebooks/ from solutions/"),
    "execute": ("autograder.execute", "run a solution notebook and store its outputs"),
    "mutants": ("autograder.mutants_cli", "check that every exercise's tests catch its mutants"),
    "benchmark": ("autograder.benchmark", "time every solution notebook and collect its metrics"),
    "collect": ("autograder.grading.commands.collect",
                "gather submissions from a folder or an LMS zip into submitted/"),
    "grade": ("autograder.grading.commands.grade", "grade all submissions: sandboxed, parallel, resumable"),
    "feedback": ("autograder.grading.commands.feedback", "HTML feedback per student, without hidden tests"),
    "export": ("autograder.grading.commands.export",
               "grades (late penalties applied), Canvas/Moodle grade files, summary, plot"),
    "roster": ("autograder.grading.commands.roster", "import the class list (CSV) into the gradebook"),
    "check": ("autograder.grading.commands.check", "check a notebook before submitting it (for students)"),
    "selfgrade": ("autograder.grading.commands.selfgrade",
                  "grade your own notebook with the hidden tests of solutions/"),
    "grade-bench": ("autograder.grading.commands.bench", "measure grading throughput and the speed-up of workers"),
    "grade-fidelity": ("autograder.grading.commands.fidelity",
                       "sealed grading agrees with the tests: solution, blank, mutants"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # nbgrader starts `alembic` and kernels by name: this interpreter's bin goes first on PATH, so the
    # commands work without an activated virtual environment.
    bin_dir = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print("usage: python -m autograder COMMAND [ARGS]\n\ncommands:")
        for name, (_, doc) in COMMANDS.items():
            print(f"  {name:<14} {doc}")
        return 0 if not argv or argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
