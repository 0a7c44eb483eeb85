"""An event holding NUL anywhere is refused by the codec, for every consumer and sink at
once, with the field named (issue 12, item 2); text that only looks like one is kept."""

from __future__ import annotations

import json

import pytest

from topics.catalogue import ANALYSIS_READY, TRIAL_COMPLETED
from topics.codec import DecodeError, decode


@pytest.mark.parametrize("reason, where", [
    ("a\u0000b", "reason"),
    ("\\\u0000", "reason"),  # an escaped backslash, then a real NUL
])
def test_a_nul_anywhere_is_refused_naming_the_field(reason, where):
    raw = json.dumps({"experiment_id": "e", "reason": reason}).encode()
    with pytest.raises(DecodeError, match=f"{where} contains NUL"):
        decode(ANALYSIS_READY, raw)


def test_a_nul_deep_inside_is_named_by_its_path():
    raw = json.dumps({"trial": {"trial_id": "t", "experiment_id": "e", "variation": {
        "variation_id": "v", "name": "n"}, "test_case": {"id": "t0", "vars": {}},
        "model": {"id": "sim/small"}, "expected_trials": 1},
        "response": "ok", "prompt": "x\u0000"}).encode()
    with pytest.raises(DecodeError, match="prompt contains NUL"):
        decode(TRIAL_COMPLETED, raw)


def test_an_escaped_backslash_before_u0000_is_plain_text():
    raw = json.dumps({"experiment_id": "e", "reason": "see \\u0000 in the docs"}).encode()
    assert decode(ANALYSIS_READY, raw).reason == "see \\u0000 in the docs"
