import os
import shutil

# Notebooks under tests/ are fixtures for the pipeline and the grader, not course notebooks to run.
collect_ignore_glob = ["**/*.ipynb"]

os.environ.setdefault("MPLBACKEND", "agg")

# The grader's default isolation is bubblewrap; Landlock is used only when asked for. Where bubblewrap is
# missing, the grading tests run at the Landlock level instead (GRADER_ISOLATION set here says so).
if not os.environ.get("GRADER_ISOLATION") and not shutil.which("bwrap"):
    os.environ["GRADER_ISOLATION"] = "landlock"
