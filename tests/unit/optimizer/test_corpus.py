"""Issue detection measured on the labelled corpus (tests/corpus/prompts.yaml).

The corpus has a tuning part (the detectors were developed against it) and a held-out part
written afterwards; both are reported, the held-out figure being the honest one.
Run with `-s` to see the figures.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from agents.optimizer.analysis import ISSUE_CODES, analyze_prompt

CORPUS = yaml.safe_load((Path(__file__).parents[2] / "corpus" / "prompts.yaml").read_text())


def _score(split: str) -> tuple[float, float, Counter]:
    tp = fp = fn = 0
    misses: Counter = Counter()
    for case in CORPUS:
        if case.get("split", "tuning") != split:
            continue
        found = analyze_prompt(case["prompt"], case.get("system"), tokens=False).issue_codes
        expected = set(case["issues"])
        tp += len(found & expected)
        fp += len(found - expected)
        fn += len(expected - found)
        misses.update(f"FP {c}" for c in found - expected)
        misses.update(f"FN {c}" for c in expected - found)
    return tp / (tp + fp), tp / (tp + fn), misses


def test_corpus_is_big_varied_and_labelled_with_known_codes():
    assert len(CORPUS) >= 50
    assert len({c["id"] for c in CORPUS}) == len(CORPUS)
    codes = Counter(code for c in CORPUS for code in c["issues"])
    assert set(codes) == set(ISSUE_CODES)  # every issue kind occurs at least once
    assert sum(not c["issues"] for c in CORPUS) >= 10  # and good prompts too


@pytest.mark.parametrize(("split", "floor"), [("tuning", 0.9), ("holdout", 0.8)])
def test_issue_detection_precision_and_recall(split, floor):
    precision, recall, misses = _score(split)
    print(f"\n{split}: precision {precision:.3f} recall {recall:.3f} misses {dict(misses)}")
    assert precision >= floor and recall >= floor


def test_every_issue_explains_itself_and_says_how_to_fix_it():
    for case in CORPUS:
        for issue in analyze_prompt(case["prompt"], case.get("system"), tokens=False).issues:
            assert len(issue.explanation) > 40 and len(issue.fix) > 30
            assert issue.severity in ("high", "medium", "low")
