"""Bytes on the wire <-> typed events, and the dead-letter record for what does not parse."""

from __future__ import annotations

import base64

from pydantic import ValidationError

from schemas.events import DeadLetter, Event
from topics.catalogue import Topic


class DecodeError(ValueError):
    """The raw value is not a valid event for its topic; str(err) is the reason."""


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


def decode(topic: Topic, raw: bytes | str | None) -> Event:
    if raw is None:
        raise DecodeError("empty value (tombstone) where an event was expected")
    try:
        return topic.event.model_validate_json(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in err.errors()[:5]
        )
        raise DecodeError(f"invalid {topic.event.__name__}: {problems}") from None


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
    data = raw.encode() if isinstance(raw, str) else (raw or b"")
    key_text = key.decode(errors="replace") if isinstance(key, bytes) else key
    return DeadLetter(
        source_topic=topic.name,
        partition=partition,
        offset=offset,
        key=key_text,
        raw_value=data.decode(errors="replace"),
        raw_value_b64=base64.b64encode(data).decode(),
        reason=reason[:2000],
        agent=agent,
    )
