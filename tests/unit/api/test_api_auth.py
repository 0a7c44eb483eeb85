"""Bearer authentication (API keys and JWTs) and which endpoints public_read opens."""

from __future__ import annotations

import hashlib
import time

import jwt
import pytest

from api.auth import hash_key, new_api_key

SECRET = "unit-test-secret-with-enough-bytes-for-hs256"


def token(sub: str, *, secret: str = SECRET, ttl: int = 60) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + ttl}, secret, algorithm="HS256")


def test_keys_are_random_and_stored_as_sha256():
    key = new_api_key()
    assert key.startswith("po_") and len(key) > 40 and key != new_api_key()
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()


def test_no_credentials_is_a_401_with_a_bearer_challenge(api):
    response = api.client.get("/api/v1/patterns/chain-of-thought/template")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"


def test_wrong_key_is_a_401(api):
    response = api.client.get("/api/v1/test/x/results", headers=api.auth("po_not-a-key"))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid API key"


def test_other_scheme_is_a_401(api):
    response = api.client.get("/api/v1/test/x/results", headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]["message"]


def test_good_key_is_let_in(api):
    response = api.client.get("/api/v1/test/unknown-exp/results", headers=api.auth())
    assert response.status_code == 404  # authenticated: the experiment is what is missing


def test_verified_key_is_remembered_for_a_while(api):
    for _ in range(3):
        assert api.client.get("/health", headers=api.auth()).status_code == 200
    assert api.store.key_lookups == 1


def test_key_is_not_taken_from_the_query_string_on_rest_endpoints(api):
    response = api.client.get("/health", params={"key": "po_test-key-alice"})
    assert response.status_code == 401


def test_jwt_with_a_known_user_is_let_in(make_api):
    api = make_api(jwt_secret=SECRET)
    response = api.client.get("/health", headers=api.auth(token(api.alice.id)))
    assert response.status_code == 200


@pytest.mark.parametrize("bad, message", [
    (lambda: token("usr_alice", secret="another-secret-of-enough-length-32b"), "invalid token"),
    (lambda: token("usr_alice", ttl=-10), "invalid token"),
    (lambda: token("usr_nobody"), "token names an unknown user"),
    (lambda: jwt.encode({"iat": 1}, SECRET, algorithm="HS256"), "invalid token"),
])
def test_bad_jwts_are_401(make_api, bad, message):
    api = make_api(jwt_secret=SECRET)
    response = api.client.get("/health", headers=api.auth(bad()))
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith(message)


def test_jwts_are_refused_without_a_secret(api):
    response = api.client.get("/health", headers=api.auth(token(api.alice.id)))
    assert response.status_code == 401
    assert "JWT" in response.json()["error"]["message"]


def test_operations_endpoints_need_credentials_by_default(api):
    for path in ("/health", "/ready", "/metrics", "/api/v1/stream"):
        assert api.client.get(path).status_code == 401, path


def test_public_read_opens_operations_and_streams_but_not_the_rest(make_api):
    api = make_api(public_read=True)
    for path in ("/health", "/ready", "/metrics", "/api/v1/stream"):
        assert api.client.get(path).status_code == 200, path
    assert api.client.get("/api/v1/test/x/results").status_code == 401
    assert api.client.post("/api/v1/analyze", json={"prompt": "x" * 20}).status_code == 401
    # Credentials, when given, must still be good.
    assert api.client.get("/health", headers=api.auth("po_wrong")).status_code == 401


def test_dashboard_page_is_public(api):
    response = api.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/static/dashboard.js" in response.text
    script = api.client.get("/static/dashboard.js")
    assert script.status_code == 200 and "new EventSource" in script.text


def test_dashboard_fetches_nothing_but_our_own_endpoints(api):
    import re

    for path in ("/", "/static/dashboard.js", "/static/dashboard.css"):
        text = api.client.get(path).text
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path, urls)


def test_stream_accepts_the_key_as_a_query_parameter(api):
    response = api.client.get("/api/v1/stream", params={"key": "po_test-key-alice"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
