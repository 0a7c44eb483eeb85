"""promptfoo assertions as promptopt Assertions: the keys, file:// values and scripts, the
grader of model-graded types, and CSV's one-line assertion strings (`contains: Paris`,
`similar(0.8): ...`, `grade: ...`, `fn: ...`)."""

from __future__ import annotations

import json
import re
from typing import Any

from agents.scorer.assertions import code, comparison, text
from agents.scorer.assertions.grading import HANDLERS, render_value
from agents.trials.render import MissingVariable, TemplateError
from promptopt.experiment_file.checks import ExperimentFileError, check_keys, suggestion
from promptopt.experiment_file.files import Files, is_ref
from promptopt.experiment_file.providers import (
    ProviderEntry,
    litellm_id,
    model_options,
    provider_entry,
)
from schemas.experiment import (
    ASSERTION_TYPES,
    BASE_ASSERTION_TYPES,
    COMPARISON_TYPES,
    MODEL_GRADED_TYPES,
    SET_TYPE,
    base_type,
)

SUPPORTED_KEYS = {"type", "value", "threshold", "weight", "metric", "transform", "provider",
                  "rubricPrompt"}
UNSUPPORTED_TYPES = {
    "ruby": "ruby assertions", "webhook": "webhook assertions",
    "classifier": "classifier",
    "is-refusal": "is-refusal", "is-sql": "is-sql", "contains-sql": "contains-sql",
    "is-xml": "is-xml", "contains-xml": "contains-xml", "is-html": "is-html",
    "contains-html": "contains-html", "context-faithfulness": "context-faithfulness",
    "context-recall": "context-recall", "context-relevance": "context-relevance",
    "conversation-relevance": "conversation-relevance", "meteor": "meteor", "gleu": "gleu",
    "finish-reason": "finish-reason", "is-valid-openai-tools-call": "tool-call checks",
    "is-valid-function-call": "tool-call checks",
    "is-valid-openai-function-call": "tool-call checks", "tool-call-f1": "tool-call checks",
    "trace-span-count": "trace assertions", "trace-span-duration": "trace assertions",
    "trace-error-spans": "trace assertions", "pi": "pi", "guardrails": "guardrails",
    "similar:cosine": "similar:cosine (write similar)", "similar:dot": "similar:dot",
    "similar:euclidean": "similar:euclidean",
}
SCRIPT_TYPES = {"javascript", "python"}
EMBEDDING_TYPES = {"similar", "answer-relevance"}


def grader_models(provider: Any, where: str) -> tuple[dict | None, dict | None]:
    """(text grader, embedder) ModelSpec dicts from promptfoo's `provider` of a test's
    options or an assertion: an id, {id, config}, or {text: ..., embedding: ...}."""
    if provider is None:
        return None, None
    if isinstance(provider, dict) and ({"text", "embedding"} & set(provider)):
        check_keys(provider, where, supported={"text", "embedding"},
                   refused={"classification": "classifier graders"})
        text_spec, _ = grader_models(provider.get("text"), f"{where}.text")
        embed_spec, _ = grader_models(provider.get("embedding"), f"{where}.embedding")
        return text_spec, embed_spec
    if isinstance(provider, str):
        spec = {"id": litellm_id(provider, where) if ":" in provider or provider == "echo"
                else provider}
        return spec, spec
    if isinstance(provider, dict):
        entry: ProviderEntry = provider_entry(provider, where)
        return entry.spec, entry.spec
    raise ExperimentFileError(f"{where}: expected a grader id or {{id, config}}")


def moderation_model(provider: Any, where: str) -> dict[str, Any]:
    """promptfoo's moderation providers: `openai:moderation[:model]` (OpenAI's protocol, as
    any model id or {id, config} is); LlamaGuard on Replicate and Azure Content Safety speak
    other protocols and are refused."""
    raw_id = provider.get("id") if isinstance(provider, dict) else provider
    if not isinstance(raw_id, str):
        raise ExperimentFileError(f"{where}: expected a moderation model id")
    if raw_id.startswith(("replicate:moderation", "azure:moderation")):
        raise ExperimentFileError(f"{where}: not supported: {raw_id.split(':')[0]} moderation "
                                  "(promptopt speaks OpenAI's moderation protocol: "
                                  "openai:moderation[:model], or any server of it)")
    if raw_id.startswith("openai:moderation"):
        name = raw_id.removeprefix("openai:moderation").lstrip(":") or "omni-moderation-latest"
        if isinstance(provider, dict):
            return dict(provider_entry({**provider, "id": "openai:" + name}, where).spec)
        return {"id": f"openai/{name}"}
    found, _ = grader_models(provider, where)
    assert found is not None
    return found


