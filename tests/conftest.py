import os

# Notebooks under tests/ are fixtures for the pipeline and the grader, not course notebooks to run.
collect_ignore_glob = ["**/*.ipynb"]

os.environ.setdefault("MPLBACKEND", "agg")
