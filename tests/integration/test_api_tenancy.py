"""Teams on the real stack (issue 12, items 1 and 6): two `promptopt api` processes on the
real PostgreSQL and Kafka. B cannot read, stop or stream A's work (404, as for nothing);
the rate limit is one for both processes; a revoked key or token stops working at once on
every process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import jwt
import pytest

from api.accounts import create_key
from api.auth import hash_key, new_api_key
from schemas.events import AnalysisReady
from tests.integration.conftest import ROOT, Process, free_port, wait_for_port
from topics.catalogue import ANALYSIS_READY
from topics.client import PromptOptClient

pytestmark = pytest.mark.integration

SECRET = "integration-secret-of-enough-length-for-hs256"
ME = "/api/v1/me"  # cheap, and authenticated (/health is open to probes)


@pytest.fixture(scope="module")
def two_apis(migrated, topics_ready, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """Two API processes on the same database and broker, as behind a load balancer
    (shared by this module's tests: each makes users of its own)."""
    tmp_path = tmp_path_factory.mktemp("apis")
    env = {**os.environ, "PROMPTOPT_API_JWT_SECRET": SECRET}
    procs, urls = [], []
    try:
        for i in range(2):
            port = free_port()
            proc = Process([sys.executable, "-m", "promptopt.cli", "api", "--port", str(port)],
                           env, tmp_path / f"api-{i}.log")
            procs.append(proc)
            wait_for_port(port, proc, timeout=60)
            urls.append(f"http://127.0.0.1:{port}")
        yield urls[0], urls[1]
    finally:
        for proc in procs:
            proc.stop()


async def new_user(dsn: str, team: str, *, rate_limit: int = 600) -> dict:
    key = new_api_key()
    conn = await asyncpg.connect(dsn)
    try:
        made = await create_key(conn, f"{uuid.uuid4().hex[:10]}@example.com", hash_key(key),
                                team=team, rate_limit_per_minute=rate_limit)
    finally:
        await conn.close()
    return {**made, "key": key, "headers": {"Authorization": f"Bearer {key}"}}


def spec() -> dict:
    return {"name": "Tenancy", "prompt": "Classify the sentiment of this review: {{review}}",
            "test_cases": [{"id": "t0", "vars": {"review": "Great"}, "expected": "positive"}],
            "models": [{"id": "sim/small"}], "n_variations": 1}


async def stream_ids(http: httpx.AsyncClient, url: str, headers: dict, want: str,
                     seconds: float) -> set[str]:
    """Experiment ids on an SSE stream until `want` shows up or `seconds` pass."""
    seen: set[str] = set()
    try:
        async with asyncio.timeout(seconds), http.stream("GET", url, headers=headers) as resp:
            assert resp.status_code == 200, await resp.aread()
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    seen.add(json.loads(line[5:])["experiment_id"])
                    if want in seen:
                        break
    except TimeoutError:
        pass
    return seen


async def test_another_team_cannot_read_stop_or_stream_the_work(two_apis, settings):
    api_1, api_2 = two_apis
    run = uuid.uuid4().hex[:8]
    alice = await new_user(settings.postgres_dsn, f"alpha-{run}")
    bob = await new_user(settings.postgres_dsn, f"beta-{run}")
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http:
        accepted = await http.post(f"{api_1}/api/v1/optimize", json=spec(),
                                   headers=alice["headers"])
        assert accepted.status_code == 202, accepted.text
        eid = accepted.json()["data"]["experiment_id"]

        for api in (api_1, api_2):  # the owner is in PostgreSQL: every process knows it
            refusals = [
                await http.get(f"{api}/api/v1/test/{eid}/results", headers=bob["headers"]),
                await http.post(f"{api}/api/v1/test/{eid}/stop", headers=bob["headers"]),
                await http.get(f"{api}/api/v1/stream/{eid}", headers=bob["headers"]),
            ]
            assert [r.status_code for r in refusals] == [404, 404, 404]
            assert all(r.json()["error"]["message"] == f"unknown experiment '{eid}'"
                       for r in refusals)
            mine = await http.get(f"{api}/api/v1/test/{eid}/results", headers=alice["headers"])
            assert mine.status_code == 200
            assert mine.json()["data"]["experiment"]["team_id"] == alice["team_id"]

        # The live stream: analyses of both teams on the topic; each sees its own only.
        theirs = f"bobs-{run}"
        async with PromptOptClient(settings.kafka_bootstrap) as client:
            await client.publish(ANALYSIS_READY, AnalysisReady(
                experiment_id=eid, team_id=alice["team_id"], user_id=alice["user_id"]))
            await client.publish(ANALYSIS_READY, AnalysisReady(
                experiment_id=theirs, team_id=bob["team_id"], user_id=bob["user_id"]))
        bob_sees = await stream_ids(http, f"{api_2}/api/v1/stream", bob["headers"], theirs, 30)
        alice_sees = await stream_ids(http, f"{api_1}/api/v1/stream?key={alice['key']}", {},
                                      eid, 30)
        assert theirs in bob_sees and eid not in bob_sees
        assert eid in alice_sees and theirs not in alice_sees

        # Alice stops her own; the command goes out with her team on it.
        assert (await http.post(f"{api_2}/api/v1/test/{eid}/stop",
                                headers=alice["headers"])).status_code == 202


async def test_two_api_processes_share_one_rate_limit(two_apis, settings):
    # Regression: the limit was per process, so two processes allowed twice the limit.
    api_1, api_2 = two_apis
    user = await new_user(settings.postgres_dsn, f"limits-{uuid.uuid4().hex[:8]}",
                          rate_limit=12)
    statuses: dict[str, list[int]] = {api_1: [], api_2: []}
    async with httpx.AsyncClient(timeout=30) as http:
        started = time.monotonic()
        for i in range(40):
            api = (api_1, api_2)[i % 2]
            statuses[api].append((await http.get(f"{api}{ME}",
                                                 headers=user["headers"])).status_code)
        elapsed = time.monotonic() - started
    ok = sum(s == 200 for ss in statuses.values() for s in ss)
    # A bucket of 12 refilled at one per 5 s: 12, plus what refilled while the test ran.
    assert 12 <= ok <= 12 + int(elapsed / 5) + 1, (ok, elapsed, statuses)
    assert all(200 in ss and 429 in ss for ss in statuses.values()), statuses
    assert set(statuses[api_1] + statuses[api_2]) == {200, 429}


def cli(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "promptopt.cli", "api", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


async def test_a_revoked_key_or_token_stops_working_at_once_on_every_process(
        two_apis, settings):
    # Regression: a revoked key kept working ~30 s more on each process (a cache).
    api_1, api_2 = two_apis
    team = f"revoke-{uuid.uuid4().hex[:8]}"
    created = cli("create-key", "--email", f"{uuid.uuid4().hex[:8]}@example.com",
                  "--team", team)
    assert created["team"] == team and created["team_created"] is True
    key_headers = {"Authorization": f"Bearer {created['key']}"}
    now = int(time.time())
    token = jwt.encode({"sub": created["user_id"], "iat": now - 5, "exp": now + 600}, SECRET,
                       algorithm="HS256")
    token_headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as http:
        for api in (api_1, api_2):
            assert (await http.get(f"{api}{ME}", headers=key_headers)).status_code == 200
            assert (await http.get(f"{api}{ME}", headers=token_headers)).status_code == 200
        cli("revoke-key", "--key-id", created["key_id"])
        cli("revoke-tokens", "--email", created["email"])
        for api in (api_1, api_2):
            assert (await http.get(f"{api}{ME}", headers=key_headers)).status_code == 401
            assert (await http.get(f"{api}{ME}", headers=token_headers)).status_code == 401
        # A token issued after the revocation is good again.
        time.sleep(1.1)
        fresh = jwt.encode({"sub": created["user_id"], "iat": int(time.time()),
                            "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
        assert (await http.get(f"{api_1}{ME}", headers={
            "Authorization": f"Bearer {fresh}"})).status_code == 200

    teams = {t["name"]: t for t in cli("teams")}
    assert teams[team]["users"] == 1
    moved = cli("move-user", "--email", created["email"], "--team", f"{team}-b",
                "--create-team")
    assert moved["team"] == f"{team}-b"


def same_answer(foreign: httpx.Response, missing: httpx.Response, ids: tuple[str, str]) -> bool:
    """The two 404s say the same, but for the id each asked about."""
    def said(response: httpx.Response, asked: str) -> tuple[int, str, str]:
        error = response.json()["error"]
        return response.status_code, error["code"], error["message"].replace(asked, "ID")
    return said(foreign, ids[0]) == said(missing, ids[1])


async def redis_gets(monitor, sentinel: str) -> list[str]:
    """The keys GET was called with, as Redis saw them, up to the sentinel's GET."""
    keys: list[str] = []
    async with asyncio.timeout(30):
        while True:
            command = (await monitor.next_command())["command"]
            if command.startswith("GET "):
                if command == f"GET {sentinel}":
                    return keys
                keys.append(command[4:])


async def test_another_teams_id_is_the_same_404_as_a_missing_one_on_every_read(
        two_apis, settings):
    # Regression: /optimize/{id}/run fetched the cached result from Redis by id alone and
    # then compared its team, so Alice's prompt was loaded into Bob's request and "not
    # yours" took another path than "not there". Every read by id now has the team in its
    # key (Redis) or its WHERE/filter (PostgreSQL, MongoDB).
    import redis.asyncio as aioredis

    api_1, api_2 = two_apis
    run = uuid.uuid4().hex[:8]
    alice = await new_user(settings.postgres_dsn, f"alpha-{run}")
    bob = await new_user(settings.postgres_dsn, f"beta-{run}")
    async with httpx.AsyncClient(timeout=60) as http:
        accepted = await http.post(f"{api_1}/api/v1/optimize", json=spec(),
                                   headers=alice["headers"])
        assert accepted.status_code == 202, accepted.text
        eid = accepted.json()["data"]["experiment_id"]
        optimized = await http.post(f"{api_1}/api/v1/optimize", headers=alice["headers"],
                                    json={"prompt": f"Summarize this support ticket {run}"})
        assert optimized.status_code == 200, optimized.text
        oid = optimized.json()["data"]["optimization_id"]
        missing_eid, missing_oid = f"tenancy-{uuid.uuid4().hex[:12]}", f"opt-{uuid.uuid4().hex[:24]}"

        for method, path in (("GET", "/api/v1/test/{}/results"),
                             ("GET", "/api/v1/test/{}/trials"),
                             ("POST", "/api/v1/test/{}/stop"),
                             ("GET", "/api/v1/stream/{}")):
            foreign = await http.request(method, api_2 + path.format(eid),
                                         headers=bob["headers"])
            missing = await http.request(method, api_2 + path.format(missing_eid),
                                         headers=bob["headers"])
            assert foreign.status_code == 404, (path, foreign.text)
            assert same_answer(foreign, missing, (eid, missing_eid)), (foreign.text,
                                                                      missing.text)

        run_body = {"test_cases": spec()["test_cases"], "models": [{"id": "sim/small"}]}
        watcher = aioredis.from_url(settings.redis_url)
        try:
            async with watcher.monitor() as monitor:
                sentinel = f"tenancy-sentinel-{run}"
                foreign = await http.post(f"{api_2}/api/v1/optimize/{oid}/run", json=run_body,
                                          headers=bob["headers"])
                missing = await http.post(f"{api_2}/api/v1/optimize/{missing_oid}/run",
                                          json=run_body, headers=bob["headers"])
                await watcher.get(sentinel)
                keys = await redis_gets(monitor, sentinel)
        finally:
            await watcher.aclose()
        assert foreign.status_code == 404 and same_answer(foreign, missing, (oid, missing_oid))
        # Bob's process asked Redis for Bob's team's keys only, so Alice's never came back.
        # (MONITOR sees every client of the server: only this test's teams are looked at.)
        bobs = f"team:{bob['team_id']}:"
        asked = [k.strip('"').split(":optimization:", 1)[-1] for k in keys]
        assert [k for k in asked if bob["team_id"] in k] == [bobs + oid, bobs + missing_oid]
        assert not [k for k in asked if alice["team_id"] in k or (oid in k and bobs not in k)]
        # Alice's own result runs from the other process (the key is shared, not local).
        mine = await http.post(f"{api_2}/api/v1/optimize/{oid}/run", json=run_body,
                               headers=alice["headers"])
        assert mine.status_code == 201, mine.text
