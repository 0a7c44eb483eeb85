"""Prompt analysis: components, scores, patterns, tokens, input limits."""

from __future__ import annotations

import pytest

from agents.optimizer.analysis import InvalidPrompt, analyze_prompt, check_prompt

GOOD = """You are an experienced support agent.
Classify the customer message below as billing, technical or account.

Examples:
"I was charged twice" -> billing
"The app crashes on login" -> technical

Message: <message>{{message}}</message>

Respond with only the label, nothing else."""
BAD = "Tell me stuff about this thing and what you think and whatever. {{message}}"


def test_components_of_a_well_built_prompt():
    a = analyze_prompt(GOOD, tokens=False)
    c = a.components
    assert c.role == ("You are an experienced support agent.",)
    assert any("Classify" in s for s in c.instruction)
    assert any("only the label" in s for s in c.output_format)
    assert len(c.examples) == 3 and c.variables == ("message",)
    assert {"role", "few-shot", "output-format", "delimiters"} <= set(a.patterns)
    assert a.issues == ()


def test_a_clear_specific_prompt_outscores_a_vague_one_on_both_axes():
    good, bad = analyze_prompt(GOOD, tokens=False), analyze_prompt(BAD, tokens=False)
    for a in (good, bad):
        assert 0 <= a.clarity <= 1 and 0 <= a.specificity <= 1
        assert set(a.clarity_features) and set(a.specificity_features)
    assert good.clarity > bad.clarity and good.specificity > bad.specificity + 0.3
    assert {"vague-wording", "unfenced-input", "no-output-format"} <= bad.issue_codes
    assert bad.fixes()["delimiters"] == "unfenced-input"


def test_analysis_is_deterministic():
    assert analyze_prompt(BAD, tokens=False) == analyze_prompt(BAD, tokens=False)


def test_tokens_are_counted_per_target_model_with_litellm():
    a = analyze_prompt(GOOD, models=["gpt-4o-mini", "sim/small"])
    assert set(a.tokens) == {"gpt-4o-mini", "sim/small"}
    assert 40 < a.tokens["gpt-4o-mini"] < 120


@pytest.mark.parametrize("prompt", ["", "   short  ", "x" * 10_001])
def test_prompts_outside_10_to_10000_characters_are_rejected(prompt):
    with pytest.raises(InvalidPrompt):
        check_prompt(prompt)


def test_limits_are_inclusive():
    assert check_prompt("0123456789") and check_prompt("y" * 10_000)
