"""Bearer authentication (API keys and JWTs) and which endpoints public_read opens."""

from __future__ import annotations

import hashlib
import time

import jwt
import pytest

from api.auth import hash_key, new_api_key
from tests.unit.api.conftest import KEY

SECRET = "unit-test-secret-with-enough-bytes-for-hs256"


def token(sub: str, *, secret: str = SECRET, ttl: int = 60, **claims) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + ttl, **claims}, secret,
                      algorithm="HS256")


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
    response = api.client.get("/api/v1/test/x/results",
                              headers=api.auth("po_not-a-key-but-shaped-like-one"))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid API key"
    assert api.store.key_lookups == 1


def test_a_token_that_cannot_be_a_key_costs_no_query(api):
    for bad in ("not-a-key", "po_short", "po_" + "x" * 200, "po_with space-0123456789abc"):
        response = api.client.get("/api/v1/me", headers=api.auth(bad))
        assert response.status_code == 401, bad
    assert api.store.key_lookups == 0


def test_failed_authentication_is_limited_per_address_without_queries(make_api):
    api = make_api(auth_failures_per_minute=3)
    bad = api.auth("po_wrong-key-shaped-like-a-real-one")
    assert [api.client.get("/api/v1/me", headers=bad).status_code for _ in range(3)] == [401] * 3
    limited = api.client.get("/api/v1/me", headers=bad)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "failed authentications" in limited.json()["error"]["message"]
    # Once over, nothing from that address is looked up, a good key included.
    assert api.client.get("/api/v1/me", headers=api.auth()).status_code == 429
    assert api.store.key_lookups == 3


def test_other_scheme_is_a_401(api):
    response = api.client.get("/api/v1/test/x/results", headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]["message"]


def test_good_key_is_let_in(api):
    response = api.client.get("/api/v1/test/unknown-exp/results", headers=api.auth())
    assert response.status_code == 404  # authenticated: the experiment is what is missing


def test_revoked_key_is_refused_at_the_next_request(api):
    # Regression: a verified key used to be cached for 30 s per process.
    assert api.client.get("/api/v1/me", headers=api.auth()).status_code == 200
    del api.store.keys[hash_key(KEY)]  # what `promptopt api revoke-key` does to the row
    assert api.client.get("/api/v1/me", headers=api.auth()).status_code == 401


def test_key_is_not_taken_from_the_query_string_on_rest_endpoints(api):
    response = api.client.get("/api/v1/me", params={"key": KEY})
    assert response.status_code == 401


def test_jwt_with_a_known_user_is_let_in(make_api):
    api = make_api(jwt_secret=SECRET)
    response = api.client.get("/api/v1/me", headers=api.auth(token(api.alice.id)))
    assert response.status_code == 200


def never_expiring(sub: str) -> str:
    return jwt.encode({"sub": sub, "iat": int(time.time())}, SECRET, algorithm="HS256")


@pytest.mark.parametrize("bad, message", [
    (lambda: token("usr_alice", secret="another-secret-of-enough-length-32b"), "invalid token"),
    (lambda: token("usr_alice", ttl=-100), "invalid token: Signature has expired"),
    (lambda: token("usr_nobody"), "token revoked, or it names an unknown user"),
    (lambda: jwt.encode({"iat": 1}, SECRET, algorithm="HS256"), "invalid token"),
    # Regression: a JWT without exp was accepted forever.
    (lambda: never_expiring("usr_alice"), 'invalid token: Token is missing the "exp" claim'),
    (lambda: token("usr_alice", ttl=2 * 86_400), "invalid token: lives 172800 s, over"),
    (lambda: jwt.encode({"sub": "usr_alice", "exp": int(time.time()) + 60}, SECRET,
                        algorithm="HS256"), 'invalid token: Token is missing the "iat"'),
    (lambda: token("usr_alice", aud="someone-else"), "invalid token: Invalid audience"),
    (lambda: jwt.encode({"sub": "usr_alice", "iat": int(time.time()),
                         "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS512"),
     "invalid token: The specified alg value is not allowed"),
])
def test_bad_jwts_are_401(make_api, bad, message):
    api = make_api(jwt_secret=SECRET)
    response = api.client.get("/api/v1/me", headers=api.auth(bad()))
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith(message)


def test_audience_and_issuer_are_checked_when_set(make_api):
    api = make_api(jwt_secret=SECRET, jwt_audience="promptopt", jwt_issuer="https://idp")
    good = token(api.alice.id, aud="promptopt", iss="https://idp")
    assert api.client.get("/api/v1/me", headers=api.auth(good)).status_code == 200
    for claims in ({"iss": "https://idp"}, {"aud": "promptopt"},
                   {"aud": "promptopt", "iss": "https://other"}):
        response = api.client.get("/api/v1/me", headers=api.auth(token(api.alice.id, **claims)))
        assert response.status_code == 401, claims


def test_revoked_tokens_are_refused_and_new_ones_accepted(make_api):
    api = make_api(jwt_secret=SECRET)
    old = jwt.encode({"sub": api.alice.id, "iat": int(time.time()) - 100,
                      "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    assert api.client.get("/api/v1/me", headers=api.auth(old)).status_code == 200
    api.store.tokens_valid_after[api.alice.id] = time.time() - 50  # `revoke-tokens`
    assert api.client.get("/api/v1/me", headers=api.auth(old)).status_code == 401
    assert api.client.get("/api/v1/me", headers=api.auth(token(api.alice.id))).status_code == 200


def test_jwts_are_refused_without_a_secret(api):
    response = api.client.get("/api/v1/me", headers=api.auth(token(api.alice.id)))
    assert response.status_code == 401
    assert "JWT" in response.json()["error"]["message"]


def test_probes_are_open_and_metrics_and_streams_need_credentials_by_default(api):
    # A liveness or readiness probe carries no key (infra/k8s probes /health and /ready).
    for path in ("/health", "/ready"):
        assert api.client.get(path).status_code == 200, path
    for path in ("/metrics", "/api/v1/stream", "/api/v1/me"):
        assert api.client.get(path).status_code == 401, path


def test_public_read_opens_operations_but_not_streams_or_the_rest(make_api):
    api = make_api(public_read=True)
    assert api.client.get("/metrics").status_code == 200
    # A stream shows a team's work: it always needs to know whose.
    assert api.client.get("/api/v1/stream").status_code == 401
    assert api.client.get("/api/v1/test/x/results").status_code == 401
    assert api.client.post("/api/v1/analyze", json={"prompt": "x" * 20}).status_code == 401
    # Credentials, when given, must still be good.
    assert api.client.get("/api/v1/me", headers=api.auth("po_wrong-0123456789abcdefghij")
                          ).status_code == 401


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
    response = api.client.get("/api/v1/stream", params={"key": KEY})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
