"""Experiment files: promptfoo configs read as promptfoo reads them, checked before any call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptopt.experiment_file import (
    ExperimentFileError,
    Notes,
    experiment_id_for,
    find_config,
    load_experiment,
    parse_experiment,
    read_experiment,
)
from promptopt.experiment_file.assertions import assertion_from_string
from promptopt.experiment_file.providers import litellm_id

EXAMPLE = Path(__file__).parents[3] / "examples" / "sentiment.yaml"
PROMPT = "Classify the sentiment of this review: {{review}}"


def config(**extra):
    return {"prompts": [PROMPT], "providers": ["sim/small"],
            "tests": [{"vars": {"review": "Great!"}}], **extra}


def test_the_example_loads_with_its_default_assertions_merged():
    spec = load_experiment(EXAMPLE)
    assert len(spec.test_cases) == 40
    first = spec.test_cases[0]
    assert [a.type for a in first.all_assertions()] == ["iequals", "length"]
    assert spec.analysis.design == "sequential" and spec.analysis.min_effect == 0.0
    assert experiment_id_for(spec) == experiment_id_for(load_experiment(EXAMPLE))


@pytest.mark.parametrize(("promptfoo", "litellm"), [
    ("openai:gpt-4o-mini", "openai/gpt-4o-mini"),
    ("openai:chat:gpt-4o", "openai/gpt-4o"),
    ("anthropic:messages:claude-3-5-haiku-latest", "anthropic/claude-3-5-haiku-latest"),
    ("azure:chat:my-deployment", "azure/my-deployment"),
    ("ollama:chat:llama3.1:8b", "ollama_chat/llama3.1:8b"),
    ("openrouter:meta-llama/llama-3-70b", "openrouter/meta-llama/llama-3-70b"),
    ("mistral:mistral-large-latest", "mistral/mistral-large-latest"),
    ("replicate:meta/llama-2-70b-chat", "replicate/meta/llama-2-70b-chat"),
    ("echo", "sim/echo"),
    ("openai/gpt-4o-mini", "openai/gpt-4o-mini"),
])
def test_provider_ids_map_to_litellm(promptfoo, litellm):
    assert litellm_id(promptfoo, "providers.0") == litellm


def test_a_promptfoo_config_is_read_as_it_is(tmp_path):
    (tmp_path / "prompt.txt").write_text("Translate to French: {{text}}")
    spec = parse_experiment({
        "description": "translation",
        "prompts": ["file://prompt.txt"],
        "providers": ["openai:gpt-4o-mini",
                      {"id": "anthropic:messages:claude-3-haiku", "label": "haiku",
                       "config": {"temperature": 0.2, "max_tokens": 100,
                                  "apiKeyEnvar": "MY_ANTHROPIC_KEY",
                                  "apiBaseUrl": "https://llm.internal/v1"}}],
        "tests": [{"vars": {"text": "hello"}, "assert": [{"type": "icontains",
                                                            "value": "bonjour"}]}],
    }, base=tmp_path)
    assert spec.prompt == "Translate to French: {{text}}" and spec.name == "translation"
    haiku = spec.models[1]
    assert (haiku.id, haiku.label, haiku.temperature, haiku.max_tokens) == (
        "anthropic/claude-3-haiku", "haiku", 0.2, 100)
    assert haiku.api_key_env == "MY_ANTHROPIC_KEY" and haiku.api_base == "https://llm.internal/v1"
    assert spec.n_variations == 3  # one prompt: the optimizer adds candidates


def test_several_prompts_are_arms_the_first_the_control(tmp_path):
    (tmp_path / "prompts.txt").write_text("Answer briefly: {{q}}\n---\nAnswer in detail: {{q}}\n")
    (tmp_path / "chat.json").write_text(json.dumps(
        [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Please answer: {{q}}"}]))
    spec = parse_experiment({
        "prompts": ["file://prompts.txt", {"id": "file://chat.json", "label": "terse chat"},
                    {"raw": "Reply in one word: {{q}}", "label": "one-word"}],
        "providers": ["sim/small"], "tests": [{"vars": {"q": "why"}}]}, base=tmp_path)
    assert spec.prompt == "Answer briefly: {{q}}" and spec.control_label == "prompts.txt:1"
    assert [a.label for a in spec.arms] == ["prompts.txt:2", "terse chat", "one-word"]
    assert spec.arms[1].system == "You are terse." and spec.arms[1].prompt == "Please answer: {{q}}"
    assert spec.n_variations == 0  # an A/B test of the user's own prompts


def test_per_provider_prompts_restrict_which_models_run_which_prompt():
    spec = parse_experiment({
        "prompts": [{"raw": "GPT style prompt: {{q}}", "label": "gpt_prompt"},
                    {"raw": "Claude style prompt: {{q}}", "label": "claude_prompt"}],
        "providers": [{"id": "openai:gpt-4o", "prompts": ["gpt_prompt"]},
                      {"id": "anthropic:claude-3-haiku", "prompts": ["claude_prompt"]}],
        "tests": [{"vars": {"q": "x"}}]})
    assert spec.control_models == ("openai/gpt-4o",)
    assert spec.arms[0].models == ("anthropic/claude-3-haiku",)


def test_a_multi_turn_chat_stays_a_chat_and_is_not_rewritten(tmp_path):
    turns = [{"role": "system", "content": "Tutor."}, {"role": "user", "content": "What is x?"},
             {"role": "assistant", "content": "A variable."}, {"role": "user", "content": "{{q}}"}]
    (tmp_path / "conv.json").write_text(json.dumps(turns))
    with pytest.raises(ExperimentFileError, match=r"multi-turn chat.*variations: 0"):
        parse_experiment({"prompts": ["file://conv.json"], "providers": ["sim/small"],
                          "tests": [{"vars": {"q": "and y?"}}]}, base=tmp_path)
    spec = parse_experiment({"prompts": ["file://conv.json"], "providers": ["sim/small"],
                             "variations": 0, "tests": [{"vars": {"q": "and y?"}}]},
                            base=tmp_path)
    assert json.loads(spec.prompt) == turns


def test_tests_from_csv_with_promptfoo_special_columns(tmp_path):
    (tmp_path / "tests.csv").write_text(
        "review,__expected,__expected2,__description,__threshold,__metadata:topic,__metric\n"
        '"Great phone!",icontains: positive,"not-contains: negative",happy,0.5,phones,sentiment\n'
        '"Awful.",fn: output.length < 100,"similar(0.7): it is negative",,,tv,\n')
    spec = parse_experiment(config(tests="file://tests.csv"), base=tmp_path)
    first, second = spec.test_cases
    assert first.id == "happy" and first.threshold == 0.5 and first.metadata == {"topic": "phones"}
    assert [(a.type, a.value, a.metric) for a in first.assertions] == [
        ("icontains", "positive", "sentiment"), ("not-contains", "negative", "sentiment")]
    assert second.vars == {"review": "Awful."}
    assert [(a.type, a.threshold) for a in second.assertions] == [("javascript", None),
                                                                  ("similar", 0.7)]


@pytest.mark.parametrize(("cell", "expected"), [
    ("Paris", {"type": "equals", "value": "Paris"}),
    ("contains-any: a, b", {"type": "contains-any", "value": ["a", "b"]}),
    ("grade: is polite", {"type": "llm-rubric", "value": "is polite"}),
    ("python: len(output) > 2", {"type": "python", "value": "len(output) > 2"}),
    ("rouge-n(0.6): the reference", {"type": "rouge-n", "value": "the reference",
                                     "threshold": 0.6}),
    ("not-regex: ^Sorry", {"type": "not-regex", "value": "^Sorry"}),
    ("is-json", {"type": "is-json", "value": None}),
])
def test_csv_assertion_strings(cell, expected):
    assert assertion_from_string(cell) == expected


def test_tests_from_yaml_and_jsonl_files_and_globs(tmp_path):
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "a.yaml").write_text("- vars: {review: one}\n- vars: {review: two}\n")
    (tmp_path / "cases" / "b.jsonl").write_text('{"vars": {"review": "three"}}\n')
    spec = parse_experiment(config(tests=["file://cases/*.yaml", "file://cases/b.jsonl",
                                          {"vars": {"review": "four"}}]), base=tmp_path)
    assert [t.vars["review"] for t in spec.test_cases] == ["one", "two", "three", "four"]


def test_default_test_is_merged_and_array_vars_expand_as_a_product(tmp_path):
    (tmp_path / "long.txt").write_text("A long review from a file.")
    spec = parse_experiment({
        "prompts": ["Translate {{text}} into {{language}} please"],
        "providers": ["sim/small"],
        "defaultTest": {"vars": {"language": ["French", "German"]},
                        "assert": [{"type": "not-contains", "value": "error"}],
                        "options": {"transform": "output.trim()"}},
        "tests": [{"description": "pair", "vars": {"text": ["hi", "file://long.txt"]},
                   "assert": [{"type": "contains", "value": "{{language}}"}]}]}, base=tmp_path)
    combos = [(t.vars["text"], t.vars["language"]) for t in spec.test_cases]
    long = "A long review from a file."
    assert combos == [("hi", "French"), (long, "French"), ("hi", "German"), (long, "German")]
    assert [t.id for t in spec.test_cases][:2] == ["pair [1]", "pair [2]"]
    first = spec.test_cases[0]
    assert [a.type for a in first.assertions] == ["not-contains", "contains"]
    assert first.transform == "output.trim()"


def test_the_grader_comes_from_default_test_options_provider():
    spec = parse_experiment(config(
        defaultTest={"options": {"provider": {"text": "openai:gpt-4o-mini",
                                              "embedding": "openai:text-embedding-3-small"}}},
        tests=[{"vars": {"review": "x"},
                "assert": [{"type": "llm-rubric", "value": "is kind"},
                           {"type": "similar", "value": "kind"},
                           {"type": "answer-relevance"},
                           {"type": "factuality", "value": "x", "provider": "sim/judge"}]}]))
    rubric, similar, relevance, fact = spec.test_cases[0].assertions
    assert rubric.provider.id == "openai/gpt-4o-mini" and rubric.embedder is None
    assert similar.provider is None and similar.embedder.id == "openai/text-embedding-3-small"
    assert relevance.provider.id == "openai/gpt-4o-mini"
    assert relevance.embedder.id == "openai/text-embedding-3-small"
    assert fact.provider.id == "sim/judge"


def test_the_same_model_twice_gets_a_variant_each_and_identical_copies_are_refused():
    labelled = parse_experiment(config(providers=[
        {"id": "openai:gpt-4o-mini", "label": "cold", "config": {"temperature": 0}},
        {"id": "openai:gpt-4o-mini", "label": "hot", "config": {"temperature": 1}},
        "sim/small"]))
    assert [m.key for m in labelled.models] == [
        "openai/gpt-4o-mini#cold", "openai/gpt-4o-mini#hot", "sim/small"]
    unlabelled = parse_experiment(config(providers=[
        {"id": "sim/small", "config": {"temperature": 0}},
        {"id": "sim/small", "config": {"temperature": 1}}]))
    variants = [m.variant for m in unlabelled.models]
    assert len(set(variants)) == 2 and all(len(v) == 8 for v in variants)
    with pytest.raises(ExperimentFileError, match="listed twice with the same options"):
        parse_experiment(config(providers=["sim/small", {"id": "sim/small", "label": "x"}]))
    # per-provider prompts name a copy by its label
    spec = parse_experiment(config(
        prompts=[{"raw": PROMPT, "label": "a"}, {"raw": PROMPT + "!", "label": "b"}],
        providers=[{"id": "sim/small", "label": "cold", "prompts": ["a"]},
                   {"id": "sim/small", "label": "hot", "config": {"temperature": 1}}]))
    assert spec.control_models == ()  # every model
    assert spec.arms[0].models == ("sim/small#hot",)


def test_prefix_and_suffix_from_options_and_csv_columns(tmp_path):
    (tmp_path / "t.csv").write_text("review,__prefix,__suffix\nGreat!,Note: ,\nBad,, (be brief)\n")
    spec = parse_experiment(config(tests="file://t.csv",
                                   defaultTest={"options": {"suffix": " Answer now."}}),
                            base=tmp_path)
    first, second = spec.test_cases
    assert (first.prefix, first.suffix) == ("Note: ", " Answer now.")
    assert (second.prefix, second.suffix) == (None, " (be brief)")


def test_an_assert_set_is_read_with_its_members_and_their_grader():
    spec = parse_experiment(config(
        defaultTest={"options": {"provider": "sim/judge"}},
        tests=[{"vars": {"review": "x"}, "assert": [
            {"type": "assert-set", "threshold": 0.5, "weight": 2, "metric": "tone", "assert": [
                {"type": "icontains", "value": "{{review}}"},
                {"type": "llm-rubric", "value": "is polite"}]}]}]))
    [group] = spec.test_cases[0].assertions
    assert (group.type, group.threshold, group.weight, group.metric) == (
        "assert-set", 0.5, 2, "tone")
    contains, rubric = group.assertions
    assert contains.value == "{{review}}" and rubric.provider.id == "sim/judge"
    assert [a.type for a in spec.test_cases[0].every_assertion()] == [
        "assert-set", "icontains", "llm-rubric"]


def test_file_scripts_are_embedded_so_any_worker_can_run_them(tmp_path):
    (tmp_path / "check.py").write_text("def get_assert(output, context):\n    return True\n")
    spec = parse_experiment(config(tests=[{"vars": {"review": "x"}, "assert": [
        {"type": "python", "value": "file://check.py"}]}]), base=tmp_path)
    value = spec.test_cases[0].assertions[0].value
    assert value["language"] == "python" and "get_assert" in value["script"]


def test_api_key_in_the_file_is_refused_saying_what_to_do():
    with pytest.raises(ExperimentFileError, match="apiKeyEnvar: OPENAI_API_KEY"):
        parse_experiment(config(providers=[{"id": "openai:gpt-4o",
                                            "config": {"apiKey": "sk-123"}}]))
    with pytest.raises(ExperimentFileError, match="environment variable"):
        parse_experiment(config(providers=None, models=[{"id": "openai/gpt-4o",
                                                        "api_key": "sk-123"}]))


@pytest.mark.parametrize(("extra", "message"), [
    ({"variatons": 2}, "unknown key `variatons` .did you mean `variations`"),
    ({"defaultTest": {"asert": []}}, "unknown key `asert` .did you mean `assert`"),
    ({"tests": [{"vars": {"review": "x"}, "assert": [{"type": "contians", "value": "a"}]}]},
     "unknown assertion type 'contians' .did you mean `contains`"),
    ({"tests": [{"vars": {"review": "x"}, "assert": [{"type": "assert-set"}]}]},
     "assert.0.assert: an assert-set needs a list of assertions"),
    ({"tests": [{"vars": {"review": "x"}, "assert": [{"type": "assert-set", "assert": [
        {"type": "assert-set", "assert": [{"type": "equals", "value": "x"}]}]}]}]},
     "assert.0.assert.0: an assert-set cannot hold another assert-set"),
    ({"tests": [{"vars": {"review": "x"}, "assert": [{"type": "assert-set", "assert": [
        {"type": "regex", "value": "(a"}]}]}]}, "assert.0.assert.0: invalid regex"),
    ({"scenarios": []}, "not supported: scenarios"),
    ({"tests": [{"vars": {"review": "x"}, "options": {"suffix": " by {{author}}"}}]},
     "uses {{author}}, which the test does not define"),
    ({"providers": ["python:my_provider.py"]}, "not supported: Python providers"),
    ({"providers": [{"id": "openai:gpt-4o", "config": {"temprature": 0}}]},
     "temprature: not supported .did you mean `temperature`"),
    ({"tests": [{"vars": {"review": "x"}, "assert": [{"type": "regex", "value": "(a"}]}]},
     "invalid regex"),
    ({"tests": [{"vars": {"review": "x"}, "assert": [{"type": "javascript"}]}]}, "needs code"),
    ({"prompts": ["short"]}, "5 characters; a prompt has 10 to 10,000"),
    ({"prompts": ["x" * 10_001]}, "10,001 characters"),
    ({"prompts": ["Hello {{ name"]}, "template syntax error"),
    ({"alpha": 2}, "alpha: Input should be less than 1"),
    ({"prompts": ["file://missing.txt"]}, "missing.txt not found"),
    ({"providers": None}, "no model"),
])
def test_bad_files_get_a_clear_error_before_any_call(extra, message, tmp_path):
    with pytest.raises(ExperimentFileError, match=message):
        parse_experiment(config(**extra), base=tmp_path)


def test_undefined_template_variables_are_reported_per_test_case():
    with pytest.raises(ExperimentFileError) as err:
        parse_experiment(config(
            prompts=[PROMPT, {"raw": "Is this review positive? {{reviw}}", "label": "typo"}],
            tests=[{"description": "ok", "vars": {"review": "Nice"}},
                   {"description": "empty", "vars": {}}]))
    text = str(err.value)
    assert "test 'ok': prompt 'typo' uses {{reviw}}" in text and "did you mean `review`" in text
    assert "test 'empty': prompt 'Classify" in text and "{{review}}" in text


def test_optional_variables_tested_in_conditions_need_not_be_defined():
    spec = parse_experiment(config(prompts=["{% if premium %}VIP: {% endif %}Help with {{review}}"]))
    assert spec.test_cases[0].vars == {"review": "Great!"}


def test_a_config_without_tests_runs_each_prompt_once():
    notes = Notes()
    spec = parse_experiment({"prompts": ["Write a haiku about autumn"], "providers": ["echo"]},
                            notes=notes)
    assert len(spec.test_cases) == 1 and spec.test_cases[0].assertions == ()
    assert spec.models[0].id == "sim/echo" and spec.models[0].input_cost_per_token == 0
    assert any("no tests" in w for w in notes.warnings)


def test_an_api_config_may_not_name_server_files():
    with pytest.raises(ExperimentFileError, match="file:// references are not read here"):
        parse_experiment(config(prompts=["file:///etc/passwd"]), base=None)


def test_a_folder_s_promptfooconfig_is_found_by_default(tmp_path):
    (tmp_path / "promptfooconfig.yaml").write_text(
        "prompts: ['Summarise this: {{text}}']\nproviders: [echo]\n"
        "tests: [{vars: {text: hi}}]\nsharing: true\n")
    assert find_config(tmp_path) == tmp_path / "promptfooconfig.yaml"
    loaded = read_experiment(tmp_path)
    assert loaded.spec.prompt == "Summarise this: {{text}}"
    assert any("sharing is ignored" in w for w in loaded.warnings)
    (tmp_path / "sub").mkdir()
    with pytest.raises(ExperimentFileError, match=r"no promptfooconfig\.yaml"):
        find_config(tmp_path / "sub")


def test_the_group_sequential_design_takes_its_looks_from_the_file():
    base = {"prompts": ["Classify: {{text}}"], "providers": ["sim/small"],
            "tests": [{"vars": {"text": "hi"}}], "design": "group-sequential"}
    assert parse_experiment({**base, "looks": 4}).analysis.timing() == (0.25, 0.5, 0.75, 1.0)
    assert parse_experiment({**base, "looks": [0.3, 1]}).analysis.looks == (0.3, 1.0)
    with pytest.raises(ExperimentFileError, match="looks"):
        parse_experiment({**base, "looks": [0.6, 0.3, 1]})


TWO_PROMPTS = [PROMPT, "Is this review positive or negative? {{review}}"]


def test_select_best_and_max_score_are_read_with_the_grader_of_the_file():
    spec = parse_experiment(config(
        prompts=TWO_PROMPTS, defaultTest={"options": {"provider": "sim:judge"}},
        tests=[{"vars": {"review": "Great!"}, "assert": [
            {"type": "icontains", "value": "positive"},
            {"type": "select-best", "value": "the clearest answer"},
            {"type": "max-score", "value": {"method": "sum", "weights": {"icontains": 2}}}]}]))
    test = spec.test_cases[0]
    assert [a.type for a in test.comparisons()] == ["select-best", "max-score"]
    assert [a.type for a in test.own_assertions()] == ["icontains"]
    assert test.comparisons()[0].provider.id == "sim/judge"


@pytest.mark.parametrize(("asserts", "message"), [
    ([{"type": "select-best"}], "select-best.*needs the selection criteria"),
    ([{"type": "max-score", "value": {"method": "median"}}], "method is average or sum"),
    ([{"type": "max-score", "value": {"treshold": 0.5}}], r"max-score's value is \{method"),
    ([{"type": "not-select-best", "value": "x"}], "not supported: not-select-best"),
    ([{"type": "assert-set", "assert": [{"type": "max-score"}]}],
     "max-score compares whole answers; put it in the test's assert"),
    ([{"type": "select-best", "value": "a"}, {"type": "select-best", "value": "b"}],
     "at most one select-best per test case"),
])
def test_bad_comparisons_get_a_clear_error(asserts, message, tmp_path):
    with pytest.raises(ExperimentFileError, match=message):
        parse_experiment(config(prompts=TWO_PROMPTS, tests=[{"vars": {"review": "x"},
                                                             "assert": asserts}]), base=tmp_path)


def test_a_comparison_with_a_single_prompt_is_refused_before_any_call():
    with pytest.raises(ExperimentFileError, match="this config has one prompt"):
        parse_experiment(config(variations=0, tests=[{"vars": {"review": "x"}, "assert": [
            {"type": "select-best", "value": "the best"}]}]))
    # optimizer candidates are prompts to compare too
    parse_experiment(config(variations=2, tests=[{"vars": {"review": "x"}, "assert": [
        {"type": "select-best", "value": "the best"}]}]))


@pytest.mark.parametrize(("provider", "model_id"), [
    (None, None),  # PROMPTOPT_MODERATION_MODEL (OpenAI's, as promptfoo's default)
    ("openai:moderation", "openai/omni-moderation-latest"),
    ("openai:moderation:text-moderation-latest", "openai/text-moderation-latest"),
    ("sim:moderation", "sim/moderation"),
])
def test_moderation_reads_promptfoo_s_openai_moderation_providers(provider, model_id):
    assertion = {"type": "moderation", "value": ["hate", "violence"]}
    if provider:
        assertion["provider"] = provider
    spec = parse_experiment(config(defaultTest={"options": {"provider": "sim:judge"}},
                                   tests=[{"vars": {"review": "x"}, "assert": [assertion]}]))
    [moderation] = spec.test_cases[0].assertions
    assert moderation.value == ["hate", "violence"]
    # a text grader of the file is no moderator
    assert (moderation.provider.id if moderation.provider else None) == model_id


@pytest.mark.parametrize(("assertion", "message"), [
    ({"type": "moderation", "provider": "replicate:moderation:meta/llama-guard-3-8b"},
     "not supported: replicate moderation"),
    ({"type": "moderation", "provider": "azure:moderation"}, "not supported: azure moderation"),
    ({"type": "moderation", "value": {"hate": True}}, "takes a list of categories"),
])
def test_moderation_refuses_what_it_cannot_run(assertion, message):
    with pytest.raises(ExperimentFileError, match=message):
        parse_experiment(config(tests=[{"vars": {"review": "x"}, "assert": [assertion]}]))
