"""The course's autograder: collect, grade (sandboxed, parallel, with verdicts a submission cannot
forge), feedback, export and a student's self-check. See ``docs/grading.md``."""
from .engine import ENGINE_VERSION, AssignmentSpec, NotebookSpec, grade_submission
from .sandbox import Limits

__all__ = ["ENGINE_VERSION", "AssignmentSpec", "NotebookSpec", "Limits", "grade_submission"]