def read_assertion(raw: Any, where: str, files: Files, *, grader: dict | None,
                   embedder: dict | None, rubric_prompt: str | None) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ExperimentFileError(f"{where}: expected an assertion {{type, value, ...}}")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ExperimentFileError(f"{where}: an assertion needs a `type`")
    if kind not in ASSERTION_TYPES:
        base = base_type(kind)
        if base in UNSUPPORTED_TYPES:
            raise ExperimentFileError(f"{where}.type: not supported: {UNSUPPORTED_TYPES[base]}")
        if base in COMPARISON_TYPES:
            raise ExperimentFileError(f"{where}.type: not supported: {kind} (a comparison "
                                      "selects one answer; it has no inverse)")
        raise ExperimentFileError(f"{where}.type: unknown assertion type {kind!r}"
                                  f"{suggestion(kind, ASSERTION_TYPES)}")
    if kind == SET_TYPE:
        return _assertion_set(raw, where, files, grader=grader, embedder=embedder,
                              rubric_prompt=rubric_prompt)
    check_keys(raw, where, supported=SUPPORTED_KEYS,
               refused={"config": "assertion config", "contextTransform": "contextTransform"})
    base = base_type(kind)
    out: dict[str, Any] = {"type": kind}
    value = raw.get("value")
    if is_ref(value):
        if base in SCRIPT_TYPES:
            value = files.script(value, f"{where}.value")
        else:
            [path] = files.paths(value, f"{where}.value")[:1]
            value = files.data(path, f"{where}.value")
    out["value"] = value
    for key in ("threshold", "weight", "metric"):
        if raw.get(key) is not None:
            out[key] = raw[key]
    if raw.get("transform") is not None:
        out["transform"] = transform_code(raw["transform"], f"{where}.transform", files)
    if base == "moderation":
        if raw.get("provider") is not None:
            out["provider"] = moderation_model(raw["provider"], f"{where}.provider")
        return out
    own_grader, own_embedder = grader_models(raw.get("provider"), f"{where}.provider")
    if base in MODEL_GRADED_TYPES:
        text_model = own_grader or grader
        embed_model = own_embedder or embedder
        if base == "similar":
            text_model = None
        if base not in EMBEDDING_TYPES:
            embed_model = None
        if text_model is not None:
            out["provider"] = text_model
        if embed_model is not None:
            out["embedder"] = embed_model
        prompt = raw.get("rubricPrompt", rubric_prompt)
        if prompt is not None:
            out["rubric_prompt"] = prompt if isinstance(prompt, str) else json.dumps(prompt)
    elif raw.get("provider") is not None:
        raise ExperimentFileError(f"{where}.provider: only model-graded assertions take a "
                                  "provider")
    return out


def _assertion_set(raw: dict[str, Any], where: str, files: Files, **graders: Any
                   ) -> dict[str, Any]:
    """promptfoo's assert-set: {type: assert-set, assert: [...], threshold, weight, metric}."""
    check_keys(raw, where, supported={"type", "assert", "threshold", "weight", "metric"})
    members = raw.get("assert")
    if not isinstance(members, list) or not members:
        raise ExperimentFileError(f"{where}.assert: an assert-set needs a list of assertions")
    out: dict[str, Any] = {"type": SET_TYPE}
    for key in ("threshold", "weight", "metric"):
        if raw.get(key) is not None:
            out[key] = raw[key]
    out["assertions"] = []
    for i, member in enumerate(members):
        if isinstance(member, dict) and member.get("type") == SET_TYPE:
            raise ExperimentFileError(f"{where}.assert.{i}: an assert-set cannot hold "
                                      "another assert-set")
        if isinstance(member, dict) and member.get("type") in COMPARISON_TYPES:
            raise ExperimentFileError(f"{where}.assert.{i}: {member['type']} compares whole "
                                      "answers; put it in the test's assert, not in a set")
        out["assertions"].append(read_assertion(member, f"{where}.assert.{i}", files,
                                                **graders))
    return out


def transform_code(raw: Any, where: str, files: Files) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ExperimentFileError(f"{where}: expected JavaScript code or a file:// script")
    if is_ref(raw):
        return json.dumps(files.script(raw, where))
    return raw


