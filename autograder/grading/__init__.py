"""The course's autograder: collect, grade (sandboxed, parallel, with verdicts a submission cannot
forge), feedback, export and a student's self-check. See ``docs/grading.md``.

Layout, by where the code runs (imports go downward only)::

    commands/   argument parsing and printing of each ``python -m autograder`` command
    batch/      many submissions: the worker pool, calibration, gradebook, collect, export, feedback
    engine.py   one submission: find, read, sanitize, run, score
    host/       the trusted side's processes: isolation, control groups, kernels, the tester
    inside/     what runs in the student's kernel and its sandbox (imports nothing of host/)
    notebook/   pure notebook work: read, sanitize, score, answers, similarity
    channel/    both ends of the link between the tester and the student kernel
    model.py    specs, limits, isolation levels, flags
"""
