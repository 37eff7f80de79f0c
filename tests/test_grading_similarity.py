"""Similarity of answers to the reference and between students (``autograder/grading/similarity.py``).

The threshold is a measured claim: on the course's own notebooks, no solution, released stub, mutant
or wrapper of the reference reaches it against the reference source, and the reference source pasted
into the cell does (all but at most one of the 45 exercises that have a reference answer). Between
students, a copy and a copy with one edit are reported with the pair and the score; an independent
correct answer and a short one are not. ``grade`` prints the pairs and keeps them in
``autograded/.similarity/<assignment>.json``.
"""
from __future__ import annotations

import statistics
import time

import nbformat
import pytest

from autograder.course import assignments, release_path, source_path
from autograder.grading.notebook import similarity as S
from autograder.grading.notebook.answers import answers_for
from autograder.mutants import load_mutants


def _measure():
    rows = {"solution": [], "stub": [], "mutant": [], "pasted": []}
    for name in assignments():
        sols = S.solution_cells(nbformat.read(str(source_path(name)), as_version=4))
        stubs = S.solution_cells(nbformat.read(str(release_path(name)), as_version=4)) \
            if release_path(name).exists() else {}
        mutants = load_mutants(name)
        for gid, quals in answers_for(source_path(name)).items():
            if not quals:
                continue
            ref = S.fingerprint(S.reference_source(quals))
            handed = S.handed_out(sols[gid])
            rows["solution"].append(S.score(S.fingerprint(sols[gid], handed), ref))
            if gid in stubs:
                rows["stub"].append(S.score(S.fingerprint(stubs[gid], handed), ref))
            for m in mutants:
                if m.exercise == gid:
                    rows["mutant"].append(S.score(S.fingerprint(m.apply(sols[gid]), handed), ref))
            pasted = handed + "\n" + S.reference_source(quals)
            rows["pasted"].append(S.score(S.fingerprint(pasted, handed), ref))
    return rows


def _flagged(scores, min_tokens=S.REFERENCE_MIN_TOKENS):
    return sum(1 for s, t in scores if s >= S.THRESHOLD and t >= min_tokens)


def test_threshold_separates_the_reference_from_the_course_answers():
    rows = _measure()
    for k, v in rows.items():
        print(f"{k}: n={len(v)} median={statistics.median(s for s, _ in v):.2f} "
              f"max={max(s for s, _ in v):.2f} flagged={_flagged(v)}")
    assert len(rows["solution"]) == 53          # every exercise with a reference answer, 09 and 10 ex8 included
    assert _flagged(rows["solution"]) == 0
    assert _flagged(rows["stub"]) == 0
    assert _flagged(rows["mutant"]) == 0
    # a pasted reference is flagged whenever it is long enough to tell from an answer written only one way
    long_pastes = [r for r in rows["pasted"] if r[1] >= S.REFERENCE_MIN_TOKENS]
    assert _flagged(long_pastes) == len(long_pastes) >= len(rows["pasted"]) - 3


def test_reference_matches_on_a_notebook():
    name = "08_transformer"
    nb = nbformat.read(str(source_path(name)), as_version=4)
    answers = {k: list(v) for k, v in answers_for(source_path(name)).items() if v}
    assert S.reference_matches(nb, answers) == []
    for cell in nb.cells:
        if (cell.metadata.get("nbgrader") or {}).get("grade_id") == "ex2_encoder_layer":
            cell.source = S.reference_source(answers["ex2_encoder_layer"])
    hits = S.reference_matches(nb, answers)
    assert [h[0] for h in hits] == ["ex2_encoder_layer"] and hits[0][1] >= S.THRESHOLD


ANSWER = '''def count_words(text):
    """Lower-cased word counts of text as {word: count}; words are separated by whitespace."""
    tally = {}
    for token in text.split():
        token = token.lower()
        if token in tally:
            tally[token] += 1
        else:
            tally[token] = 1
    return tally
'''
HANDED = '''def count_words(text):
    """Lower-cased word counts of text as {word: count}; words are separated by whitespace."""
'''
INDEPENDENT = '''def count_words(text):
    """Lower-cased word counts of text as {word: count}; words are separated by whitespace."""
    from collections import Counter
    return dict(Counter(w.lower() for w in text.split()))
'''


