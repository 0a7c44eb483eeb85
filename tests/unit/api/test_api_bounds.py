"""Strict bounds on what a request may carry (issue 12, items 2, 4, 5 and 7): unstorable
characters, NaN/Infinity, out-of-range numbers, oversized strings and nesting are 422s
naming the field; bodies and events over the broker's limit are 413s, never 503s."""

from __future__ import annotations

import json

import pytest

from promptopt.settings import Settings


def post(api, path: str, body, **headers):
    return api.client.post(path, content=json.dumps(body).encode(),
                           headers={**api.auth(), "content-type": "application/json",
                                    **headers})


def field_of(response) -> str:
    assert response.status_code == 422, response.text
    return response.json()["error"]["details"][0]["field"]


@pytest.mark.parametrize("path, value, field", [
    (("prompt",), "Classify \u0000 this: {{review}}", "prompt"),
    (("system",), "be\u0000nice", "system"),
    (("test_cases", 0, "vars", "review"), "a\u0000b", "test_cases.0.vars"),
    (("test_cases", 0, "vars"), {"re\u0000view": "x"}, "test_cases.0.vars"),
    (("test_cases", 0, "expected"), "pos\u0000", "test_cases.0.expected"),
    (("test_cases", 0, "id"), "t\u0000", "test_cases.0.id"),
    (("name",), "lone \ud800 surrogate", "name"),
    (("models", 0, "api_base"), "http://h\u0000ost/v1", "models.0.api_base"),
])
def test_unstorable_characters_are_a_422_naming_the_field(api, spec_body, path, value, field):
    # Regression: a NUL in a prompt was accepted with 202, then jammed the PostgreSQL sink.
    body = spec_body()
    node = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    response = post(api, "/api/v1/optimize", body)
    assert field_of(response) == field
    message = response.json()["error"]["message"]
    assert "cannot be stored" in message or "unable to parse raw data as a unicode" in message
    assert api.bus.published == []


@pytest.mark.parametrize("model, field", [
    ({"max_tokens": -1}, "models.0.max_tokens"),
    ({"max_tokens": 10**12}, "models.0.max_tokens"),
    ({"temperature": -100}, "models.0.temperature"),
    ({"temperature": float("nan")}, "models.0.temperature"),
    ({"input_cost_per_token": -0.5}, "models.0.input_cost_per_token"),
    ({"output_cost_per_token": float("inf")}, "models.0.output_cost_per_token"),
    ({"id": "x" * 100_000}, "models.0.id"),
    ({"id": "openai/gpt 4o; rm -rf"}, "models.0.id"),
    ({"rpm": 0}, "models.0.rpm"),
    ({"seed": 2**70}, "models.0.seed"),
])
def test_model_options_out_of_bounds_are_422(api, spec_body, model, field):
    body = spec_body()
    body["models"][0].update(model)
    # json.dumps writes NaN/Infinity literals, as a careless client would.
    assert field_of(post(api, "/api/v1/optimize", body)) == field


@pytest.mark.parametrize("change, field", [
    ({"system": "s" * 100_000}, "system"),
    ({"domain": "d" * 100_000}, "domain"),
    ({"name": "n" * 1000}, "name"),
    ({"budget": {"max_cost_usd": -1}}, "budget.max_cost_usd"),
    ({"target_score": float("inf")}, "target_score"),
    ({"analysis": {"min_effect": 5}}, "analysis.min_effect"),
    ({"analysis": {"alpha": float("nan")}}, "analysis.alpha"),
])
def test_spec_fields_out_of_bounds_are_422(api, spec_body, change, field):
    assert field_of(post(api, "/api/v1/optimize", {**spec_body(), **change})) == field


def test_optimize_and_analyze_share_the_prompt_limits(api, spec_body):
    # Regression: /optimize took a 2-character prompt that /analyze refused.
    for short in ("hi", "   too short   "):
        assert field_of(post(api, "/api/v1/optimize", {**spec_body(), "prompt": short})) \
            == "prompt"
        assert field_of(post(api, "/api/v1/analyze", {"prompt": short})) == "prompt"
    long = "word " * 2001
    assert field_of(post(api, "/api/v1/optimize", {**spec_body(), "prompt": long})) == "prompt"
    assert field_of(post(api, "/api/v1/analyze", {"prompt": long})) == "prompt"
    ten = "Classify this"
    assert post(api, "/api/v1/analyze", {"prompt": ten, "tokens": False}).status_code == 200


