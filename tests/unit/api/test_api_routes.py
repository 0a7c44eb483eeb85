"""The REST endpoints over the fake store and bus: what each publishes, reads and refuses."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.events import ExperimentControl, PromptSubmitted, VariationGenerated


def published(api, topic: str) -> list:
    return [event for name, event in api.bus.published if name == topic]


def test_optimize_publishes_the_spec_for_the_user(api, spec_body):
    response = api.client.post("/api/v1/optimize", json=spec_body(), headers=api.auth())
    assert response.status_code == 202
    data = response.json()["data"]
    [event] = published(api, "prompt-submitted")
    assert isinstance(event, PromptSubmitted)
    assert event.experiment_id == data["experiment_id"]
    assert data["experiment_id"].startswith("unit-sentiment-")
    assert (event.team_id, event.user_id) == (api.alice.team_id, api.alice.id)
    # Recorded with its owner before it was published: the team's from the first moment.
    assert [r.experiment_id for r in api.store.recorded] == [event.experiment_id]
    assert api.store.experiments[event.experiment_id].team_id == api.alice.team_id
    assert len(event.spec.test_cases) == 4 and event.spec.n_variations == 1
    assert data["links"]["stream"] == f"/api/v1/stream/{event.experiment_id}"


def test_optimize_twice_is_two_experiments(api, spec_body):
    ids = {api.client.post("/api/v1/optimize", json=spec_body(),
                           headers=api.auth()).json()["data"]["experiment_id"]
           for _ in range(2)}
    assert len(ids) == 2


def test_optimize_reads_a_promptfoo_config(api):
    config = {
        "description": "Promptfoo eval",
        "prompts": ["Summarize in one line: {{text}}"],
        "providers": ["openai:gpt-4o-mini"],
        "tests": [{"vars": {"text": "a"}, "assert": [{"type": "contains", "value": "a"}]},
                  {"vars": {"text": "b"}}],
        "variations": 2, "alpha": 0.01,
    }
    response = api.client.post("/api/v1/optimize", json={"config": config}, headers=api.auth())
    assert response.status_code == 202, response.text
    [event] = published(api, "prompt-submitted")
    assert [m.id for m in event.spec.models] == ["openai/gpt-4o-mini"]
    assert event.spec.analysis.alpha == 0.01 and event.spec.n_variations == 2
    assert event.spec.test_cases[0].assertions[0].type == "contains"


def test_config_beside_other_keys_is_refused(api):
    response = api.client.post("/api/v1/optimize", json={"config": {}, "prompt": "x"},
                               headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "prompt"


def test_test_create_publishes_the_given_variations_control_first(api, spec_body):
    body = {**spec_body(), "variations": [
        {"prompt": "Classify: {{review}}"},
        {"name": "terse", "prompt": "Sentiment of {{review}}? One word."},
        {"name": "role", "prompt": "You are an expert. Classify: {{review}}", "system": "Be exact."},
    ]}
    del body["prompt"]
    response = api.client.post("/api/v1/test/create", json=body, headers=api.auth())
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    eid = data["experiment_id"]
    assert published(api, "prompt-submitted") == []  # no optimizer involved
    [event] = published(api, "variation-generated")
    assert isinstance(event, VariationGenerated) and event.round == 1
    assert [v.variation_id for v in event.variations] == [f"{eid}-v0", f"{eid}-v1", f"{eid}-v2"]
    assert [v.is_control for v in event.variations] == [True, False, False]
    assert [v.name for v in event.variations] == ["control", "terse", "role"]
    assert event.variations[2].system == "Be exact."
    assert event.spec.prompt == "Classify: {{review}}"
    assert event.spec.n_variations == 2 and event.spec.max_rounds == 1
    assert [v["variation_id"] for v in data["variations"]] == [f"{eid}-v0", f"{eid}-v1",
                                                               f"{eid}-v2"]


def test_test_create_takes_a_promptfoo_configs_prompts_as_variations(api):
    config = {"prompts": [{"label": "plain", "raw": "Rate: {{x}}"}, "Rate from 1-5: {{x}}"],
              "providers": ["sim/small"], "tests": [{"vars": {"x": "good"}}]}
    response = api.client.post("/api/v1/test/create", json={"config": config},
                               headers=api.auth())
    assert response.status_code == 201, response.text
    [event] = published(api, "variation-generated")
    assert [(v.name, v.prompt) for v in event.variations] == [
        ("plain", "Rate: {{x}}"), ("variation-1", "Rate from 1-5: {{x}}")]


def test_test_create_needs_at_least_two_variations(api, spec_body):
    response = api.client.post("/api/v1/test/create",
                               json={**spec_body(), "variations": [
                                   {"prompt": "Only one prompt: {{review}}"}]},
                               headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("variations: give between 2 and 21")


def test_test_create_validates_each_variation(api, spec_body):
    response = api.client.post("/api/v1/test/create", json={
        **spec_body(), "variations": [{"prompt": "Rate this: {{review}}"}, {"prompt": "too short"}]},
        headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("variations.1.prompt:")


def results_row(round_: int = 1) -> dict:
    return {
        "experiment": {"id": "exp-1", "status": "completed",
                       "submitted_at": datetime(2026, 1, 1, tzinfo=UTC)},
        "rounds": [round_],
        "test": {"id": f"exp-1#r{round_}", "round": round_, "decision": "winner"},
        "variations": [{"variation_id": "exp-1-v0", "n": 4}],
        "analysis": {"final": True},
    }


def test_results_of_an_unknown_experiment_are_404(api):
    response = api.client.get("/api/v1/test/nope/results", headers=api.auth())
    assert response.status_code == 404
    assert "nope" in response.json()["error"]["message"]


def test_results_are_read_from_the_store(api):
    api.store.own("exp-1")
    api.store.results["exp-1"] = results_row()
    response = api.client.get("/api/v1/test/exp-1/results", headers=api.auth())
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["test"]["decision"] == "winner"
    assert data["experiment"]["submitted_at"] == "2026-01-01T00:00:00+00:00"
    assert api.client.get("/api/v1/test/exp-1/results", params={"round": 2},
                          headers=api.auth()).status_code == 404
    assert api.client.get("/api/v1/test/exp-1/results", params={"round": 0},
                          headers=api.auth()).status_code == 422


def test_stop_publishes_a_stop_command(api):
    api.store.own("exp-1")
    response = api.client.post("/api/v1/test/exp-1/stop", json={"reason": "enough"},
                               headers=api.auth())
    assert response.status_code == 202
    [event] = published(api, "experiment-control")
    assert isinstance(event, ExperimentControl)
    assert (event.experiment_id, event.command, event.reason) == ("exp-1", "stop", "enough")
    assert (event.team_id, event.user_id) == (api.alice.team_id, api.alice.id)


def test_stop_without_a_body_names_the_user(api):
    api.store.own("exp-1")
    assert api.client.post("/api/v1/test/exp-1/stop", headers=api.auth()).status_code == 202
    [event] = published(api, "experiment-control")
    assert event.reason == f"stopped by {api.alice.email}"


def test_stop_of_an_unknown_experiment_is_404_and_publishes_nothing(api):
    response = api.client.post("/api/v1/test/ghost/stop", headers=api.auth())
    assert response.status_code == 404
    assert api.bus.published == []


def test_analyze_returns_the_optimizer_rooms_analysis(api):
    response = api.client.post("/api/v1/analyze", headers=api.auth(), json={
        "prompt": "Classify the sentiment of this review: {{review}}", "tokens": False})
    assert response.status_code == 200
    data = response.json()["data"]
    assert 0 <= data["clarity"] <= 1 and 0 <= data["specificity"] <= 1
    assert "review" in data["components"]["variables"]
    assert {"code", "explanation"} <= set(data["issues"][0])


def test_analyze_refuses_a_too_short_prompt(api):
    response = api.client.post("/api/v1/analyze", json={"prompt": "hi"}, headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("prompt: prompt too short")


PREDICT = {"prompt": "You are an expert. Classify the sentiment of this review in one word: "
                     "{{review}}", "models": ["sim/small", "sim/large"],
           "domain": "classification"}


def test_predict_without_a_trained_predictor_says_how_to_train_one(make_api, tmp_path):
    api = make_api(predictor_path=str(tmp_path / "none.joblib"))
    response = api.client.post("/api/v1/predict", json=PREDICT, headers=api.auth())
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not-trained" and "--train" in error["message"]


def test_predict_serves_the_trained_predictor(make_api, tmp_path):
    from agents.optimizer.predictor import Measured, Predictor

    good = "You are an expert. Answer in one word: positive or negative. {{review}}"
    rows = [Measured(good if i % 2 else f"What about this {i}? {{{{review}}}}", None, (),
                     "sim/small", "classification", 0.9 if i % 2 else 0.3, 10, f"g{i}")
            for i in range(8)]
    path = Predictor.train(rows).save(tmp_path / "predictor.joblib")
    api = make_api(predictor_path=str(path))
    response = api.client.post("/api/v1/predict", json=PREDICT, headers=api.auth())
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [m["model"] for m in data["models"]] == ["sim/small", "sim/large"]
    assert all(0 <= m["score"] <= 1 and 0 <= m["confidence"] <= 1 for m in data["models"])
    assert data["predictor"]["rows"] == 8
    plain = api.client.post("/api/v1/predict", headers=api.auth(), json={
        **PREDICT, "prompt": "What about this one? {{review}}"}).json()["data"]
    assert data["score"] > plain["score"]  # it learned the expert, one-word prompts score higher


def test_predict_validates_its_input(api):
    short = api.client.post("/api/v1/predict", json={**PREDICT, "prompt": "hi"},
                            headers=api.auth())
    assert short.status_code == 422 and short.json()["error"]["message"].startswith("prompt:")
    no_models = api.client.post("/api/v1/predict", json={**PREDICT, "models": []},
                                headers=api.auth())
    assert no_models.status_code == 422
    assert no_models.json()["error"]["details"][0]["field"] == "models"


def test_pattern_search_ranks_by_measured_success(api):
    api.store.stats = {"pattern:few-shot|general|sim/small": {"alpha": 50.0, "beta": 1.0}}
    response = api.client.get("/api/v1/patterns/search", params={"q": "examples", "limit": 5},
                              headers=api.auth())
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["stats"] == "measured" and body["meta"]["count"] == len(body["data"])
    assert 0 < len(body["data"]) <= 5
    assert all({"id", "score", "relevance", "success"} <= set(hit) for hit in body["data"])


def test_pattern_search_without_the_database_still_answers(api):
    api.client.get("/api/v1/me", headers=api.auth())  # the key is now cached: auth needs no store
    api.store.down = True
    response = api.client.get("/api/v1/patterns/search", params={"q": "step by step"},
                              headers=api.auth())
    assert response.status_code == 200
    assert response.json()["meta"]["stats"] == "unavailable"


def test_pattern_search_limit_is_bounded(api):
    response = api.client.get("/api/v1/patterns/search", params={"limit": 1000},
                              headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "query.limit"


def test_pattern_template_and_apply(api):
    from agents.patterns.library import load_library

    pattern = next(p for p in load_library() if p.target == "prompt" and not p.transform)
    template = api.client.get(f"/api/v1/patterns/{pattern.id}/template", headers=api.auth())
    assert template.status_code == 200
    assert template.json()["data"]["template"] == pattern.template
    applied = api.client.post("/api/v1/patterns/apply", headers=api.auth(), json={
        "pattern_id": pattern.id, "prompt": "Summarize this article: {{article}}"})
    assert applied.status_code == 200
    assert "{{article}}" in applied.json()["data"]["prompt"]


def test_unknown_pattern_is_404(api):
    assert api.client.get("/api/v1/patterns/no-such/template",
                          headers=api.auth()).status_code == 404
    response = api.client.post("/api/v1/patterns/apply", headers=api.auth(), json={
        "pattern_id": "no-such", "prompt": "Summarize this article: {{article}}"})
    assert response.status_code == 404


def test_ready_lists_what_is_down(api):
    assert api.client.get("/ready", headers=api.auth()).json()["data"]["ready"] is True
    api.store.down = True  # the key is cached by now: auth does not need the store
    response = api.client.get("/ready", headers=api.auth())
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not-ready" and error["message"] == "not ready: postgres down"
    assert error["details"]["kafka"]["ok"] is True
    assert "refused" in error["details"]["postgres"]["error"]


def test_metrics_count_requests_by_route_template_and_status(api):
    api.client.get("/api/v1/test/some-id-123/results", headers=api.auth())
    text = api.client.get("/metrics", headers=api.auth()).text
    assert ('api_requests_total{method="GET",route="/api/v1/test/{experiment_id}/results",'
            'status="404"}') in text
    assert "some-id-123" not in text
    assert ('api_request_duration_seconds_count{method="GET",'
            'route="/api/v1/test/{experiment_id}/results",status="404"}') in text
