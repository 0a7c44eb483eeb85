"""What is checked in an experiment file before any call, and how problems are told.

Every mapping is checked against the keys it may have: an unknown key is an error naming
it and the key it most likely meant (difflib's ratio over the keys of that level);
promptfoo keys that promptopt does not act on are either ignored with a warning (they only
affect promptfoo's own UI or sharing) or refused saying so.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class ExperimentFileError(ValueError):
    """The file is not a valid experiment; str(err) says where and why."""


@dataclass
class Notes:
    """Warnings gathered while reading a file: things ignored, defaults chosen."""

    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


def suggestion(key: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean `{match[0]}`?)" if match else ""


def check_keys(mapping: Mapping[str, Any], where: str, *, supported: Iterable[str],
               ignored: Mapping[str, str] | None = None,
               refused: Mapping[str, str] | None = None, notes: Notes | None = None) -> None:
    """supported: keys acted on; ignored: key -> why it has no effect here (a warning);
    refused: key -> why it cannot be honoured (an error)."""
    supported = set(supported)
    ignored = dict(ignored or {})
    refused = dict(refused or {})
    for key in mapping:
        if not isinstance(key, str):
            raise ExperimentFileError(f"{where}: keys must be strings, not {key!r}")
        if key in supported:
            continue
        if key in refused:
            raise ExperimentFileError(f"{where}.{key}: not supported: {refused[key]}")
        if key in ignored:
            if notes is not None:
                notes.warn(f"{where}.{key} is ignored: {ignored[key]}")
            continue
        hint = suggestion(key, supported | set(ignored) | set(refused))
        raise ExperimentFileError(f"{where}: unknown key `{key}`{hint}")


def expect_mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ExperimentFileError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def expect_list(value: Any, where: str) -> list[Any]:
    if isinstance(value, (str, dict)):
        return [value]
    if not isinstance(value, list):
        raise ExperimentFileError(f"{where}: expected a list, got {type(value).__name__}")
    return value
