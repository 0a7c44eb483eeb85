"""Prompt templates: promptfoo's Nunjucks syntax, rendered by jinja2 (its Python near-twin:
the same {{ var }}, filters, {% if %} and {% for %}).

Prompts are user data, so templates run in jinja2's sandbox (no attribute access to
internals, bounded ranges). A variable printed but not defined is an error that names it,
while a test of an undefined variable (`{% if premium %}`) is simply false, as in
Nunjucks, so optional variables work and typos are caught. promptfoo's `dump` filter
(JSON) is added; non-string values print as JSON, as promptfoo prints them.

A prompt that is a JSON list of {role, content} messages is a chat prompt; each message's
content is a template.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment


class MissingVariable(KeyError):
    """The template prints variables the test case does not define."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(names)
        self.names = names

    def __str__(self) -> str:
        return f"missing template variable(s): {', '.join(self.names)}"


class TemplateError(ValueError):
    """The template does not parse, or fails while rendering."""


class _Missing(jinja2.StrictUndefined):
    """Strict when printed, iterated or used in arithmetic; false when tested."""

    # jinja2 types StrictUndefined.__bool__ as always raising; Nunjucks' `{% if x %}` on an
    # undefined x is false, which is what users' templates rely on.
    def __bool__(self) -> bool:  # type: ignore[override]
        return False


def _finalize(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False)
    return value


@functools.cache
def environment() -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(undefined=_Missing, finalize=_finalize,
                                        keep_trailing_newline=True, autoescape=False)
    env.filters["dump"] = lambda value, indent=None: json.dumps(value, indent=indent,
                                                                ensure_ascii=False)
    return env


@functools.lru_cache(maxsize=4096)
def _compiled(template: str) -> jinja2.Template:
    try:
        return environment().from_string(template)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"template syntax error (line {err.lineno}): {err.message}") from None


@functools.lru_cache(maxsize=4096)
def _printed_names(template: str) -> tuple[str, ...]:
    """Top-level names the template reads (loop and `set` variables excluded)."""
    try:
        ast = environment().parse(template)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"template syntax error (line {err.lineno}): {err.message}") from None
    return tuple(sorted(meta.find_undeclared_variables(ast)))


def variables(template: str) -> list[str]:
    return list(_printed_names(template))


def check_syntax(template: str) -> None:
    _compiled(template)


def render(template: str, values: Mapping[str, Any]) -> str:
    if "{" not in template:
        return template
    try:
        return _compiled(template).render(dict(values))
    except jinja2.UndefinedError:
        missing = [n for n in variables(template) if n not in values]
        raise MissingVariable(missing or ["(an undefined attribute)"]) from None
    except (jinja2.TemplateError, TypeError, ValueError, OverflowError) as err:
        raise TemplateError(f"template failed: {err}") from None


def undefined_variables(template: str, values: Mapping[str, Any]) -> list[str]:
    """Variables rendering `template` with `values` would miss ([] when it renders)."""
    try:
        render(template, values)
    except MissingVariable as err:
        return err.names
    except TemplateError:
        return []
    return []


def chat_messages(text: str) -> list[dict[str, Any]] | None:
    """The messages of a chat prompt (a JSON list of {role, content}), else None."""
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    if (isinstance(data, list) and data
            and all(isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m
                    for m in data)):
        return data
    return None


def render_messages(prompt: str, system: str | None, values: Mapping[str, Any]
                    ) -> list[dict[str, Any]]:
    """The messages of one trial: the system message, then the rendered prompt (or the
    rendered chat's messages)."""
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": render(system, values)})
    chat = chat_messages(prompt)
    if chat is None:
        messages.append({"role": "user", "content": render(prompt, values)})
    else:  # each message rendered on its own, so a quote in a value cannot break the JSON
        messages += [{"role": m["role"], "content": render(str(m["content"]), values)}
                     for m in chat]
    return messages


