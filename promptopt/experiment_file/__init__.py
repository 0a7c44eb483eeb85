"""Experiment files: promptfoo configs as they are, plus what promptfoo lacks.

A promptfoo config (prompts / providers / tests / defaultTest / assert) is read as promptfoo
reads it; several prompts are several arms of one A/B test, the first the control.
promptopt's own keys add the optimizer (variations, goals, max_rounds), the statistics
(metric, alpha, power, min_effect, design, looks, correction, repetitions) and a budget.

Everything is checked before any call: unknown keys (with the likely intended one), assertion
values, template syntax, and every variable each prompt prints against each test case.

One module per job: checks (keys, errors), files (file:// references), prompts, providers,
tests (and vars), assertions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agents.trials.render import TemplateError, check_syntax, undefined_variables
from promptopt.experiment_file.checks import (
    ExperimentFileError,
    Notes,
    check_keys,
    expect_mapping,
    suggestion,
)
from promptopt.experiment_file.files import Files
from promptopt.experiment_file.prompts import PromptEntry, read_prompts
from promptopt.experiment_file import test_providers
from promptopt.experiment_file.providers import (
    ProviderEntry,
    read_models,
    read_providers,
    spec_key,
    unique,
)
from promptopt.experiment_file.tests import read_tests
from promptopt.yaml_text import read_yaml
from schemas.experiment import COMPARISON_TYPES, ExperimentSpec

CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")

PROMPTFOO_KEYS = {"description", "prompts", "providers", "targets", "tests", "defaultTest",
                  "evaluateOptions"}
OWN_KEYS = {"name", "prompt", "system", "models", "goals", "variations", "max_rounds",
            "target_score", "budget", "metric", "alpha", "power", "min_effect", "design",
            "looks", "correction", "repetitions", "domain", "optimizer_model"}
IGNORED_KEYS = {
    "sharing": "results are not shared anywhere", "writeLatestResults": "promptopt writes "
    "results with --output", "tags": "promptfoo's UI tags", "metadata": "config metadata",
    "outputPath": "give --output instead", "$schema": "", "commandLineOptions": "give "
    "options on the command line",
}
REFUSED_KEYS = {
    "scenarios": "scenarios (write the test cases out)",
    "derivedMetrics": "derived metrics",
    "nunjucksFilters": "custom Nunjucks filters (templates run in a sandbox)",
    "extensions": "extension hooks",
    "redteam": "red teaming",
    "env": "env in the file (set the variables in the environment; keys never go in files)",
}
EVALUATE_KEYS = {"repeat"}
EVALUATE_IGNORED = {"maxConcurrency": "promptopt limits calls per model (rpm, "
                    "max_concurrency, PROMPTOPT_LLM_CONCURRENCY)",
                    "delay": "promptopt paces calls by rpm", "cache": "the LLM cache is a "
                    "setting", "showProgressBar": "", "timeoutMs": "PROMPTOPT_LLM_TIMEOUT_S "
                    "sets the call timeout", "maxEvalTimeMs": ""}
MAX_UNDEFINED_REPORTED = 20


@dataclass
class Loaded:
    spec: ExperimentSpec
    warnings: list[str] = field(default_factory=list)
    output_path: str | None = None  # promptfoo's outputPath, a default for --output


def find_config(path: str | Path | None = None) -> Path:
    """The experiment file: `path` itself, or a folder's promptfooconfig.yaml (the current
    folder by default), as promptfoo finds it."""
    target = Path(path) if path is not None else Path(".")
    if target.is_dir():
        for name in CONFIG_NAMES:
            if (target / name).is_file():
                return target / name
        raise ExperimentFileError(f"{target}: no {CONFIG_NAMES[0]} here (give the file with -c)")
    return target


def read_experiment(path: str | Path) -> Loaded:
    path = find_config(path)
    try:
        raw = read_yaml(path)
    except FileNotFoundError:
        raise ExperimentFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ExperimentFileError(f"{path}: is a folder") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ExperimentFileError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ExperimentFileError(f"{path}: expected a mapping at the top level")
    notes = Notes()
    try:
        spec = build_spec(raw, Files(path.parent.resolve()), notes)
    except ExperimentFileError as err:
        raise ExperimentFileError(f"{path}: {err}") from None
    out = raw.get("outputPath")
    return Loaded(spec, notes.warnings, out if isinstance(out, str) else None)


def load_experiment(path: str | Path) -> ExperimentSpec:
    return read_experiment(path).spec


def parse_experiment(raw: dict[str, Any], *, base: Path | None = Path("."), source: str = "",
                     notes: Notes | None = None) -> ExperimentSpec:
    """A config already parsed from YAML/JSON. base: the folder file:// paths are relative
    to; None refuses them (a config sent over the API names no server files)."""
    where = f"{source}: " if source else ""
    try:
        return build_spec(expect_mapping(raw, "config"), Files(base), notes or Notes())
    except ExperimentFileError as err:
        raise ExperimentFileError(f"{where}{err}") from None


def build_spec(raw: dict[str, Any], files: Files, notes: Notes) -> ExperimentSpec:
    check_keys(raw, "config", supported=PROMPTFOO_KEYS | OWN_KEYS, ignored=IGNORED_KEYS,
               refused=REFUSED_KEYS, notes=notes)
    prompts = _prompts(raw, files)
    listed = _models(raw)
    evaluate = expect_mapping(raw.get("evaluateOptions") or {}, "evaluateOptions")
    check_keys(evaluate, "evaluateOptions", supported=EVALUATE_KEYS, ignored=EVALUATE_IGNORED,
               notes=notes)
    tests = read_tests(raw.get("tests"), raw.get("defaultTest"), files, notes)
    test_only, chosen = test_providers.resolve(tests, listed)
    entries = unique([*listed, *test_only]) if test_only else listed
    _assign_models(prompts, entries)
    test_providers.set_models(tests, chosen, listed, test_only)
    if raw.get("tests") is None:
        notes.warn("no tests: each prompt runs once without vars and without assertions")
    analysis = {k: raw[k] for k in ("metric", "alpha", "power", "min_effect", "design",
                                    "looks", "correction", "repetitions") if k in raw}
    if "repeat" in evaluate and "repetitions" not in analysis:
        analysis["repetitions"] = evaluate["repeat"]
    control, arms = prompts[0], prompts[1:]
    default_variations = 3 if not arms else 0
    n_variations = raw.get("variations", default_variations)
    if control.is_chat and n_variations:
        raise ExperimentFileError(
            f"variations: the control {control.label!r} is a multi-turn chat, which the "
            "optimizer does not rewrite; set `variations: 0` to compare your prompts as given")
    check_templates(prompts, tests)
    compares = sorted({a["type"] for t in tests for a in t.get("assertions", ())
                       if a["type"] in COMPARISON_TYPES})
    if compares and not arms and not n_variations:
        raise ExperimentFileError(
            f"{' and '.join(compares)} compare the answers of several prompts to one test "
            "case; this config has one prompt (add prompts, or `variations: N`)")
    body = {
        "name": raw.get("name") or raw.get("description") or "experiment",
        "prompt": control.prompt,
        "system": raw.get("system") if control.system is None else control.system,
        "control_label": control.label if arms or control.label != "control" else None,
        "control_models": tuple(control.models),
        "arms": [{"label": p.label, "prompt": p.prompt,
                  "system": p.system if p.system is not None else raw.get("system"),
                  "models": tuple(p.models)} for p in arms],
        "domain": raw.get("domain", "general"),
        "test_cases": tests,
        "models": [e.spec for e in entries],
        "goals": raw.get("goals", ["clarity"]),
        "n_variations": n_variations,
        "max_rounds": raw.get("max_rounds", 1),
        "target_score": raw.get("target_score"),
        "budget": raw.get("budget", {}),
        "analysis": analysis,
        "optimizer_model": raw.get("optimizer_model"),
    }
    try:
        return ExperimentSpec.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ExperimentFileError(f"{_file_location(loc)}: {first['msg']}") from None


def _prompts(raw: dict[str, Any], files: Files) -> list[PromptEntry]:
    if raw.get("prompts") is not None and raw.get("prompt") is not None:
        raise ExperimentFileError("give `prompt:` or `prompts:`, not both")
    source = raw.get("prompts") if raw.get("prompts") is not None else (
        [raw["prompt"]] if raw.get("prompt") is not None else None)
    if not source:
        raise ExperimentFileError("no prompt: give `prompt:` or a `prompts:` list")
    return read_prompts(source, files)


def _models(raw: dict[str, Any]) -> list[ProviderEntry]:
    given = [k for k in ("models", "providers", "targets") if raw.get(k) is not None]
    if not given:
        raise ExperimentFileError("no model: give `models:` (or promptfoo's `providers:`)")
    if len(given) > 1:
        raise ExperimentFileError(f"give one of {', '.join(given)}, not several")
    key = given[0]
    return read_models(raw[key]) if key == "models" else read_providers(raw[key])


def _assign_models(prompts: list[PromptEntry], entries: list[ProviderEntry]) -> None:
    """promptfoo's per-provider prompts: a provider with `prompts:` runs only those (by
    label, `group:*` or a `group` prefix); the others run every prompt."""
    filtered = [e for e in entries if e.prompts is not None]
    if not filtered:
        return
    labels = [p.label for p in prompts]
    for entry in filtered:
        for pattern in entry.prompts or []:
            if not any(_label_matches(pattern, label) for label in labels):
                raise ExperimentFileError(f"{entry.where}.prompts: no prompt is labelled "
                                          f"{pattern!r}{suggestion(pattern, labels)}")
    for prompt in prompts:
        runs = [spec_key(e.spec) for e in entries if e.prompts is None
                or any(_label_matches(pat, prompt.label) for pat in e.prompts)]
        if not runs:
            raise ExperimentFileError(f"prompt {prompt.label!r}: no provider runs it")
        prompt.models = [] if len(runs) == len(entries) else runs


def _label_matches(pattern: str, label: str) -> bool:
    if pattern.endswith("*"):
        return label.startswith(pattern[:-1])
    return label == pattern or label.startswith(f"{pattern}:")


def check_templates(prompts: list[PromptEntry], tests: list[dict[str, Any]]) -> None:
    """Every template parses, and every variable a prompt prints is defined by each test
    case that runs it: reported per test case before anything is spent."""
    problems: list[str] = []
    for prompt in prompts:
        for template in (prompt.prompt, prompt.system):
            if template is None:
                continue
            try:
                check_syntax(template)
            except TemplateError as err:
                raise ExperimentFileError(f"prompt {prompt.label!r}: {err}") from None
    total = 0
    for test in tests:
        defined = sorted(test["vars"])
        around = (test.get("prefix"), test.get("suffix"))
        for prompt in prompts:
            missing = sorted({name for t in (prompt.prompt, prompt.system, *around) if t
                              for name in undefined_variables(t, test["vars"])})
            for name in missing:
                total += 1
                if len(problems) < MAX_UNDEFINED_REPORTED:
                    problems.append(
                        f"test {test['id']!r}: prompt {prompt.label!r} uses {{{{{name}}}}}, "
                        f"which the test does not define{suggestion(name, defined)} "
                        f"(its vars: {', '.join(defined) or 'none'})")
    if problems:
        more = f"\n  ... and {total - len(problems)} more" if total > len(problems) else ""
        raise ExperimentFileError("undefined template variables:\n  " + "\n  ".join(problems)
                                  + more)


def _file_location(loc: str) -> str:
    """A pydantic location of the spec, in the file's words."""
    loc = re.sub(r"^test_cases\.(\d+)", lambda m: f"tests.{m.group(1)}", loc)
    loc = re.sub(r"^n_variations", "variations", loc)
    loc = re.sub(r"^analysis\.", "", loc)
    loc = re.sub(r"^models", "providers", loc)
    return loc or "config"


def experiment_id_for(spec: ExperimentSpec) -> str:
    """The same experiment file always gets the same id (so reruns hit the cache)."""
    digest = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", spec.name.lower()).strip("-")[:40] or "experiment"
    return f"{slug}-{digest}"


__all__ = ["CONFIG_NAMES", "ExperimentFileError", "Loaded", "Notes", "experiment_id_for",
           "find_config", "load_experiment", "parse_experiment", "read_experiment"]
