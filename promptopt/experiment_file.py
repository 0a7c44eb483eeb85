"""Experiment files: YAML in the spirit of promptfoo's config, plus what promptfoo lacks.

A promptfoo config is read as it is (prompts / providers / tests / assert / defaultTest):
the first prompt is the one to optimize, providers become litellm model ids
("openai:gpt-4o-mini" -> "openai/gpt-4o-mini"). promptopt's own keys add goals, metric,
budget, alpha, min_effect, design, variations, repetitions and domain.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.experiment import ExperimentSpec

# promptfoo assertion types we score, mapped to ours; others are refused with a message.
ASSERTION_TYPES = {
    "equals": "equals",
    "iequals": "iequals",
    "contains": "contains",
    "icontains": "icontains",
    "not-contains": "not-contains",
    "not-icontains": "not-contains",
    "regex": "regex",
    "is-json": "is-json",
    "contains-json": "is-json",
    "json-schema": "json-schema",
    "length": "length",
    "readability": "readability",
    "similar": "similar",
    "llm-rubric": "llm-rubric",
}


class ExperimentFileError(ValueError):
    """The file is not a valid experiment; str(err) says where and why."""


def load_experiment(path: str | Path) -> ExperimentSpec:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ExperimentFileError(f"{path}: no such file") from None
    except yaml.YAMLError as err:
        raise ExperimentFileError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ExperimentFileError(f"{path}: expected a mapping at the top level")
    return parse_experiment(raw, base=path.parent, source=str(path))


def parse_experiment(
    raw: dict[str, Any], *, base: Path = Path("."), source: str = ""
) -> ExperimentSpec:
    where = f"{source}: " if source else ""
    prompts = raw.get("prompts") or ([raw["prompt"]] if "prompt" in raw else [])
    if not prompts:
        raise ExperimentFileError(f"{where}no prompt: give `prompt:` or a `prompts:` list")
    models = raw.get("models") or raw.get("providers") or []
    if not models:
        raise ExperimentFileError(f"{where}no model: give `models:` (or promptfoo `providers:`)")
    analysis = {k: raw[k] for k in ("metric", "alpha", "power", "min_effect", "design",
                                    "correction", "repetitions") if k in raw}
    body = {
        "name": raw.get("name") or raw.get("description") or "experiment",
        "prompt": _prompt_text(prompts[0], base),
        "system": raw.get("system"),
        "domain": raw.get("domain", "general"),
        "test_cases": [_test_case(t, i, raw.get("defaultTest") or {}, where)
                       for i, t in enumerate(raw.get("tests") or [], start=1)],
        "models": [_model(m) for m in models],
        "goals": raw.get("goals", ["clarity"]),
        "n_variations": raw.get("variations", 3),
        "max_rounds": raw.get("max_rounds", 1),
        "target_score": raw.get("target_score"),
        "budget": raw.get("budget", {}),
        "analysis": analysis,
    }
    try:
        return ExperimentSpec.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ExperimentFileError(f"{where}{loc}: {first['msg']}") from None


def experiment_id_for(spec: ExperimentSpec) -> str:
    """The same experiment file always gets the same id (so reruns hit the cache)."""
    digest = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", spec.name.lower()).strip("-")[:40] or "experiment"
    return f"{slug}-{digest}"


def _prompt_text(prompt: Any, base: Path) -> str:
    if isinstance(prompt, dict):
        prompt = prompt.get("raw") or prompt.get("content") or prompt.get("prompt") or ""
    text = str(prompt)
    if text.startswith("file://"):
        text = (base / text.removeprefix("file://")).read_text()
    return text


def _model(model: Any) -> dict[str, Any]:
    if isinstance(model, str):
        return {"id": _litellm_id(model)}
    model = dict(model)
    model_id = model.pop("id")
    options = model.pop("config", {}) or {}
    return {"id": _litellm_id(model_id), **options, **model}


def _litellm_id(name: str) -> str:
    # promptfoo writes "openai:gpt-4o-mini" (and "openai:chat:gpt-4o"); litellm "openai/..."
    if ":" in name and "/" not in name.split(":", 1)[0]:
        provider, _, rest = name.partition(":")
        return f"{provider}/{rest.removeprefix('chat:')}"
    return name


def _test_case(test: dict[str, Any], index: int, default: dict[str, Any], where: str) -> dict:
    asserts = [*(default.get("assert") or []), *(test.get("assert") or [])]
    return {
        "id": str(test.get("id") or test.get("description") or f"t{index}"),
        "vars": {**(default.get("vars") or {}), **(test.get("vars") or {})},
        "expected": test.get("expected"),
        "assertions": [_assertion(a, where) for a in asserts],
    }


def _assertion(a: dict[str, Any], where: str) -> dict[str, Any]:
    kind = a.get("type", "")
    if kind not in ASSERTION_TYPES:
        known = ", ".join(sorted(ASSERTION_TYPES))
        raise ExperimentFileError(f"{where}assertion type {kind!r} is not supported ({known})")
    return {
        "type": ASSERTION_TYPES[kind],
        "value": a.get("value"),
        "threshold": a.get("threshold"),
        "weight": a.get("weight", 1.0),
    }
