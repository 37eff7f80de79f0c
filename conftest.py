"""Keep each notebook's cells on one pytest-xdist worker (they share one kernel)."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.xdist_group(str(item.path)))


def pytest_configure(config):
    # Under pytest-xdist every worker runs its own kernels: one thread each keeps 2 workers from
    # fighting over 2 cores. Kernels inherit the variable.
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see autograder.course.venv_env
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
