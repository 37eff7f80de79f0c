"""dlnlp: the helper package of the course *Deep learning for NLP, from backprop to GPT*.

What every notebook needs lives here so that later notebooks import it instead of copying it:

- :mod:`dlnlp.runtime`: device choice (cuda, mps, cpu), seeding, the grading-mode switch;
- :mod:`dlnlp.checks`: friendly checks used by visible tests;
- :mod:`dlnlp.train`: a small training loop with a tqdm progress bar;
- :mod:`dlnlp.plot`: loss curves, heatmaps, decision boundaries;
- :func:`dlnlp.report`: headline numbers, printed and recorded for the benchmark;
- :mod:`dlnlp.data`: the course's data sets, generated or shipped (no downloads);
- :mod:`dlnlp.reference`: reference implementations that tests build fixtures from.
"""
from .report import report
from .runtime import get_device, is_grading, pick, seed_everything, undrawn_figures_while_grading
from .selfgrade import selfgrade  # grade this notebook with the hidden tests of solutions/

undrawn_figures_while_grading()

__all__ = ["GRADING", "get_device", "is_grading", "pick", "report", "seed_everything", "selfgrade"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "GRADING":       # read at each import (see dlnlp.runtime)
        return is_grading()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
