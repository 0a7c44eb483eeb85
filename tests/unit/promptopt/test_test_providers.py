"""promptfoo's per-test `provider` and `providers` filter, as the experiment file reads them:
the models each test case runs on (TestCase.models), models only tests name, defaultTest."""

from __future__ import annotations

import pytest

from promptopt.experiment_file import ExperimentFileError, parse_experiment

PROVIDERS = [{"id": "openai:gpt-4o-mini", "label": "fast"},
             {"id": "openai:gpt-4o", "label": "smart"},
             "anthropic:messages:claude-3-5-haiku-latest"]


def spec_of(*tests, default=None, providers=PROVIDERS, prompts=("Answer: {{q}}",)):
    raw = {"prompts": list(prompts), "providers": providers,
           "tests": [{"vars": {"q": "x"}, **t} for t in tests]}
    if default is not None:
        raw["defaultTest"] = default
    return parse_experiment(raw)


def models_of(spec):
    return {t.id: t.models for t in spec.test_cases}


def test_a_providers_filter_matches_labels_ids_wildcards_and_bare_prefixes():
    spec = spec_of({"id": "label", "providers": ["fast"]},
                   {"id": "id", "providers": ["openai:gpt-4o"]},
                   {"id": "wildcard", "providers": ["openai:*"]},
                   {"id": "prefix", "providers": ["anthropic"]},
                   {"id": "all"})
    assert models_of(spec) == {
        "label": ("openai/gpt-4o-mini",), "id": ("openai/gpt-4o",),
        "wildcard": ("openai/gpt-4o-mini", "openai/gpt-4o"),
        "prefix": ("anthropic/claude-3-5-haiku-latest",), "all": ()}
    assert len(spec.models) == 3


def test_a_filter_naming_no_provider_is_an_error_with_the_likely_one():
    with pytest.raises(ExperimentFileError, match=r"tests\.0\.providers: no provider is "
                       r"'fsat' \(did you mean `fast`\?\)"):
        spec_of({"providers": ["fsat"]})


def test_a_tests_own_provider_is_a_model_only_that_test_runs_on():
    spec = spec_of({"id": "own", "provider": "groq:llama-3.1-8b-instant"}, {"id": "rest"})
    assert [m.id for m in spec.models][-1] == "groq/llama-3.1-8b-instant"
    # the other test names the listed providers, so it does not run on the test's model
    assert models_of(spec) == {"own": ("groq/llama-3.1-8b-instant",),
                               "rest": ("openai/gpt-4o-mini", "openai/gpt-4o",
                                        "anthropic/claude-3-5-haiku-latest")}
    assert spec.cells() == 1 + 3


def test_a_tests_provider_naming_a_listed_one_by_label_or_id_is_that_model():
    spec = spec_of({"id": "by-label", "provider": "smart"},
                   {"id": "by-id", "provider": "openai:gpt-4o-mini"},
                   {"id": "same-options", "provider": {"id": "openai:gpt-4o"}})
    assert len(spec.models) == 3
    assert models_of(spec) == {"by-label": ("openai/gpt-4o",),
                               "by-id": ("openai/gpt-4o-mini",),
                               "same-options": ("openai/gpt-4o",)}


def test_a_tests_provider_with_other_options_is_a_variant_of_the_listed_model():
    spec = spec_of({"id": "hot", "provider": {"id": "openai:gpt-4o", "label": "hot",
                                              "config": {"temperature": 0.9}}},
                   providers=["openai:gpt-4o"])
    # the same model twice: each copy is a variant (the listed one by its options)
    listed, hot = (m.key for m in spec.models)
    assert listed.startswith("openai/gpt-4o#") and hot == "openai/gpt-4o#hot"
    assert models_of(spec) == {"hot": ("openai/gpt-4o#hot",)}
    assert spec.models[1].temperature == 0.9


def test_default_test_provider_and_filter_are_inherited_and_a_test_overrides_them():
    spec = spec_of({"id": "inherits"}, {"id": "overrides", "providers": ["smart"]},
                   default={"providers": ["fast"]})
    assert models_of(spec) == {"inherits": ("openai/gpt-4o-mini",),
                               "overrides": ("openai/gpt-4o",)}


def test_a_filter_and_an_own_provider_run_the_test_on_its_own_provider():
    spec = spec_of({"id": "both", "providers": ["fast"], "provider": "smart"})
    assert models_of(spec) == {"both": ("openai/gpt-4o",)}


def test_a_name_two_providers_share_is_an_error_asking_for_the_label():
    with pytest.raises(ExperimentFileError, match="is 2 providers"):
        spec_of({"provider": "openai/gpt-4o"},
                providers=[{"id": "openai:gpt-4o", "label": "a", "config": {"seed": 1}},
                           {"id": "openai:gpt-4o", "label": "b", "config": {"seed": 2}}])


def test_a_test_on_a_model_no_prompt_runs_on_is_an_error():
    raw = {"prompts": [{"raw": "Answer: {{q}}", "label": "p"}],
           "providers": [{"id": "openai:gpt-4o-mini", "label": "fast", "prompts": ["p"]},
                         {"id": "openai:gpt-4o", "label": "smart", "prompts": []}],
           "tests": [{"vars": {"q": "x"}, "providers": ["smart"]}]}
    with pytest.raises(ExperimentFileError, match="no prompt runs on its models"):
        parse_experiment(raw)


def test_a_prompt_limited_to_some_providers_still_runs_a_tests_own_provider():
    raw = {"prompts": [{"raw": "Answer: {{q}}", "label": "a"},
                       {"raw": "Reply: {{q}}", "label": "b"}],
           "providers": [{"id": "openai:gpt-4o-mini", "prompts": ["a"]},
                         {"id": "openai:gpt-4o", "prompts": ["b"]}],
           "tests": [{"vars": {"q": "x"}, "provider": "groq:llama-3.1-8b-instant"}]}
    spec = parse_experiment(raw)
    assert set(spec.control_models) == {"openai/gpt-4o-mini", "groq/llama-3.1-8b-instant"}
    assert set(spec.arms[0].models) == {"openai/gpt-4o", "groq/llama-3.1-8b-instant"}
    assert spec.cells(spec.control_models) == spec.cells(spec.arms[0].models) == 1


def test_a_tests_provider_is_checked_like_a_listed_one():
    with pytest.raises(ExperimentFileError, match=r"tests\.0\.provider\.config\.apiKey"):
        spec_of({"provider": {"id": "openai:gpt-4o", "config": {"apiKey": "sk-x"}}})
    with pytest.raises(ExperimentFileError, match=r"tests\.0\.provider: not supported: "
                                                  "HTTP providers"):
        spec_of({"provider": "https://example.com/api"})
