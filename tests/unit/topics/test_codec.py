"""Every produce is size-checked; dead-letter records always fit."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from schemas.events import ExperimentControl
from topics.catalogue import MAX_EVENT_BYTES, PROMPT_SUBMITTED
from topics.codec import DEAD_LETTER_RAW_BYTES, EventTooLarge, dead_letter, encode


@pytest.mark.parametrize("raw", [
    json.dumps({"experiment_id": "x", "spec": {"prompt": "p" * 900_000}}).encode(),
    b"\x00" * 900_000,  # JSON escapes each as \u0000: six bytes
    "é".encode() * 450_000,
    bytes(range(256)) * 4000,
])
def test_regression_a_900_kb_event_gets_a_dead_letter_record_that_fits(raw):
    """A 900 KB prompt-submitted vanished: its record (raw text + base64) was 2-3.7x the
    event, over the producer's limit, and the agent crashed past it."""
    record = dead_letter(PROMPT_SUBMITTED, raw, "too long", partition=3, offset=9, key=b"x")
    size = len(encode(record))  # raises EventTooLarge if it does not fit
    assert size < MAX_EVENT_BYTES / 2
    assert record.raw_size == len(raw) and record.raw_truncated
    assert record.raw_sha256 == hashlib.sha256(raw).hexdigest()


def test_a_small_text_value_is_kept_whole_and_binary_is_kept_exactly():
    text = dead_letter(PROMPT_SUBMITTED, b'{"bad": 1}', "r")
    assert text.raw_value == '{"bad": 1}' and not text.raw_truncated and text.raw_value_b64 == ""
    blob = dead_letter(PROMPT_SUBMITTED, b"\xff\xfe\x00", "r")
    assert base64.b64decode(blob.raw_value_b64) == b"\xff\xfe\x00"
    cut = dead_letter(PROMPT_SUBMITTED, "é".encode() * DEAD_LETTER_RAW_BYTES, "r")
    assert cut.raw_value_b64 == ""  # a cut through one character is still text


def test_encode_refuses_an_event_over_the_limit_with_a_clear_error():
    event = ExperimentControl(experiment_id="e", command="stop", reason="x" * 2000)
    with pytest.raises(EventTooLarge, match=r"ExperimentControl is \d+ bytes encoded, over "
                                            r"the 1000-byte limit"):
        encode(event, limit=1000)
