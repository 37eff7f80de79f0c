"""Headline numbers of an experiment: printed for the reader, recorded for the benchmark table.

``report(accuracy=0.97)`` prints ``accuracy = 0.97``. When ``DLNLP_METRICS_FILE`` names a file (the
benchmark command sets it), each value is also appended there as one JSON line.
"""
from __future__ import annotations

import json
import os

__all__ = ["report"]


def report(**metrics: float) -> None:
    """Print and record named metrics (returns nothing, so a cell ending with it shows only the print)."""
    values = {k: float(v) for k, v in metrics.items()}
    for k, v in values.items():
        print(f"{k} = {v:.4g}")
    path = os.environ.get("DLNLP_METRICS_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            for k, v in values.items():
                f.write(json.dumps({"name": k, "value": v}) + "\n")
