"""Settings for every test run (the course tests and nbval's execution of the notebooks).

Under pytest-xdist, ``--dist loadfile`` (pyproject.toml) keeps each notebook's cells on one worker:
they share one kernel.
"""


def pytest_configure(config):
    # Under pytest-xdist every worker runs its own kernels: one thread each keeps 2 workers from
    # fighting over 2 cores. Kernels inherit the variable.
    import os
    import sys

    # As in an activated virtual environment: nbgrader starts `alembic` and kernels by name.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see autograder.course.venv_env
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
