"""promptfoo's per-test providers as TestCase.models: a test's own `provider` (the model
under test for that test case, listed under `providers` or not) and its `providers`
filter (a label, a provider id, `openai:*`, or a bare provider prefix such as `openai`);
both may come from defaultTest.

promptfoo calls a test's own provider once for each listed provider (every call going to
the test's provider); promptopt runs the test once per prompt and repetition on that model.
The answers are the same without the duplicates, which the statistics would otherwise
pair as one model against itself. A model that only some tests name is a model of the
experiment those tests alone run on: every other test then names the listed providers.
"""

from __future__ import annotations

from typing import Any

from promptopt.experiment_file.checks import ExperimentFileError, suggestion
from promptopt.experiment_file.providers import (
    ProviderEntry,
    finish,
    fingerprint,
    litellm_id,
    provider_entry,
    spec_key,
)
from promptopt.experiment_file.tests import FILTER, PROVIDER

Chosen = list[ProviderEntry] | None  # None: the test names no provider


def resolve(tests: list[dict[str, Any]], listed: list[ProviderEntry]
            ) -> tuple[list[ProviderEntry], list[Chosen]]:
    """(the models only tests name, each test's models); takes the raw `provider` and
    `providers` off each test case dict."""
    extra: list[ProviderEntry] = []
    chosen: list[Chosen] = []
    for test in tests:
        own = test.pop(PROVIDER, None)
        filters = test.pop(FILTER, None)
        models: Chosen = None
        if filters is not None:
            patterns, where = filters
            names = sorted({n for e in listed for n in _names(e)})
            for pattern in patterns:
                if not any(matches(pattern, e) for e in listed):
                    raise ExperimentFileError(
                        f"{where}: no provider is {pattern!r}{suggestion(pattern, names)} "
                        f"(the providers: {', '.join(names)})")
            models = [e for e in listed if any(matches(p, e) for p in patterns)]
        if own is not None:
            raw, where = own
            entry = _own_entry(raw, where, [*listed, *extra])
            if all(entry is not e for e in (*listed, *extra)):
                extra.append(entry)
            models = [entry]
        chosen.append(models)
    return extra, chosen


def set_models(tests: list[dict[str, Any]], chosen: list[Chosen],
               listed: list[ProviderEntry], extra: list[ProviderEntry]) -> None:
    """Each test case's `models` (keys, final once every model has its variant)."""
    every = len(listed) + len(extra)
    for test, models in zip(tests, chosen, strict=True):
        if models is None:
            if not extra:
                continue  # every model
            models = listed  # a model only some tests name is not this test's
        if len(models) < every:
            test["models"] = tuple(spec_key(e.spec) for e in models)


def matches(pattern: str, entry: ProviderEntry) -> bool:
    """promptfoo's test-level provider filter: an exact label or id, `prefix*`, or a bare
    provider name matching every id it prefixes (`openai` matches `openai:gpt-4o`)."""
    for name in _names(entry):
        if name == pattern or (pattern.endswith("*") and name.startswith(pattern[:-1])):
            return True
        if ":" not in pattern and "/" not in pattern and name.startswith(f"{pattern}:"):
            return True
    return False


def _names(entry: ProviderEntry) -> set[str]:
    return {*entry.aliases, entry.spec["id"], spec_key(entry.spec)}


def _own_entry(raw: Any, where: str, known: list[ProviderEntry]) -> ProviderEntry:
    """The test's own provider: a listed one named by its label or id, else a model of its
    own (the same id and options as a known one is that one)."""
    if isinstance(raw, str):
        named = [e for e in known if raw in _names(e)]
        if len(named) == 1:
            return named[0]
        if named:
            labels = [e.spec.get("label") or spec_key(e.spec) for e in named]
            raise ExperimentFileError(f"{where}: {raw!r} is {len(named)} providers "
                                      f"({', '.join(labels)}); name one by its label")
        entry = finish(ProviderEntry({"id": litellm_id(raw, where)}, where=where,
                                     aliases={raw}))
    elif isinstance(raw, dict):
        if "prompts" in raw:
            raise ExperimentFileError(f"{where}.prompts: a test's provider runs the test's "
                                      "prompts; filter prompts on the listed providers")
        body = raw if "id" in raw or len(raw) != 1 else {"id": next(iter(raw)),
                                                         **(next(iter(raw.values())) or {})}
        entry = finish(provider_entry(body, where))
    else:
        raise ExperimentFileError(f"{where}: expected a provider id or {{id, config}}")
    for other in known:
        if other.spec["id"] == entry.spec["id"] and fingerprint(other.spec) == \
                fingerprint(entry.spec):
            other.aliases |= entry.aliases
            return other
    return entry
