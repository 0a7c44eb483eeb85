"""Bytes on the wire <-> typed events, and the dead-letter record for what does not parse.

Every produce goes through `encode`, which refuses an event larger than the topic takes
(`EventTooLarge`, a clear error) instead of letting the producer fail later inside a
worker. A dead-letter record keeps at most DEAD_LETTER_RAW_BYTES of the raw value, so
it always fits however large the event it describes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from typing import TypeVar

from pydantic import ValidationError

from schemas.bounds import unstorable_path
from schemas.events import DeadLetter, Event
from topics.catalogue import MAX_EVENT_BYTES, Topic

# Raw bytes kept in a dead-letter record. JSON may escape each byte of text as six
# (\u0000), so the record stays far below MAX_EVENT_BYTES whatever the bytes are.
DEAD_LETTER_RAW_BYTES = 32 * 1024
REASON_CHARS = 2000


EventT = TypeVar("EventT", bound=Event)


class DecodeError(ValueError):
    """The raw value is not a valid event for its topic; str(err) is the reason."""


class EventTooLarge(ValueError):
    """An encoded event is larger than a topic accepts (no retry can help: the API answers
    413, a worker dead-letters the event that made it); str(err) says by how much."""

    def __init__(self, size: int, limit: int, what: str = "the event") -> None:
        super().__init__(f"{what} is {size} bytes encoded, over the {limit}-byte limit of "
                         "a topic event")
        self.size = size
        self.limit = limit


def encode(event: Event, limit: int | None = MAX_EVENT_BYTES) -> bytes:
    """The event as JSON bytes; raises EventTooLarge over `limit` (None: no check)."""
    data = event.model_dump_json().encode()
    if limit is not None and len(data) > limit:
        raise EventTooLarge(len(data), limit, type(event).__name__)
    return data


# A JSON \u0000 escape (not an escaped backslash followed by "u0000"). PostgreSQL can
# store no NUL in text or jsonb, so an event holding one anywhere is refused here, once,
# for every consumer and sink, instead of failing a sink's batch later (the sinks'
# classification of data errors is the backstop for whatever else the database refuses).
NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Bytes without it need no NUL check (a quick test before the regular expression).
NUL_MARK = b"\\u0000"


def decode(topic: Topic[EventT], raw: bytes | str | None) -> EventT:
    if raw is None:
        raise DecodeError("empty value (tombstone) where an event was expected")
    data = raw.encode(errors="surrogateescape") if isinstance(raw, str) else raw
    # A dead-letter record quotes the raw bytes it describes, NULs and all.
    if topic.event is not DeadLetter and NUL_MARK in data and NUL_ESCAPE.search(data):
        raise DecodeError(f"invalid {topic.event.__name__}: {_nul_path(data)} contains NUL "
                          "(\\u0000), which cannot be stored")
    try:
        return topic.event.model_validate_json(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in err.errors()[:5]
        )
        raise DecodeError(f"invalid {topic.event.__name__}: {problems}") from None


def _nul_path(data: bytes) -> str:
    try:
        return unstorable_path(json.loads(data)) or "<root>"
    except (ValueError, RecursionError):
        return "<root>"


def dead_letter(
    topic: Topic,
    raw: bytes | str | None,
    reason: str,
    *,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | str | None = None,
    agent: str = "",
) -> DeadLetter:
    data = raw.encode(errors="surrogateescape") if isinstance(raw, str) else (raw or b"")
    kept = data[:DEAD_LETTER_RAW_BYTES]
    try:
        kept.decode()
        exact_b64 = ""
    except UnicodeDecodeError as err:
        # A cut through a multi-byte character is still text; anything else is binary.
        exact_b64 = "" if err.start >= len(kept) - 3 and err.reason == "unexpected end of data" \
            else base64.b64encode(kept).decode()
    key_text = key.decode(errors="replace") if isinstance(key, bytes) else key
    return DeadLetter(
        source_topic=topic.name,
        partition=partition,
        offset=offset,
        key=key_text[:1000] if key_text is not None else None,
        raw_value=kept.decode(errors="replace"),
        raw_value_b64=exact_b64,
        raw_size=len(data),
        raw_sha256=hashlib.sha256(data).hexdigest(),
        raw_truncated=len(kept) < len(data),
        reason=reason[:REASON_CHARS],
        agent=agent,
    )
