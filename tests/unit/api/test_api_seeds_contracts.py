"""The HLD's REST contracts with the seeds' own example bodies: a synchronous /optimize in
their shape (and running its result as an A/B test), /test/create with variations as
strings answered 201, /patterns/search with `query`, and their envelope fields."""

from __future__ import annotations

from tests.unit.api.conftest import KEY

# The seeds' example request for POST /api/v1/optimize.
SEEDS_OPTIMIZE = {
    "prompt": "Write a product description for our new wireless headphones",
    "context": {"domain": "e-commerce", "audience": "young professionals",
                "tone": "enthusiastic"},
    "optimization_goals": ["clarity", "engagement"],
}

# The seeds' example request for POST /api/v1/test/create.
SEEDS_TEST = {
    "name": "Headphones description test",
    "description": "Which description sells better",
    "variations": [
        "Write a product description for our new wireless headphones",
        "As a copywriter, write a 100-word product description for our new wireless "
        "headphones aimed at young professionals",
    ],
    "test_cases": [{"id": "t1", "vars": {}}, {"id": "t2", "vars": {}}],
    "models": [{"id": "sim/small"}],
}


def published(api, topic: str) -> list:
    return [event for name, event in api.bus.published if name == topic]


def test_optimize_with_the_seeds_body_answers_ranked_variations_at_once(api):
    response = api.client.post("/api/v1/optimize", json=SEEDS_OPTIMIZE, headers=api.auth())
    assert response.status_code == 200, response.text
    body = response.json()
    data = body["data"]
    assert body["message"] == "optimized" and body["meta"]["cached"] is False
    assert data["optimization_id"].startswith("opt-") and data["status"] == "completed"
    assert data["original_prompt"] == SEEDS_OPTIMIZE["prompt"]
    variations = data["optimized_variations"]
    assert 1 <= len(variations) <= 5
    assert [v["rank"] for v in variations] == list(range(1, len(variations) + 1))
    for v in variations:
        assert (v["prompt"], v["system"]) != (SEEDS_OPTIMIZE["prompt"], None) and v["rationale"]
        assert {"predicted_score", "confidence", "expected_improvement", "patterns"} <= set(v)
    assert {"improvements", "confidence_score", "expected_improvement"} <= set(data)
    assert any(i["dimension"] == "specificity" for i in data["improvements"])
    assert 0.0 <= data["confidence_score"] <= 1.0
    # Ours beside theirs: the analysis, and the domain taken from the context.
    assert data["analysis"]["issues"] and data["request"]["context"]["domain"] == "e-commerce"
    assert data["links"]["run"] == f"/api/v1/optimize/{data['optimization_id']}/run"
    assert api.bus.published == []  # nothing ran: no experiment was started


def test_the_same_request_again_is_answered_from_the_shared_cache(api):
    first = api.client.post("/api/v1/optimize", json=SEEDS_OPTIMIZE, headers=api.auth())
    again = api.client.post("/api/v1/optimize", json=SEEDS_OPTIMIZE, headers=api.auth())
    assert again.json()["meta"]["cached"] is True
    assert again.json()["data"] == first.json()["data"]
    # Another team asking the same is another entry: results are kept per team.
    bob = api.client.post("/api/v1/optimize", json=SEEDS_OPTIMIZE, headers=api.auth(api.bob_key))
    assert bob.json()["meta"]["cached"] is False
    assert bob.json()["data"]["optimization_id"] != first.json()["data"]["optimization_id"]


def test_an_optimization_runs_as_an_ab_test_of_its_best_variations(api):
    data = api.client.post("/api/v1/optimize", json=SEEDS_OPTIMIZE,
                           headers=api.auth()).json()["data"]
    run = api.client.post(f"/api/v1/optimize/{data['optimization_id']}/run", headers=api.auth(),
                          json={"top": 2, "test_cases": SEEDS_TEST["test_cases"],
                                "models": [{"id": "sim/small"}]})
    assert run.status_code == 201, run.text
    created = run.json()["data"]
    [event] = published(api, "variation-generated")
    assert event.experiment_id == created["test_id"] == created["experiment_id"]
    assert [v.prompt for v in event.variations] == [
        SEEDS_OPTIMIZE["prompt"], *(v["prompt"] for v in data["optimized_variations"][:2])]
    assert event.variations[0].is_control and event.spec.domain == "e-commerce"
    assert event.team_id == api.alice.team_id


