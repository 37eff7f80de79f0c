"""The course's grading and publishing tools: release student notebooks from the solutions, check
that tests tell right from wrong (mutants), benchmark the notebooks, and grade a class."""
