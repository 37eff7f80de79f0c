"""``dlnlp-grade COMMAND ...``: the same as ``python -m autograder COMMAND ...`` (see ``docs/grading.md``)."""
from __future__ import annotations

import sys

from .__main__ import main

if __name__ == "__main__":
    sys.exit(main())
