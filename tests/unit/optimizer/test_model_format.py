"""optimize_for_model: layouts per model family, and the model-specific candidate."""

from __future__ import annotations

import pytest

from agents.optimizer.generation import generate_round
from agents.optimizer.model_format import model_family, optimize_for_model
from schemas.experiment import ExperimentSpec

PROMPT = ("You are an expert reviewer. Classify the sentiment of {{review}}. Think step by step. "
          "Respond with only the label, nothing else.")


@pytest.mark.parametrize(("model", "family"), [
    ("anthropic/claude-3-5-sonnet-20240620", "anthropic"), ("claude-3-haiku", "anthropic"),
    ("openai/o3-mini", "openai-reasoning"), ("o1", "openai-reasoning"),
    ("gpt-4o-mini", "openai"), ("sim/small", "openai"), ("gemini/gemini-1.5-pro", "google"),
    ("ollama/llama3", "open-weight"), ("mistral/mistral-large", "open-weight"),
    ("some-model", "generic")])
def test_model_family(model, family):
    assert model_family(model) == family


def test_claude_gets_xml_tags_and_named_input_tags():
    r = optimize_for_model(PROMPT, None, "anthropic/claude-3-5-sonnet-20240620")
    assert r.prompt.startswith("<instructions>\n") and r.prompt.endswith("</instructions>")
    assert "<review>{{review}}</review>" in r.prompt
    assert set(r.patterns) == {"xml-tags", "delimiters"}


def test_gpt_gets_the_role_as_system_message():
    r = optimize_for_model(PROMPT, "Answer in English.", "gpt-4o-mini")
    assert r.system == "You are an expert reviewer.\n\nAnswer in English."
    assert r.prompt.startswith("Classify the sentiment") and r.patterns == ("system-role",)


def test_reasoning_models_lose_the_step_by_step_instruction():
    r = optimize_for_model(PROMPT, None, "openai/o3-mini")
    assert "step by step" not in r.prompt.lower()
    assert "{{review}}. Respond with only the label" in r.prompt


def test_open_weight_models_get_the_format_repeated_last():
    prompt = "Respond with only the label. Classify the sentiment of {{review}} for our team."
    r = optimize_for_model(prompt, None, "ollama/llama3")
    assert r.prompt.endswith("Remember: Respond with only the label.")


def test_nothing_to_do_is_reported_as_unchanged():
    assert not optimize_for_model("Classify {{x}}.", None, "gpt-4o").changed


def test_a_single_family_spec_gets_a_model_specific_variation():
    spec = ExperimentSpec(prompt=PROMPT, n_variations=3, test_cases=[{"id": "t"}],
                          models=[{"id": "anthropic/claude-3-5-sonnet-20240620"}])
    variations = generate_round(spec, "exp-m", {})
    first = variations[1]
    assert first.prompt.startswith("<instructions>")
    assert first.rewrites[0].startswith("for-model anthropic:")
    mixed = spec.model_copy(update={"models": (spec.models[0], *ExperimentSpec(
        prompt="x" * 10, test_cases=[{"id": "t"}], models=[{"id": "gpt-4o"}]).models)})
    assert not any(r.startswith("for-model") for v in generate_round(mixed, "exp-m", {})
                   for r in v.rewrites)