def test_running_an_unknown_or_another_teams_optimization_is_404(api):
    data = api.client.post("/api/v1/optimize", json=SEEDS_OPTIMIZE,
                           headers=api.auth()).json()["data"]
    body = {"test_cases": SEEDS_TEST["test_cases"], "models": [{"id": "sim/small"}]}
    assert api.client.post("/api/v1/optimize/opt-0123456789abcdef/run", json=body,
                           headers=api.auth()).status_code == 404
    # Bob cannot run Alice's result even with its id.
    api.client.post("/api/v1/optimize", json=SEEDS_OPTIMIZE, headers=api.auth(api.bob_key))
    stolen = api.client.post(f"/api/v1/optimize/{data['optimization_id']}/run", json=body,
                             headers=api.auth(api.bob_key))
    assert stolen.status_code == 404 and published(api, "variation-generated") == []


def test_another_teams_optimization_is_never_fetched_only_missed(api):
    # Regression: /optimize/{id}/run fetched the cached result by id alone, then compared
    # its team: Alice's prompt was loaded into Bob's request, and "not yours" was a second
    # path beside "not there". Now the team is in the key: Bob reads a key that is not.
    data = api.client.post("/api/v1/optimize", json=SEEDS_OPTIMIZE,
                           headers=api.auth()).json()["data"]
    body = {"test_cases": SEEDS_TEST["test_cases"], "models": [{"id": "sim/small"}]}
    api.optimizations.reads.clear()
    stolen = api.client.post(f"/api/v1/optimize/{data['optimization_id']}/run", json=body,
                             headers=api.auth(api.bob_key))
    [(key, answer)] = api.optimizations.reads
    assert key == f"team:{api.bob.team_id}:{data['optimization_id']}" and answer is None
    missing = api.client.post("/api/v1/optimize/opt-0123456789abcdef/run", json=body,
                              headers=api.auth(api.bob_key))
    assert stolen.status_code == missing.status_code == 404
    assert (stolen.json()["error"]["message"].replace(data["optimization_id"], "ID")
            == missing.json()["error"]["message"].replace("opt-0123456789abcdef", "ID"))
    assert all(answer is None for _, answer in api.optimizations.reads)


def test_a_seeds_body_with_a_wrong_field_is_a_422_naming_it(api):
    bad = {**SEEDS_OPTIMIZE, "optimization_goals": ["virality"]}
    response = api.client.post("/api/v1/optimize", json=bad, headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("optimization_goals.0")


def test_test_create_takes_variations_as_strings_and_answers_201(api):
    response = api.client.post("/api/v1/test/create", json=SEEDS_TEST, headers=api.auth())
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["test_id"] == data["experiment_id"]
    assert data["sample_size"] == {"per_variation": 2, "variations": 2, "total": 4}
    assert isinstance(data["estimated_duration"], int) and data["estimated_duration"] >= 1
    [event] = published(api, "variation-generated")
    assert [v.prompt for v in event.variations] == SEEDS_TEST["variations"]
    assert event.spec.description == SEEDS_TEST["description"]


def test_pattern_search_takes_query_defaults_to_20_and_counts_every_match(api):
    response = api.client.get("/api/v1/patterns/search", params={"query": "step by step"},
                              headers=api.auth())
    assert response.status_code == 200
    body = response.json()
    hits, meta = body["data"], body["meta"]
    assert meta["limit"] == 20 and meta["count"] == len(hits) <= 20
    assert meta["total_count"] >= len(hits) > 0
    assert "chain-of-thought" in [h["id"] for h in hits[:3]]
    for hit in hits:
        assert 0 <= hit["success_rate"] <= 1 and isinstance(hit["use_cases"], list)
    few = api.client.get("/api/v1/patterns/search", params={"query": "step by step", "limit": 1},
                         headers=api.auth()).json()["meta"]
    assert few["count"] == 1 and few["total_count"] == meta["total_count"]
    old = api.client.get("/api/v1/patterns/search", params={"q": "step by step"},
                         headers=api.auth()).json()["data"]
    assert [h["id"] for h in old] == [h["id"] for h in hits]


def test_health_and_ready_need_no_key_and_answer_in_the_seeds_envelope(api):
    for path in ("/health", "/ready"):
        response = api.client.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["success"] and body["message"] == "ok" and body["request_id"]
        assert response.headers["x-api-version"] == "v1"
    assert KEY  # the fixtures' key is not needed for either


def test_the_example_request_file_is_an_experiment_the_api_accepts(api):
    import json
    from pathlib import Path

    root = Path(__file__).parents[3]
    body = json.loads((root / "examples" / "experiment.json").read_text())
    response = api.client.post("/api/v1/optimize", json=body, headers=api.auth())
    assert response.status_code == 202, response.text
    assert published(api, "prompt-submitted")[0].spec.name == body["name"]
    # The README's curl sends it as JSON (curl's -d alone would say form-urlencoded).
    readme = (root / "README.md").read_text()
    assert "-H 'Content-Type: application/json'" in readme
    assert "-d @examples/experiment.json" in readme
