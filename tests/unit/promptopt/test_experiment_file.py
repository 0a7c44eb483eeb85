"""Experiment files, including promptfoo configs read as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptopt.experiment_file import (
    ExperimentFileError,
    experiment_id_for,
    load_experiment,
    parse_experiment,
)

EXAMPLE = Path(__file__).parents[3] / "examples" / "sentiment.yaml"


def test_the_example_loads_with_its_default_assertions_merged():
    spec = load_experiment(EXAMPLE)
    assert len(spec.test_cases) == 40
    first = spec.test_cases[0]
    assert [a.type for a in first.all_assertions()] == ["iequals", "length"]
    assert spec.analysis.design == "sequential" and spec.analysis.min_effect == 0.1
    assert experiment_id_for(spec) == experiment_id_for(load_experiment(EXAMPLE))


def test_a_promptfoo_config_is_read_as_it_is(tmp_path):
    (tmp_path / "prompt.txt").write_text("Translate to French: {{text}}")
    config = {
        "description": "translation",
        "prompts": ["file://prompt.txt"],
        "providers": ["openai:gpt-4o-mini", {"id": "anthropic:messages:claude-3-haiku",
                                             "config": {"temperature": 0.2}}],
        "tests": [{"vars": {"text": "hello"}, "assert": [{"type": "icontains",
                                                            "value": "bonjour"}]}],
    }
    spec = parse_experiment(config, base=tmp_path)
    assert spec.prompt == "Translate to French: {{text}}"
    assert [m.id for m in spec.models] == ["openai/gpt-4o-mini",
                                           "anthropic/messages:claude-3-haiku"]
    assert spec.models[1].temperature == 0.2
    assert spec.test_cases[0].assertions[0].type == "icontains"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"models": ["sim/small"], "tests": [{"expected": "x"}]}, "no prompt"),
        ({"prompt": "hi {{x}}", "tests": [{"expected": "x"}]}, "no model"),
        ({"prompt": "p", "models": ["m"], "tests": [{"assert": [{"type": "javascript"}]}]},
         "'javascript' is not supported"),
        ({"prompt": "p", "models": ["m"], "tests": []}, "test_cases"),
        ({"prompt": "p", "models": ["m"], "alpha": 2, "tests": [{"expected": "x"}]}, "alpha"),
    ],
)
def test_bad_files_get_a_clear_error(config, message):
    with pytest.raises(ExperimentFileError, match=message):
        parse_experiment(config)
