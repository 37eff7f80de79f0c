"""nbgrader configuration of the course.

Layout: ``solutions/`` is nbgrader's *source* folder (instructor notebooks with solutions and hidden
tests) and ``notebooks/`` its *release* folder (student notebooks). The gradebook lives in
``.nbgrader/`` at the repository root, which git ignores; ``NBGRADER_DB_URL`` selects another one
(e.g. ``postgresql://user@host/course``).
"""
import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

ROOT = Path(__file__).resolve().parent.parent

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.course_id = "dlnlp"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = os.environ.get(
    "NBGRADER_DB_URL", f"sqlite:///{ROOT / '.nbgrader' / 'gradebook.db'}")
if not os.environ.get("NBGRADER_DB_URL"):
    # SQLite creates the file but not its folder: a fresh clone has no .nbgrader/ yet, and stock
    # `nbgrader generate_assignment` would fail after deleting the release folder.
    (ROOT / ".nbgrader").mkdir(exist_ok=True)
# Data files and checkpoints beside a notebook are released with it; caches are not, nor the list of
# which reference objects answer which exercise (answers.json: the grader's course data).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*", "answers.json"]

# The timeout that counts under autograde/validate is Execute.timeout (seconds per cell).
# Grading mode shrinks every training cell, so a cell that needs longer than this is a defect.
c.Execute.timeout = 90
c.Execute.interrupt_on_timeout = True
# Once the last cell has answered, the kernel has nothing left to say: kill it rather than wait for it to
# exit, which now and then takes 3.4 s instead of 0.2 s (jupyter_client sends SIGTERM only after 2.5 s).
c.Execute.shutdown_kernel = "immediate"

# nbgrader scores a grade cell 0 when it wrote anything to stderr, so a warning or a progress bar
# would zero a correct answer. The course's tests fail by raising, never by printing: drop every
# stderr stream before the verdict is taken (errors are kept; they are outputs of their own kind).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"


def _exchange_set_elsewhere() -> bool:
    """Whether a system-wide or user nbgrader config (nbgrader's search path: ~/.jupyter,
    {sys.prefix}/etc/jupyter, /etc/jupyter, JUPYTER_CONFIG_DIR, JUPYTER_CONFIG_PATH) sets Exchange.root."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

    here = Path(__file__).resolve()
    for folder in jupyter_config_path():
        for loader in (PyFileConfigLoader, JSONFileConfigLoader):
            name = "nbgrader_config.py" if loader is PyFileConfigLoader else "nbgrader_config.json"
            path = Path(folder) / name
            if not path.is_file() or path.resolve() in (here, ROOT / "nbgrader_config.py"):
                continue
            try:
                cfg = loader(name, path=str(folder)).load_config()
            except Exception:
                continue
            if "Exchange" in cfg and "root" in cfg.Exchange:
                return True
    return False


# On JupyterHub the exchange is the system-wide one (the hub's /etc/jupyter/nbgrader_config.py): it is
# kept. Elsewhere there is no exchange: releases are handed out from notebooks/, and a folder inside the
# course keeps nbgrader's exchange commands and the Assignments tab working without one.
if not _exchange_set_elsewhere():
    c.Exchange.root = str(ROOT / ".nbgrader" / "exchange")
    # made here, as nbgrader makes it (every user may write, sticky), so that a fresh clone's
    # JupyterLab and nbgrader commands do not warn that it does not exist
    from autograder.course import ensure_exchange

    ensure_exchange(c.Exchange.root)

# The student version drops the test suite's nbval markers and names the kernel as JupyterLab does.
from autograder.release_filters import StudentView  # noqa: E402

c.GenerateAssignment.preprocessors.append(StudentView)

# Formgrader's Generate Feedback (stock `nbgrader generate_feedback`) writes the course's feedback page
# (no hidden tests, math as MathML, no scripts) and copies none of the grader's records into feedback/;
# formgrader's own views draw math as MathML, without MathJax from a CDN.
from autograder.formgrader import GRADER_RECORDS, CourseFeedbackExporter, MathToMathML  # noqa: E402

c.CourseDirectory.ignore = c.CourseDirectory.ignore + GRADER_RECORDS
c.GenerateFeedback.exporter_class = CourseFeedbackExporter
c.GenerateFeedback.preprocessors = []
c.HTMLExporter.preprocessors = [MathToMathML]
