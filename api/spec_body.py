"""Reading an experiment from a request body: ExperimentSpec JSON, or {"config": ...} in
the shape of a promptfoo-style experiment file (promptopt.experiment_file)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import ValidationError

from api.envelope import ApiError, from_validation_error
from promptopt.experiment_file import ExperimentFileError, parse_experiment
from schemas.experiment import ExperimentSpec


def new_experiment_id(spec: ExperimentSpec) -> str:
    """A fresh id per request: POSTing the same spec twice runs it twice."""
    slug = re.sub(r"[^a-z0-9]+", "-", spec.name.lower()).strip("-")[:40] or "experiment"
    return f"{slug}-{uuid.uuid4().hex[:12]}"


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", details=[{"field": field, "message": message}])


def spec_from_body(body: dict[str, Any]) -> ExperimentSpec:
    if "config" not in body:
        try:
            return ExperimentSpec.model_validate(body)
        except ValidationError as err:
            raise from_validation_error(err) from None
    others = sorted(set(body) - {"config"})
    if others:
        raise invalid(others[0], "not allowed beside `config` (put it inside the config)")
    config = body["config"]
    if not isinstance(config, dict):
        raise invalid("config", "expected an object (an experiment file's content)")
    refuse_file_prompts(config)
    try:
        return parse_experiment(config, source="config")
    except ExperimentFileError as err:
        raise ApiError(422, str(err), details=[{"field": "config", "message": str(err)}]
                       ) from None
    except (TypeError, AttributeError, KeyError, ValueError) as err:
        # A config of the wrong shape (a test that is a string, a model without id, ...).
        raise invalid("config", f"not a valid experiment config ({type(err).__name__}: "
                                f"{err})") from None


def refuse_file_prompts(config: dict[str, Any]) -> None:
    """file:// prompts name files on the server: an experiment file may, a request may not."""
    prompts = config.get("prompts") or []
    if not isinstance(prompts, list):
        raise invalid("config.prompts", "expected a list of prompts")
    for i, prompt in enumerate([config.get("prompt"), *prompts]):
        text = prompt_text(prompt) if prompt is not None else ""
        if text.startswith("file://"):
            where = "config.prompt" if i == 0 else f"config.prompts.{i - 1}"
            raise invalid(where, "file:// prompts are not read over the API; send the text")


def prompt_text(prompt: Any) -> str:
    """The text of a promptfoo prompt entry: a string or {raw | content | prompt: ...}."""
    if isinstance(prompt, dict):
        prompt = prompt.get("raw") or prompt.get("content") or prompt.get("prompt") or ""
    return str(prompt)
