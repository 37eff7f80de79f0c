"""Time every solution notebook in normal and in grading mode and collect the metrics it reports.

``python -m autograder benchmark [NAME ...] [--out benchmarks/latest.md]`` executes each notebook in
a fresh process (so that peak memory is per notebook), twice: normally and with
``NBGRADER_EXECUTION=autograde``. Notebooks report their headline numbers with ``dlnlp.report``;
those of the normal run go into the table. The table starts with the machine it ran on. Each notebook
runs alone, in the environment of a learner's JupyterLab (OpenMP's default wait policy; see
``autograder.course.venv_env``): measure on an idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from .course import ROOT, assignments, source_path, venv_env


def _run(path: Path, grading: bool) -> tuple[float, float, dict[str, float], str]:
    with tempfile.TemporaryDirectory() as tmp:
        metrics_file = Path(tmp) / "metrics.jsonl"
        cmd = [sys.executable, "-m", "autograder", "execute", str(path), "--no-save"]
        if grading:
            cmd.append("--grading")
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              env=venv_env(shared_cores=False, DLNLP_METRICS_FILE=str(metrics_file)))
        metrics = {}
        if metrics_file.exists():
            for line in metrics_file.read_text().splitlines():
                rec = json.loads(line)
                metrics[rec["name"]] = rec["value"]
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        return float("nan"), float("nan"), metrics, "FAILED: " + " | ".join(tail)
    seconds = float(re.search(r": ([\d.]+) s \(", proc.stdout).group(1))
    peak = float(re.search(r"peak kernel memory: (\d+) MiB", proc.stdout).group(1))
    return seconds, peak, metrics, ""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="assignments (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "latest.md")
    args = parser.parse_args(argv)
    rows, total_normal, total_grading, failed = [], 0.0, 0.0, False
    for name in args.names or assignments():
        normal, peak, metrics, err_n = _run(source_path(name), grading=False)
        grading, _, _, err_g = _run(source_path(name), grading=True)
        failed |= bool(err_n or err_g)
        total_normal += normal
        total_grading += grading
        shown = ", ".join(f"{k} = {v:.4g}" for k, v in metrics.items())
        rows.append(f"| {name} | {normal:.1f} | {grading:.1f} | {peak:.0f} | {shown} {err_n} {err_g}".rstrip() + " |")
        print(rows[-1], flush=True)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.",
        "",
        "| notebook | normal run (s) | grading mode (s) | peak memory (MiB) | metrics (normal run) |",
        "|---|---:|---:|---:|---|",
        *rows,
        f"| **total** | **{total_normal:.1f}** | **{total_grading:.1f}** | | |",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if failed else 0
