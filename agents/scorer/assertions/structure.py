"""JSON assertions, with promptfoo's semantics: is-json (the whole output parses; a value
is a JSON Schema it must satisfy), contains-json (some JSON object or array inside the
text does), and promptopt's json-schema (is-json with a required schema, a ```json fence
allowed)."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jsonschema
import yaml

from agents.scorer.assertions.result import Check
from agents.scorer.assertions.text import BadAssertion
from schemas.experiment import Assertion

_INVALID = object()
_DECODER = json.JSONDecoder()


def is_json(value: Any, output: str, assertion: Assertion) -> Check:
    data = _loads(output)
    if data is _INVALID:
        return Check.binary(False, "Expected output to be valid JSON")
    return _conforms(value, [data], "Expected output to be valid JSON")


def contains_json(value: Any, output: str, assertion: Assertion) -> Check:
    found = json_objects(output)
    if not found:
        return Check.binary(False, "Expected output to contain valid JSON")
    return _conforms(value, found, "Expected output to contain valid JSON")


def json_schema(value: Any, output: str, assertion: Assertion) -> Check:
    if value in (None, ""):
        raise BadAssertion('"json-schema" needs a JSON Schema value')
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", output.strip(), flags=re.S)
    data = _loads(fenced.group(1) if fenced else output.strip())
    if data is _INVALID:
        return Check.binary(False, "not JSON")
    return _conforms(value, [data], "not JSON")


def json_objects(text: str) -> list[Any]:
    """Every JSON object or array embedded in text, outermost first, left to right."""
    found: list[Any] = []
    i = 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = _DECODER.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            found.append(value)
            i = end
        else:
            i += 1
    return found


def schema_of(value: Any) -> dict[str, Any] | bool:
    """A JSON Schema from an assertion value: an object, or YAML/JSON text."""
    schema = value
    if isinstance(value, str):
        try:
            schema = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise BadAssertion(f"invalid JSON schema: {err}") from None
    if not isinstance(schema, (dict, bool)):
        raise BadAssertion("a JSON schema must be an object")
    _validator(json.dumps(schema, sort_keys=True))  # raises on an invalid schema
    return schema


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as err:
        raise BadAssertion(f"invalid JSON schema: {err.message}") from None
    return cls(schema)


def _conforms(value: Any, candidates: list[Any], not_json: str) -> Check:
    if value in (None, ""):
        return Check.binary(True, not_json)
    validator = _validator(json.dumps(schema_of(value), sort_keys=True))
    error = ""
    for data in candidates:
        problems = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        if not problems:
            return Check.binary(True, "")
        error = "; ".join(_describe(p) for p in problems[:3])
    return Check.binary(False, f"JSON does not conform to the provided schema: {error}")


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.path)
    return f"{where or '<root>'}: {error.message[:200]}"


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _INVALID
