"""The response envelope: every JSON answer has it, bad input is a 4xx naming the field,
and nothing ever leaks a traceback."""

from __future__ import annotations


def assert_envelope(body: dict, *, success: bool) -> None:
    # The seeds' envelope (message, timestamp, top-level request_id) and ours (meta).
    assert set(body) == {"success", "data", "error", "message", "timestamp", "request_id",
                         "meta"}
    assert body["success"] is success
    assert body["request_id"] and body["meta"]["request_id"] == body["request_id"]
    assert body["timestamp"].endswith("Z") and "T" in body["timestamp"]
    assert body["meta"]["processing_time_ms"] >= 0 and body["meta"]["api_version"] == "v1"
    if success:
        assert body["error"] is None
    else:
        assert body["data"] is None
        assert set(body["error"]) == {"code", "message", "details"}
        assert body["message"] == body["error"]["message"]


def test_success_is_enveloped_and_request_id_matches_the_header(api):
    response = api.client.get("/health", headers=api.auth())
    assert response.status_code == 200
    body = response.json()
    assert_envelope(body, success=True)
    assert body["data"]["status"] == "ok"
    assert response.headers["x-request-id"] == body["meta"]["request_id"]
    assert response.headers["x-api-version"] == "v1"


def test_a_given_request_id_is_kept(api):
    response = api.client.get("/health", headers={**api.auth(), "X-Request-ID": "trace-42"})
    assert response.json()["meta"]["request_id"] == "trace-42"
    assert response.headers["x-request-id"] == "trace-42"


def test_unknown_route_is_a_404_in_the_envelope(api):
    response = api.client.get("/api/v1/nothing-here", headers=api.auth())
    assert response.status_code == 404
    body = response.json()
    assert_envelope(body, success=False)
    assert body["error"]["code"] == "not-found"
    assert "/api/v1/nothing-here" in body["error"]["message"]


def test_wrong_method_is_a_405_in_the_envelope(api):
    response = api.client.delete("/api/v1/optimize", headers=api.auth())
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method-not-allowed"


def test_missing_field_names_the_field(api, spec_body):
    body = spec_body()
    del body["test_cases"]
    response = api.client.post("/api/v1/optimize", json=body, headers=api.auth())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation-error"
    assert error["message"].startswith("test_cases:")
    assert {"field": "test_cases", "message": "Field required", "type": "missing"} in \
        error["details"]
    assert api.bus.published == []


def test_nested_field_error_gives_its_path(api, spec_body):
    body = spec_body()
    body["test_cases"][1]["vars"] = "not a mapping"
    response = api.client.post("/api/v1/optimize", json=body, headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("test_cases.1.vars:")


def test_unknown_field_is_refused(api, spec_body):
    response = api.client.post("/api/v1/optimize", json={**spec_body(), "colour": "blue"},
                               headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "colour"


def test_body_that_is_not_json(api):
    response = api.client.post("/api/v1/optimize", content=b"{not json",
                               headers={**api.auth(), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("body: request body is not valid JSON")


def test_body_that_is_a_list(api):
    response = api.client.post("/api/v1/optimize", json=[1, 2], headers=api.auth())
    assert response.status_code == 422
    assert response.json()["success"] is False


def test_config_of_the_wrong_shape_is_a_422_not_a_500(api):
    config = {"prompts": ["Rate {{x}}"], "providers": ["openai:gpt-4o-mini"],
              "tests": ["not a test"]}
    response = api.client.post("/api/v1/optimize", json={"config": config}, headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("config:")


def test_config_prompt_from_a_server_file_is_refused(api):
    config = {"prompts": ["file:///etc/passwd"], "providers": ["openai:gpt-4o-mini"],
              "tests": [{"vars": {}}]}
    response = api.client.post("/api/v1/optimize", json={"config": config}, headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "config.prompts.0"
    assert "passwd" not in response.text.replace("file:///etc/passwd", "")


def test_unexpected_error_is_a_500_envelope_without_traceback(api):
    api.store.broken = True
    response = api.client.get("/api/v1/test/exp-1/results", headers=api.auth())
    assert response.status_code == 500
    body = response.json()
    assert_envelope(body, success=False)
    assert body["error"]["code"] == "internal"
    assert "Traceback" not in response.text and "hunter2" not in response.text


def test_database_down_is_a_503(api):
    api.store.down = True  # and the key was never admitted before: nothing to go by
    response = api.client.get("/api/v1/test/exp-1/results", headers=api.auth())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert response.headers["retry-after"] == "5"


def test_kafka_down_is_a_503_and_nothing_claims_to_be_submitted(api, spec_body):
    api.bus.down = True
    response = api.client.post("/api/v1/optimize", json=spec_body(), headers=api.auth())
    assert response.status_code == 503
    body = response.json()
    assert body["success"] is False and "nothing was published" in body["error"]["message"]


def test_oversized_body_is_a_413_in_the_envelope(make_api, spec_body):
    api = make_api(max_body_bytes=10_000)
    body = spec_body(n_tests=400)
    response = api.client.post("/api/v1/optimize", json=body, headers=api.auth())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too-large"
    assert api.bus.published == []
    small = api.client.post("/api/v1/optimize", json=spec_body(), headers=api.auth())
    assert small.status_code == 202


def test_oversized_body_without_a_length_is_refused_as_it_arrives(make_api):
    api = make_api(max_body_bytes=1_000)

    def chunks():
        for _ in range(10):
            yield b" " * 500

    response = api.client.post("/api/v1/optimize", content=chunks(),
                               headers={**api.auth(), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"max_bytes": 1000}


def test_a_value_the_database_refuses_is_a_422_without_retry_after(api):
    from api.store import StoreRejected

    async def refuse(*_args):
        raise StoreRejected("the database cannot store a value of this request: 0x00")

    api.store.experiment = refuse
    response = api.client.post("/api/v1/test/exp-1/stop", headers=api.auth())
    assert response.status_code == 422 and "retry-after" not in response.headers
    assert "cannot store" in response.json()["error"]["message"]
