"""The seeded pattern library: completeness, apply keeps template variables, search."""

from __future__ import annotations

import re

import pytest

from agents.patterns.learning import stats_key
from agents.patterns.library import (
    PatternNotApplicable,
    PatternNotFound,
    apply_pattern,
    get_pattern,
    identify_patterns,
    load_library,
    pattern_template,
    search,
)

LIBRARY = load_library()
REQUIRED_IDS = {"chain-of-thought", "few-shot", "role", "audience", "output-format",
                "json-output", "delimiters", "constraints", "step-decomposition", "self-check",
                "rubric-first", "ask-for-assumptions", "concise", "detailed", "xml-tags",
                "system-role"}
PROMPTS = [
    "Classify the sentiment of this review: {{review}}",
    "{{document}}\n\nSummarize the text above in plain words.",
    "What is Kafka? How does it differ from RabbitMQ? When should a team with {{team_size}} engineers use it?",
    "Write a haiku about autumn.",
]


def test_library_has_at_least_30_complete_patterns_with_unique_ids():
    assert len(LIBRARY) >= 30
    assert {p.id for p in LIBRARY} >= REQUIRED_IDS
    for p in LIBRARY:
        assert p.name and p.description and p.type and p.goals and p.use_cases and p.examples
        assert set(p.goals) <= {"clarity", "engagement", "accuracy", "efficiency", "creativity"}
        assert "$prompt" in p.template or p.target == "system"


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("pattern", LIBRARY, ids=lambda p: p.id)
def test_apply_keeps_every_template_variable_and_changes_the_prompt(pattern, prompt):
    try:
        applied = apply_pattern(pattern, prompt, system="Be helpful.", domain="support")
    except PatternNotApplicable:
        assert pattern.transform is not None  # only structural rewrites may not apply
        return
    names = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", prompt))
    assert names <= set(re.findall(r"\{\{\s*(\w+)\s*\}\}", applied.prompt))
    assert (applied.prompt, applied.system) != (prompt, "Be helpful.")
    assert "$" not in applied.prompt.replace(prompt, "")  # every placeholder was filled


def test_apply_fills_defaults_with_domain_and_caller_values():
    assert apply_pattern("role", "Fix {{code}}", domain="python").prompt.startswith(
        "You are an experienced specialist in python.")
    custom = apply_pattern("audience", "Explain DNS.", values={"audience": "a new intern"})
    assert custom.prompt == "Explain DNS.\n\nWrite for a new intern."
    fenced = apply_pattern("delimiters", "Summarize: {{article}}")
    assert "<input>{{article}}</input>" in fenced.prompt
    numbered = apply_pattern("numbered-questions", PROMPTS[2]).prompt
    assert numbered.startswith("1. What is Kafka?\n2. How does it differ")
    moved = apply_pattern("instruction-first", PROMPTS[1]).prompt
    assert moved.startswith("Summarize the text below") and moved.endswith("{{document}}")
    system = apply_pattern("system-role", "Hi {{name}}", system="Answer in French.")
    assert system.prompt == "Hi {{name}}" and system.system.endswith("Answer in French.")


def test_unknown_pattern_is_an_error():
    with pytest.raises(PatternNotFound):
        get_pattern("no-such-pattern")


def test_identify_finds_patterns_already_in_a_prompt():
    found = identify_patterns(
        "You are an expert editor. Think step by step.\nExamples:\nInput: a\nOutput: b\n"
        "Respond with only the label.")
    assert {"role", "chain-of-thought", "few-shot", "output-format"} <= set(found)
    assert "json-output" not in found and "system-role" not in found


def test_template_names_placeholders_and_defaults():
    t = pattern_template("role")
    assert t["placeholders"] == ["role", "prompt"] and "role" in t["defaults"]


def test_search_ranks_by_relevance_and_measured_success():
    hits = search("structured JSON output for parsing")
    assert hits[0].pattern.id == "json-output"
    base = [h.pattern.id for h in search("reasoning step by step", domain="math")]
    assert "chain-of-thought" in base[:3]
    # plan-and-solve proven in math lifts it above chain-of-thought
    stats = {stats_key("plan-and-solve", "math", "m"): {"alpha": 40.0, "beta": 1.0},
             stats_key("chain-of-thought", "math", "m"): {"alpha": 1.0, "beta": 40.0}}
    ranked = [h.pattern.id for h in search("reasoning step by step", domain="math", stats=stats)]
    assert ranked.index("plan-and-solve") < ranked.index("chain-of-thought")
    assert search("zzqx nonsense")[:1] == []
