"""Bounds every stored text and free-form value obeys, declared once for the schemas.

PostgreSQL's text and jsonb cannot hold NUL (U+0000), and no UTF-8 codec can write a lone
surrogate (U+D800..U+DFFF, which JSON's \\ud800 escapes can smuggle in): such a value
accepted by the API would fail in a sink long after the caller was told 202. So they are
refused at validation, with the field named; so are free-form values (test case vars,
assertion values) nested deeper or larger than any real experiment needs, which would
otherwise break serialisers further down the line.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

# /optimize, /analyze, /predict, patterns and the optimizer share these.
PROMPT_MIN_CHARS, PROMPT_MAX_CHARS = 10, 10_000
MAX_JSON_DEPTH = 32
MAX_JSON_ITEMS = 10_000  # containers' entries, all levels together, in one free-form value
MAX_JSON_STRING_CHARS = 100_000  # one string inside a free-form value

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    found = UNSTORABLE.search(text)
    if found is not None:
        what = "NUL (\\u0000)" if found.group() == "\x00" else \
            f"a lone surrogate (\\u{ord(found.group()):04x})"
        raise ValueError(f"contains {what} at character {found.start()}, which cannot be "
                         "stored")
    return text


def prompt_text(text: str) -> str:
    n = len(text.strip())
    if n < PROMPT_MIN_CHARS:
        raise ValueError(f"prompt too short: {n} characters (minimum {PROMPT_MIN_CHARS})")
    return text


def bounded_json(value: Any) -> Any:
    """A free-form JSON value: storable strings (keys too), at most MAX_JSON_DEPTH deep and
    MAX_JSON_ITEMS entries; the error names the path inside the value."""
    items = 0
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            _storable_at(node, path)
            if len(node) > MAX_JSON_STRING_CHARS:
                raise ValueError(f"{path or 'value'}: {len(node)} characters, over "
                                 f"{MAX_JSON_STRING_CHARS}")
            continue
        if isinstance(node, float) and not math.isfinite(node):
            raise ValueError(f"{path or 'value'}: NaN and Infinity are not JSON numbers")
        if not isinstance(node, dict | list | tuple):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"{path or 'value'}: nested deeper than {MAX_JSON_DEPTH} levels")
        items += len(node)
        if items > MAX_JSON_ITEMS:
            raise ValueError(f"more than {MAX_JSON_ITEMS} entries in one value")
        entries = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in entries:
            if isinstance(key, str):
                _storable_at(key, f"{path}.{key}".lstrip(".") + " (key)")
            stack.append((child, f"{path}.{key}".lstrip("."), depth + 1))
    return value


def unstorable_path(value: Any) -> str | None:
    """The dotted path of the first string (or key) in a parsed JSON value that holds an
    unstorable character; None if there is none. For naming the field in a refusal."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if UNSTORABLE.search(node):
                return path or "<root>"
        elif isinstance(node, dict | list):
            entries = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in entries:
                where = f"{path}.{key}".lstrip(".")
                if isinstance(key, str) and UNSTORABLE.search(key):
                    return where
                stack.append((child, where))
    return None


def _storable_at(text: str, path: str) -> None:
    try:
        storable(text)
    except ValueError as err:
        raise ValueError(f"{path}: {err}" if path else str(err)) from None


STORABLE = AfterValidator(storable)

Prompt = Annotated[str, Field(max_length=PROMPT_MAX_CHARS), STORABLE, AfterValidator(prompt_text)]
Name = Annotated[str, Field(min_length=1, max_length=200), STORABLE]
ShortText = Annotated[str, Field(min_length=1, max_length=100), STORABLE]  # domains, labels
LongText = Annotated[str, Field(max_length=10_000), STORABLE]  # system prompts, expected
# A rewrite may add to the submitted prompt (examples, format rules): room beyond it.
VariationText = Annotated[str, Field(max_length=50_000), STORABLE]
Url = Annotated[str, Field(min_length=1, max_length=500), STORABLE]
# Ids chosen by clients (experiments, variations): printable, no separators that paths,
# keys or logs would misread. Test case ids may be promptfoo descriptions: Name.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+=-]*$"
Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=ID_PATTERN)]
# litellm model ids: openai/gpt-4o-mini, ollama/llama3:8b, bedrock/anthropic.claude-v2:1 ...
ModelId = Annotated[str, Field(min_length=1, max_length=200,
                               pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]*$")]
FreeJson = Annotated[Any, AfterValidator(bounded_json)]
JsonObject = Annotated[dict[str, Any], AfterValidator(bounded_json)]
