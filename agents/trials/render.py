"""Filling a prompt template's {{variables}} from a test case (simple substitution, no Jinja:
prompts are user data, and a template language would let them run code or loop)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")


class MissingVariable(KeyError):
    """The template names variables the test case does not define."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(names)
        self.names = names

    def __str__(self) -> str:
        return f"missing template variable(s): {', '.join(self.names)}"


def variables(template: str) -> list[str]:
    return sorted(set(_VARIABLE.findall(template)))


def render(template: str, values: Mapping[str, Any]) -> str:
    missing = [name for name in variables(template) if name not in values]
    if missing:
        raise MissingVariable(missing)
    return _VARIABLE.sub(lambda m: _text(values[m.group(1)]), template)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
