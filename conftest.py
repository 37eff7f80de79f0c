"""Keep each notebook's cells on one pytest-xdist worker (they share one kernel)."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.xdist_group(str(item.path)))
