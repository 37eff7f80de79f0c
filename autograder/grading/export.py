"""``python -m autograder export``: the gradebook as CSV, a per-exercise summary and a score plot.

Writes into ``--out`` (default ``<course>/exports/``):

``grades.csv``
    one row per student and assignment: score, max score, percent, submission time, late penalty,
    whether a notebook is flagged for review or needs manual grading;
``grades_wide.csv``
    one row per student, one column per assignment, and the course total;
``exercises.csv``
    per assignment and exercise (``ex1``, ``ex2`` ... from the cell ids): points, submissions, mean,
    median, min, max, and the share of students with full and with zero marks;
``score_distribution.png``
    a histogram of students' course totals (percent) and a box plot per assignment.

Everything is read from nbgrader's gradebook, so hand grades entered in the formgrader are included.
``nbgrader export`` keeps working on the same gradebook.
"""
from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
from pathlib import Path

from .gradebook import course_dir, load_config

__all__ = ["collect_rows", "export_all", "main"]


def _exercise(grade_id: str) -> str:
    m = re.match(r"^(ex\d+)_", grade_id or "")
    return m.group(1) if m else grade_id


def collect_rows(cfg) -> tuple[list[dict], list[dict]]:
    """(per submission rows, per grade-cell rows) from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    cd = course_dir(cfg)
    subs, cells = [], []
    with Gradebook(cd.db_url, cd.course_id) as gb:
        assignments = sorted(gb.assignments, key=lambda a: a.name)
        for student in sorted(gb.students, key=lambda s: s.id):
            for a in assignments:
                try:
                    sub = gb.find_submission(a.name, student.id)
                except MissingEntry:
                    subs.append({"student": student.id, "assignment": a.name, "submitted": False, "score": 0.0,
                                 "max_score": float(a.max_score), "timestamp": "", "late_penalty": 0.0,
                                 "flagged": False, "needs_manual_grade": False})
                    continue
                flagged = any(nb.flagged for nb in sub.notebooks)
                subs.append({"student": student.id, "assignment": a.name, "submitted": True,
                             "score": float(sub.score), "max_score": float(sub.max_score),
                             "timestamp": str(sub.timestamp or ""),
                             "late_penalty": float(sub.late_submission_penalty or 0.0),
                             "flagged": bool(flagged), "needs_manual_grade": bool(sub.needs_manual_grade)})
                for nb in sub.notebooks:
                    for g in nb.grades:
                        cells.append({"student": student.id, "assignment": a.name, "notebook": nb.name,
                                      "grade_id": g.name, "exercise": _exercise(g.name),
                                      "score": float(g.score or 0.0), "max_score": float(g.max_score or 0.0)})
    return subs, cells


def export_all(cfg, out: Path | None = None, log=print) -> dict[str, Path]:
    cd = course_dir(cfg)
    out = Path(out) if out else Path(cd.root) / "exports"
    out.mkdir(parents=True, exist_ok=True)
    subs, cells = collect_rows(cfg)
    paths = {}

    p = out / "grades.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "submitted", "score", "max_score", "percent", "timestamp",
                    "late_penalty", "flagged", "needs_manual_grade"])
        for r in subs:
            pct = 100 * r["score"] / r["max_score"] if r["max_score"] else 0.0
            w.writerow([r["student"], r["assignment"], int(r["submitted"]), f"{r['score']:g}", f"{r['max_score']:g}",
                        f"{pct:.1f}", r["timestamp"], f"{r['late_penalty']:g}", int(r["flagged"]),
                        int(r["needs_manual_grade"])])
    paths["grades"] = p

    assignments = sorted({r["assignment"] for r in subs})
    students = sorted({r["student"] for r in subs})
    table = {(r["student"], r["assignment"]): r for r in subs}
    p = out / "grades_wide.csv"
    totals = {}
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student"] + assignments + ["total", "max_total", "percent"])
        for s in students:
            row = [table[(s, a)]["score"] for a in assignments]
            mx = sum(table[(s, a)]["max_score"] for a in assignments)
            tot = sum(row)
            totals[s] = 100 * tot / mx if mx else 0.0
            w.writerow([s] + [f"{v:g}" for v in row] + [f"{tot:g}", f"{mx:g}", f"{totals[s]:.1f}"])
    paths["grades_wide"] = p

    # per exercise: each student's points summed over the exercise's test cells
    per_student: dict[tuple, float] = {}
    cell_max: dict[tuple, float] = {}
    for c in cells:
        key = (c["assignment"], c["exercise"], c["student"])
        per_student[key] = per_student.get(key, 0.0) + c["score"]
        cell_max[(c["assignment"], c["exercise"], c["grade_id"])] = c["max_score"]
    maxes: dict[tuple, float] = {}
    for (a, ex, _), m in cell_max.items():
        maxes[(a, ex)] = maxes.get((a, ex), 0.0) + m
    groups: dict[tuple, list[float]] = {}
    for (a, ex, _), v in per_student.items():
        groups.setdefault((a, ex), []).append(v)
    p = out / "exercises.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "exercise", "max_points", "submissions", "mean", "median", "min", "max",
                    "full_marks_pct", "zero_pct"])
        for (a, ex) in sorted(groups):
            vals = groups[(a, ex)]
            m = maxes[(a, ex)]
            w.writerow([a, ex, f"{m:g}", len(vals), f"{statistics.mean(vals):.2f}", f"{statistics.median(vals):.2f}",
                        f"{min(vals):g}", f"{max(vals):g}",
                        f"{100 * sum(v >= m for v in vals) / len(vals):.1f}",
                        f"{100 * sum(v == 0 for v in vals) / len(vals):.1f}"])
    paths["exercises"] = p

    p = out / "score_distribution.png"
    _plot(totals, subs, assignments, p)
    paths["plot"] = p
    log(f"exported {len(students)} student(s) x {len(assignments)} assignment(s) to {out}")
    return paths


def _plot(totals: dict[str, float], subs: list[dict], assignments: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    vals = list(totals.values())
    axes[0].hist(vals, bins=[i * 5 for i in range(21)], color="#4C72B0", edgecolor="white")
    axes[0].set_xlabel("course total (%)")
    axes[0].set_ylabel("students")
    if vals:
        axes[0].set_title(f"{len(vals)} students: median {statistics.median(vals):.1f}%")
    data = [[100 * r["score"] / r["max_score"] for r in subs if r["assignment"] == a and r["max_score"]]
            for a in assignments]
    if assignments:
        axes[1].boxplot(data, showmeans=True)
        axes[1].set_xticks(range(1, len(assignments) + 1))
        axes[1].set_xticklabels(assignments, rotation=45, ha="right", fontsize=8)
    axes[1].set_ylabel("score (%)")
    axes[1].set_title("per assignment")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None, help="output folder (default: <course>/exports)")
    p.add_argument("--root", default=None)
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    export_all(load_config(args.root, args.db), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
