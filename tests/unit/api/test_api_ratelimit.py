"""Per-user token buckets, alone and behind the API (429 with Retry-After)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_minute_of_burst_then_refills_at_the_rate():
    clock = Clock()
    limiter = RateLimiter(clock)
    assert [limiter.take("u", 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("u", 3) == pytest.approx(20.0)  # one token per 60/3 s
    clock.now += 10
    assert limiter.take("u", 3) == pytest.approx(10.0)
    clock.now += 10
    assert limiter.take("u", 3) == 0.0
    assert limiter.take("u", 3) > 0


def test_bucket_never_holds_more_than_the_limit():
    clock = Clock()
    limiter = RateLimiter(clock)
    limiter.take("u", 2)
    clock.now += 3600
    assert [limiter.take("u", 2) for _ in range(3)][:2] == [0.0, 0.0]
    assert limiter.take("u", 2) > 0


def test_users_have_separate_buckets_and_zero_means_unlimited():
    limiter = RateLimiter(Clock())
    assert limiter.take("a", 1) == 0.0
    assert limiter.take("a", 1) > 0
    assert limiter.take("b", 1) == 0.0
    assert all(limiter.take("c", 0) == 0.0 for _ in range(1000))


def test_api_answers_429_with_retry_after_once_the_user_is_over(make_api):
    clock = Clock()
    api = make_api()
    api.store.buckets = RateLimiter(clock)  # the fake's stand-in for rate_limit_take
    api.store.users[api.alice.id] = replace(api.alice, rate_limit_per_minute=2)
    assert api.client.get("/api/v1/me", headers=api.auth()).status_code == 200
    assert api.client.get("/api/v1/me", headers=api.auth()).status_code == 200
    limited = api.client.get("/api/v1/me", headers=api.auth())
    assert limited.status_code == 429
    body = limited.json()
    assert body["error"]["code"] == "rate-limited"
    assert body["error"]["details"] == {"retry_after_s": 30.0, "limit_per_minute": 2}
    assert limited.headers["retry-after"] == "30"
    # Another user is not held back by Alice's bucket; Alice gets in again after the wait.
    assert api.client.get("/api/v1/me", headers=api.auth(api.bob_key)).status_code == 200
    clock.now += 30
    assert api.client.get("/api/v1/me", headers=api.auth()).status_code == 200