def check_assertion(assertion: dict[str, Any], vars_: dict[str, Any], where: str) -> None:
    """The checks that need no model: the value's shape, regexes, schemas, script code."""
    if assertion["type"] == SET_TYPE:
        for i, member in enumerate(assertion["assertions"]):
            check_assertion(member, vars_, f"{where}.assert.{i}")
        return
    base = base_type(assertion["type"])
    if base in COMPARISON_TYPES:
        return check_comparison(assertion, where)
    handler, kind = HANDLERS[base]
    try:
        value = render_value(assertion.get("value"), vars_)
        if base in SCRIPT_TYPES:
            code.check_script_value(value, base)
        elif kind == "text":
            handler(value, "", _stub(assertion))
        elif base in ("latency", "cost") and assertion.get("threshold") is None:
            if assertion["type"].startswith("not-"):
                raise text.BadAssertion(f"{assertion['type']} needs a threshold")
            if not assertion.get("metric"):
                raise text.BadAssertion(f"{base} without a threshold must name a `metric`")
        elif base in ("llm-rubric", "model-graded-closedqa", "factuality",
                      "model-graded-factuality") and not (isinstance(value, (str, dict))
                                                          and value):
            raise text.BadAssertion(f'"{base}" needs a value')
        elif base == "g-eval" and not (isinstance(value, (str, list)) and value):
            raise text.BadAssertion('"g-eval" needs the criteria: a string or a list')
        elif base == "moderation" and value is not None and not (
                isinstance(value, str) or (isinstance(value, list) and all(
                    isinstance(c, str) for c in value))):
            raise text.BadAssertion('"moderation" takes a list of categories to check')
        elif base == "similar" and not (isinstance(value, (str, list)) and value):
            raise text.BadAssertion('"similar" needs a reference text or a list of them')
    except text.BadAssertion as err:
        raise ExperimentFileError(f"{where}: {err}") from None
    except MissingVariable as err:
        raise ExperimentFileError(f"{where}.value: {err} (the test's vars: "
                                  f"{', '.join(sorted(vars_)) or 'none'})") from None
    except TemplateError as err:
        raise ExperimentFileError(f"{where}.value: {err}") from None


def check_comparison(assertion: dict[str, Any], where: str) -> None:
    """select-best takes its criteria, max-score its options (comparison.py says which)."""
    from schemas.experiment import Assertion

    value = assertion.get("value")
    if assertion["type"] == "select-best":
        if not (isinstance(value, str) and value.strip()):
            raise ExperimentFileError(f'{where}: "select-best" needs the selection criteria '
                                      "as its value")
        return
    try:
        comparison.max_score(Assertion(type="max-score", value=value), [])
    except text.BadAssertion as err:
        raise ExperimentFileError(f"{where}.value: {err}") from None


def _stub(assertion: dict[str, Any]) -> Any:
    from schemas.experiment import Assertion

    fields = {k: v for k, v in assertion.items() if k in ("type", "threshold")}
    return Assertion(**fields)


# -- CSV assertion strings ----------------------------------------------------------------

_TYPES = "|".join(sorted((re.escape(t) for t in BASE_ASSERTION_TYPES), key=len, reverse=True))
_STRING = re.compile(rf"^(not-)?({_TYPES})(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$")
# promptfoo's defaults for a CSV cell without one (latency, cost and levenshtein keep
# their own: a 0.75 ms latency bound would fail everything).
_DEFAULT_THRESHOLD = {"similar": 0.8, "rouge-n": 0.75, "answer-relevance": 0.75,
                      "perplexity-score": 0.75}


def assertion_from_string(expected: str) -> dict[str, Any]:
    """promptfoo's CSV `__expected` cell: `type(threshold): value`, legacy prefixes, or
    plain text (an exact `equals`)."""
    for prefix, kind in (("javascript:", "javascript"), ("fn:", "javascript"),
                         ("eval:", "javascript"), ("grade:", "llm-rubric"),
                         ("llm-rubric:", "llm-rubric"), ("python:", "python")):
        if expected.startswith(prefix):
            return {"type": kind, "value": expected[len(prefix):].strip()}
    if is_ref(expected) and re.search(r"\.py(:|$)", expected):
        return {"type": "python", "value": expected}
    if is_ref(expected) and re.search(r"\.[cm]?js(:|$)", expected):
        return {"type": "javascript", "value": expected}
    match = _STRING.match(expected)
    if not match:
        return {"type": "equals", "value": expected}
    inverse, kind, threshold, value = match.groups()
    value = (value or "").strip()
    out: dict[str, Any] = {"type": f"{'not-' if inverse else ''}{kind}"}
    if kind in ("contains-any", "contains-all", "icontains-any", "icontains-all"):
        out["value"] = [v.strip() for v in value.split(",")]
    else:
        out["value"] = value or None
    if threshold:
        out["threshold"] = float(threshold)
    elif kind in _DEFAULT_THRESHOLD:
        out["threshold"] = _DEFAULT_THRESHOLD[kind]
    return out


__all__ = ["assertion_from_string", "check_assertion", "grader_models", "model_options",
           "read_assertion"]