def test_batch_reports_copies_with_the_pair_and_the_score():
    answers = {
        "alice": {"ex4": ANSWER},
        "bob": {"ex4": ANSWER.replace("tally", "tally")},                       # a copy
        "carol": {"ex4": ANSWER.replace("tally[token] = 1", "tally[token] = 1  # first")},   # one edit
        "dave": {"ex4": INDEPENDENT},
        "erin": {"ex4": HANDED + "    return {}\n"},                            # short: never flagged
        "frank": {"ex4": HANDED + "    return {}\n"},
    }
    pairs = S.batch_matches(answers, {"ex4": HANDED})
    found = {tuple(p["students"]): p["score"] for p in pairs}
    assert set(found) == {("alice", "bob"), ("alice", "carol"), ("bob", "carol")}, pairs
    assert found[("alice", "bob")] == 1.0
    assert all(p["exercise"] == "ex4" and p["tokens"] >= S.MIN_TOKENS for p in pairs)


def test_batch_is_fast_enough_for_a_class():
    nb = nbformat.read(str(source_path("07_self_attention")), as_version=4)
    sols = S.solution_cells(nb)
    handed = {g: S.handed_out(s) for g, s in sols.items()}
    answers = {f"s{i:03d}": {g: s + f"\n# student {i}\n" for g, s in sols.items()} for i in range(60)}
    t0 = time.perf_counter()
    pairs = S.batch_matches(answers, handed)
    seconds = time.perf_counter() - t0
    print(f"{len(answers)} students x {len(sols)} exercises: {len(pairs)} pairs in {seconds:.1f} s")
    assert len(pairs) == len(sols) * 60 * 59 // 2            # all copies of one another
    assert seconds < 120


@pytest.mark.xdist_group("grading")
def test_grade_prints_and_keeps_the_pairs(tmp_path):
    import json

    from adversarial.cases import CORRECT, NOTEBOOK
    from adversarial.support import ASSIGNMENT, make_course

    from autograder.grading.batch.grading import grade_all, similarity_path
    from autograder.grading.model import Limits

    cfg = make_course(tmp_path / "course")
    released = tmp_path / "course" / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    for student, count_words in (("alice", ANSWER), ("bob", ANSWER), ("carol", INDEPENDENT)):
        nb = nbformat.read(str(released), as_version=4)
        for cell in nb.cells:
            gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
            if gid in CORRECT:
                cell.source = count_words if gid == "ex4_count_words" else CORRECT[gid]
        folder = tmp_path / "course" / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{NOTEBOOK}.ipynb"))
    log: list[str] = []
    import io

    bar = io.StringIO()
    summary = grade_all(cfg, workers=1, limits=Limits(cell_timeout=30, notebook_timeout=150, threads=1), log=log.append,
                        progress=bar)
    assert summary["graded"] == 3
    # the progress bar counts the calibration run, then every submission, with the time left
    shown = bar.getvalue()
    assert "calibrating: 0/1" in shown and "calibrating: 1/1" in shown, shown
    assert "grading: 4/4" in shown and "left" in shown, shown
    text = "\n".join(log)
    assert "REVIEW: similar answers to fx_ops ex4_count_words: alice and bob (2 students, 1 pair(s), " \
        "similarity up to 1.00)" in text, text
    assert sum("REVIEW: similar answers" in line for line in log) == len(summary["similar_clusters"])
    assert f"{len(summary['similar_clusters'])} group(s) of similar answers to review" in text, text
    assert "carol" not in "\n".join(line for line in log if "ex4_count_words" in line), text
    report = json.loads(similarity_path(cfg, ASSIGNMENT).read_text())
    ex4 = [p["students"] for p in report["pairs"] if p["exercise"] == "ex4_count_words"]
    assert ex4 == [["alice", "bob"]], report

    # regrading some students keeps the whole class's pairs; the export lists them for review
    summary = grade_all(cfg, students=["alice", "carol"], workers=1, force=True,
                        limits=Limits(cell_timeout=30, notebook_timeout=150, threads=1), log=log.append)
    assert summary["graded"] == 2
    assert json.loads(similarity_path(cfg, ASSIGNMENT).read_text())["pairs"] == report["pairs"]
    (tmp_path / "course" / "submitted" / ".collect.csv").write_text(
        "student,assignment,notebook,origin,layout,identified_by,timestamp,status,lms_user_id,notes\n"
        "dave,,,=HYPERLINK(\"http://x\"),,,,quarantined,,the notebook is 30 MiB\n")
    import csv

    from autograder.grading.batch.export import export_all

    export_log: list[str] = []
    paths = export_all(cfg, log=export_log.append)
    rows = list(csv.DictReader(paths["review"].open()))
    similar = [r for r in rows if r["reason"] == "similar_answers" and r["cell"] == "ex4_count_words"]
    assert [(r["student"], r["other_student"], r["group"]) for r in similar] == [("alice", "bob", "alice, bob")], rows
    assert all(r["similarity"] == "1.000" and r["assignment"] == ASSIGNMENT and r["notebook"] == NOTEBOOK
               and "similarity 1.00" in r["message"] for r in similar), similar
    assert not any("carol" in (r["student"], r["other_student"]) for r in similar)
    quarantined = [r for r in rows if r["reason"] == "quarantined"]
    assert [(r["student"], r["message"]) for r in quarantined] == \
        [("dave", "'=HYPERLINK(\"http://x\"): the notebook is 30 MiB")]
    assert (f"{len(report['clusters'])} group(s) of similar answers ({len(report['pairs'])} pair(s)), "
            "1 file(s) refused by collect") in "\n".join(export_log), export_log


_STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"


def _fill(released_cell: str, answer: str) -> str:
    """The released cell with each function's stub replaced by the body of that function in ``answer``."""
    bodies, current = [], None
    for line in answer.splitlines():
        if line.startswith("def "):
            current = []
            bodies.append(current)
        elif current is not None and (line.startswith("    ") or not line.strip()):
            current.append(line)
    for body in bodies:
        released_cell = released_cell.replace(_STUB, "\n".join(body).rstrip(), 1)
    assert _STUB not in released_cell
    return released_cell


def test_honest_short_answers_are_not_reported_as_the_reference():
    """Short answers written independently of the reference (``tests/fixtures/honest_answers.py``) stay
    below the reference check, however close they come; the note, where there is one, accuses nobody."""
    from fixtures.honest_answers import HONEST

    seen = []
    for (name, gid), variants in HONEST.items():
        stubs = S.solution_cells(nbformat.read(str(release_path(name)), as_version=4))
        nb = nbformat.read(str(release_path(name)), as_version=4)
        for answer in variants:
            for cell in nb.cells:
                if (cell.metadata.get("nbgrader") or {}).get("grade_id") == gid:
                    cell.source = _fill(stubs[gid], answer)
            seen.append(S.score(S.fingerprint(_fill(stubs[gid], answer), S.handed_out(stubs[gid])),
                                S.fingerprint(S.reference_source(answers_for(source_path(name))[gid]))))
            assert S.reference_matches(nb, {gid: list(answers_for(source_path(name))[gid])}) == [], (gid, answer)
    assert max(s for s, _ in seen) >= S.THRESHOLD       # as close as a paste: only the length tells them apart
    assert _flagged(seen, S.MIN_TOKENS) >= 1 and _flagged(seen) == 0
    nb = nbformat.read(str(source_path("08_transformer")), as_version=4)
    answers = {k: list(v) for k, v in answers_for(source_path("08_transformer")).items() if v}
    for cell in nb.cells:
        if (cell.metadata.get("nbgrader") or {}).get("grade_id") == "ex2_encoder_layer":
            cell.source = S.reference_source(answers["ex2_encoder_layer"])
    (_, _, message), = S.reference_matches(nb, answers)
    assert "costs no points" in message and "copied" not in message and "matches the source" not in message


def test_the_same_code_gives_the_same_result_in_every_process():
    """copydetect under Python's salted ``hash`` gave other fingerprints in each process; the similarity
    of the same two answers must not depend on ``PYTHONHASHSEED``."""
    import os
    import subprocess
    import sys

    probe = ("from autograder.grading.notebook import similarity as S\n"
             "src = S.reference_source(['dlnlp.reference.transformer.MultiHeadAttention'])\n"
             "a = S.fingerprint(src)\n"
             "b = S.fingerprint(src.replace('q', 'query'))\n"
             "print(S.score(b, a), len(a.hashes))\n")
    outs = set()
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                                check=True).stdout)
    assert len(outs) == 1, outs


def test_similar_answers_are_grouped():
    """Five students with one answer and two with another: two groups, one line each, every pair kept."""
    other = ANSWER.replace("tally", "counts").replace("token", "word")
    answers = {f"s{i}": {"ex4": ANSWER} for i in range(5)}
    answers.update({"x1": {"ex4": other}, "x2": {"ex4": other}, "dave": {"ex4": INDEPENDENT}})
    pairs = [dict(p, notebook="nb") for p in S.batch_matches(answers, {"ex4": HANDED})]
    groups = S.clusters(pairs)
    assert [g["students"] for g in groups] == [[f"s{i}" for i in range(5)], ["x1", "x2"]], groups
    assert [g["pairs"] for g in groups] == [10, 1] and sum(g["pairs"] for g in groups) == len(pairs)