def test_vars_nested_300_deep_are_a_422_not_a_500(api, spec_body):
    # Regression: vars ~300 levels deep were a 500.
    deep: object = "x"
    for _ in range(300):
        deep = {"a": deep}
    body = spec_body()
    body["test_cases"][0]["vars"] = {"review": deep}
    response = post(api, "/api/v1/optimize", body)
    assert field_of(response) == "test_cases.0.vars"
    assert "nested deeper than 32" in response.json()["error"]["message"]


def test_a_nul_in_the_path_is_a_422_not_a_500(api):
    # Regression: /api/v1/test/%00/results was a 500 (PostgreSQL refused the NUL).
    for path in ("/api/v1/test/%00/results", "/api/v1/stream/%00", "/api/v1/test/a%00b/stop"):
        method = api.client.post if path.endswith("stop") else api.client.get
        response = method(path, headers=api.auth())
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["details"][0]["field"] == "path.experiment_id"


def test_planned_trials_over_the_limit_are_a_422(make_api, spec_body):
    api = make_api()
    body = {**spec_body(n_tests=400), "n_variations": 20,
            "analysis": {"repetitions": 100}}  # 400 x 21 x 100 = 840,000 trials
    response = post(api, "/api/v1/optimize", body)
    assert field_of(response) == "test_cases"
    assert "plans 840000 trials" in response.json()["error"]["message"]


def test_the_default_budget_cap_applies_and_cannot_be_exceeded(api, spec_body):
    cap = Settings().experiment_max_cost_usd
    assert post(api, "/api/v1/optimize", spec_body()).status_code == 202
    [(_, event)] = api.bus.published
    assert event.spec.budget.max_cost_usd == cap  # none stated: the cap is the budget
    over = {**spec_body(), "budget": {"max_cost_usd": cap * 10}}
    assert field_of(post(api, "/api/v1/optimize", over)) == "budget.max_cost_usd"
    under = {**spec_body(), "budget": {"max_cost_usd": cap / 2}}
    assert post(api, "/api/v1/optimize", under).status_code == 202


def test_a_body_over_the_limit_is_a_413_that_says_why_not_a_503(api, spec_body):
    # Regression: a 1-2 MB body passed the 2 MB limit, then Kafka refused it and the caller
    # got 503 "Kafka is unavailable" with Retry-After, so clients retried forever.
    body = spec_body()
    body["test_cases"][0]["vars"]["review"] = "x" * 1_200_000
    response = post(api, "/api/v1/optimize", body)
    assert response.status_code == 413
    assert "retry-after" not in response.headers
    message = response.json()["error"]["message"]
    assert "over 900000 bytes" in message and "broker takes at most" in message


def test_an_event_over_the_broker_limit_is_a_413_and_nothing_is_recorded(make_api, spec_body):
    api = make_api(max_body_bytes=5_000_000)  # a body limit set too high: the event check holds
    body = spec_body(n_tests=20)
    for case in body["test_cases"]:
        case["vars"]["review"] = "y" * 60_000
    response = post(api, "/api/v1/optimize", body)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["details"]["max_event_bytes"] == Settings().kafka_max_message_bytes
    assert "retry-after" not in response.headers
    assert api.bus.published == [] and api.store.experiments == {}


@pytest.mark.parametrize("api_base", [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://127.0.0.1:6379/", "http://[::1]:5432/", "http://10.0.0.7/v1",
    "http://2130706433/v1", "http://0x7f.0.0.1/v1",  # 127.0.0.1 in disguise
    "https://attacker.example/v1", "http://user:secret@api.openai.com/v1",
    "file:///etc/passwd", "gopher://127.0.0.1:25/",
])
def test_an_api_base_the_settings_do_not_allow_is_a_422(api, spec_body, api_base):
    # Regression: models[].api_base sent the worker's requests (and keys) anywhere.
    body = spec_body()
    body["models"][0]["api_base"] = api_base
    response = post(api, "/api/v1/optimize", body)
    assert field_of(response) == "models.0.api_base"
    assert api.bus.published == [] and api.store.experiments == {}


def test_the_simulator_and_listed_hosts_are_allowed(make_api, spec_body):
    body = spec_body()
    body["models"][0]["api_base"] = Settings().sim_base_url
    api = make_api()
    assert post(api, "/api/v1/optimize", body).status_code == 202
    body["optimizer_model"] = {"id": "openai/gpt-4o-mini",
                               "api_base": "http://127.0.0.1:9999/v1"}
    assert field_of(post(api, "/api/v1/optimize", body)) == "optimizer_model.api_base"
