"""What the student version of a notebook leaves out, as an nbgrader preprocessor.

``generate_assignment`` runs :class:`StudentView` after its own preprocessors (the course's
``nbgrader_config.py`` adds it), so stock ``nbgrader generate_assignment`` and
``python -m autograder release`` write the same student notebook:

- the ``# NBVAL_CHECK_OUTPUT`` marker line that tells nbval which solution outputs to compare is an
  instruction to the test suite, not to the learner, and is dropped from cells that are not graded
  (graded cells keep their source byte for byte: nbgrader checksums them);
- the kernel is named the way JupyterLab names the ipykernel kernel it starts, so opening a fresh
  notebook does not mark it modified;
- nothing of the solution run is left: no outputs or execution counts, no widget state (the progress
  bars' ``widgets`` metadata) and no per-cell execution timings.
"""
from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

MARKER = "# NBVAL_CHECK_OUTPUT"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def without_marker(source: str) -> str:
    """``source`` without its leading ``# NBVAL_CHECK_OUTPUT`` line (unchanged when it has none)."""
    first, _, rest = source.partition("\n")
    return rest if first.strip() == MARKER else source


class StudentView(Preprocessor):
    """Drop test-suite markers from ungraded cells, name the kernel as JupyterLab does, and drop what
    the solution run left (outputs, widget state, execution timings)."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and not (meta.get("grade") or meta.get("solution") or meta.get("locked")):
                cell.source = without_marker(cell.source)
        return nb, resources
