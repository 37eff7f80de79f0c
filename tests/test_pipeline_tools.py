"""The pipeline's own checkers must be able to fail: each is shown a broken notebook and must object."""
from __future__ import annotations

import copy
from pathlib import Path

from autograder import pipeline
from autograder.course import exercises, read
from autograder.mutants import Mutant, run_mutants

SMOKE = Path(__file__).parent / "pipeline_fixtures" / "smoke" / "smoke.ipynb"


def _student_version(nb):
    """What nbgrader's stubbing does to the smoke notebook (solution replaced, hidden tests cut)."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if "### BEGIN SOLUTION" in cell.source:
            head = cell.source.split("### BEGIN SOLUTION")[0]
            cell.source = head + "# YOUR CODE HERE\n    raise NotImplementedError()"
        if "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0].rstrip()
    return out


def test_leak_check_passes_clean_student_notebook():
    nb = read(SMOKE)
    assert pipeline.leaks(nb, _student_version(nb)) == []


def test_leak_check_catches_solution_line():
    nb = read(SMOKE)
    leaked = _student_version(nb)
    leaked.cells[2].source += "\n    return x * 2"
    assert pipeline.leaks(nb, leaked) == ["return x * 2"]


def test_leak_check_catches_hidden_test_line():
    nb = read(SMOKE)
    leaked = _student_version(nb)
    leaked.cells[4].source += "\ncheck_close(double(torch.tensor([-1.0, 2.5])), [-2.0, 5.0], 'double')"
    assert pipeline.leaks(nb, leaked), "a hidden-test line in the student notebook must be reported"


def test_leak_check_catches_markers():
    nb = read(SMOKE)
    assert pipeline.leaks(nb, nb), "a student notebook that still has the markers must be reported"


def test_structure_check_objects():
    nb = read(SMOKE)
    problems = pipeline.structure_problems(nb)
    assert any("5 to 8" in p for p in problems)
    assert any("not 100" in p for p in problems)
    assert any("용어" in p for p in problems)
    unlocked = copy.deepcopy(nb)
    unlocked.cells[3].metadata["nbgrader"]["locked"] = False
    assert any("locked" in p for p in pipeline.structure_problems(unlocked))


def test_exercise_layout():
    exs = exercises(read(SMOKE))
    assert list(exs) == ["ex1"]
    assert exs["ex1"].points == 10 and exs["ex1"].test_indices == [3, 4]


def test_mutant_runner_tells_caught_from_missed():
    report = run_mutants("smoke", [
        Mutant("ex1_double", "squares instead of doubling", {"x * 2": "x ** 2"}),
        Mutant("ex1_double", "an equivalent rewrite is not a mutant", {"x * 2": "x + x"}),
        Mutant("ex1_double", "edit that does not apply", {"no such text": "x"}),
        Mutant("ex1_double", "edit that breaks the syntax", {"return x * 2": "return x *"}),
    ], path=SMOKE)
    assert report.baseline_failures == []
    squares, rewrite, broken, syntax = report.results
    assert squares.caught and squares.points_lost == 10
    assert not rewrite.caught and rewrite.points_lost == 0
    assert broken.error and not broken.caught
    assert "fails" in syntax.error


def test_notebooks_run_alone_keep_openmps_wait_policy(monkeypatch):
    # a notebook executed alone (execute, benchmark) runs as in a learner's JupyterLab: OpenMP threads
    # wait as they do by default; kernels that share the cores wait passively; a policy the user set wins
    from autograder.course import venv_env

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert "OMP_WAIT_POLICY" not in venv_env(shared_cores=False)
    assert venv_env()["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert venv_env()["OMP_WAIT_POLICY"] == "ACTIVE"
    assert venv_env(shared_cores=False)["OMP_WAIT_POLICY"] == "ACTIVE"


def test_execute_runs_a_notebook_as_a_learner_would(monkeypatch, tmp_path):
    import nbformat

    from autograder import execute as execute_mod

    seen = {}

    class Client:
        def __init__(self, nb, **kwargs):
            pass

        def execute(self, env):
            seen.update(env)

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(execute_mod, "NotebookClient", Client)
    path = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(path))
    execute_mod.execute(path, save=False)
    assert seen and "OMP_WAIT_POLICY" not in seen


def test_kernels_are_not_waited_for_after_the_last_cell(tmp_path):
    """execute (and so benchmark) kills the kernel once the last cell has answered: a kernel that will not
    exit on its own (here it ignores SIGTERM and sleeps at exit) costs no time; a graceful shutdown would
    wait 2.5 s, send SIGTERM, wait 2.5 s more and kill it. nbgrader runs with the same setting."""
    import nbformat
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.execute import execute

    code = "import atexit, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\natexit.register(time.sleep, 60)"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    path = tmp_path / "stubborn.ipynb"
    nbformat.write(nb, str(path))
    seconds, _ = execute(path, grading=True, save=False)
    assert seconds < 4.0, f"{seconds:.1f} s: the kernel was waited for"
    config = PyFileConfigLoader("nbgrader_config.py", path=str(Path(pipeline.__file__).parent)).load_config()
    assert config.Execute.shutdown_kernel == "immediate"
