"""The SSRF guard (issue 12, item 3): which addresses a model's api_base may name, checked
by the API and again by the client before any call, and where the worker's keys may go."""

from __future__ import annotations

import socket
from collections import Counter

import pytest

from agents.llm.allowed_hosts import refusal, resolved_refusal
from promptopt.settings import Settings
from schemas.experiment import ModelSpec

LISTED = Settings(llm_allowed_hosts=["api.example.com", "10.1.2.3:8000", "*.llm.example",
                                     "[::1]:9000"])


@pytest.mark.parametrize("url", [
    "https://api.example.com/v1", "http://api.example.com:8080/v1",  # a host: any port
    "http://10.1.2.3:8000/v1",  # a private address listed as it is
    "https://eu.llm.example/v1",  # a wildcard, public name
    "http://[::1]:9000/v1",
    "http://127.0.0.1:8765/v1",  # the simulator's configured base URL
])
def test_allowed(url):
    assert refusal(url, LISTED) is None


@pytest.mark.parametrize("url, why", [
    ("http://169.254.169.254/latest/meta-data/", "not in PROMPTOPT_LLM_ALLOWED_HOSTS"),
    ("http://10.1.2.3:8001/v1", "not in"),  # listed with another port
    ("http://127.0.0.1:6379/", "not in"),
    ("https://api.example.com.evil.test/v1", "not in"),
    ("http://2130706433/", "disguised numeric address"),
    ("http://0177.0.0.1/", "disguised numeric address"),
    ("http://user:pw@api.example.com/", "credentials in the URL"),
    ("ftp://api.example.com/", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("http:///v1", "no host"),
])
def test_refused(url, why):
    assert why in refusal(url, LISTED)


@pytest.mark.parametrize("url", [
    "http://10.0.0.9/", "http://192.168.1.1/", "http://172.16.0.1/", "http://127.0.0.2/",
    "http://169.254.169.254/", "http://100.64.1.1/", "http://[::1]/", "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://localhost/",
    "http://printer.local/", "http://db.internal/",
])
def test_a_wildcard_never_reaches_inside_the_network(url):
    assert refusal(url, Settings(llm_allowed_hosts=["*"])) is not None
    assert refusal("https://api.openai.com/v1", Settings(llm_allowed_hosts=["*"])) is None


async def test_a_wildcard_name_resolving_inside_the_network_is_refused(monkeypatch):
    import asyncio

    answers = {"inside.llm.example": "10.9.9.9", "outside.llm.example": "93.184.216.34"}

    async def getaddrinfo(host, port, **_):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    reason = await resolved_refusal("https://inside.llm.example/v1", LISTED)
    assert "resolves to 10.9.9.9" in reason
    assert await resolved_refusal("https://outside.llm.example/v1", LISTED) is None


def sim_host(sim) -> str:
    return sim.base_url.split("//")[1].split("/")[0]


async def test_the_client_refuses_an_address_not_allowed_before_any_request(
        make_sim, settings_for, client_for):
    async with make_sim() as sim:
        # The simulator runs, but not as the configured simulator, and is not listed.
        settings = settings_for(sim, sim_base_url="http://127.0.0.1:1/v1")
        spec = ModelSpec(id="openai/x", api_base=sim.base_url)
        result = await client_for(settings).complete(spec, [{"role": "user", "content": "hi"}])
        embedded = await client_for(settings).embed(spec, ["hi"])
    assert result.status == "failed" and result.attempts == 0
    assert "not in PROMPTOPT_LLM_ALLOWED_HOSTS" in result.reason
    assert embedded.status == "failed" and embedded.attempts == 0
    assert sim.simulator.requests == 0  # nothing reached it


async def test_the_workers_key_goes_only_to_hosts_allowed_the_providers_credentials(
        make_sim, settings_for, client_for, monkeypatch):
    monkeypatch.setenv("PROMPTOPT_TEST_KEY", "s3cret")
    spec = ModelSpec(id="openai/x", api_base=None, api_key_env="PROMPTOPT_TEST_KEY")
    ask = [{"role": "user", "content": "What is 1 + 3?"}]
    async with make_sim(api_key="s3cret") as sim:
        spec = spec.model_copy(update={"api_base": sim.base_url})
        called = settings_for(sim, sim_base_url="http://127.0.0.1:1/v1",
                              llm_allowed_hosts=[sim_host(sim)])
        # Allowed to be called, not allowed the key: called without it (and refused there).
        withheld = await client_for(called).complete(spec, ask)
        trusted = called.model_copy(update={"llm_credential_hosts": {"openai": [sim_host(sim)]}})
        sent = await client_for(trusted).complete(spec, ask)
    assert withheld.status == "failed" and "401" in withheld.reason
    assert sent.status == "completed", sent.reason
    assert sim.simulator.outcomes == Counter({"401": 1, "ok": 1})


async def test_litellm_providers_are_not_called_at_a_host_not_allowed_their_credentials(
        make_sim, settings_for, client_for):
    # litellm reads a provider's variables itself (or signs with other credentials), so a
    # key cannot be held back: the call is not made at all.
    async with make_sim() as sim:
        settings = settings_for(sim, sim_base_url="http://127.0.0.1:1/v1",
                                llm_allowed_hosts=[sim_host(sim)])
        spec = ModelSpec(id="anthropic/claude-3-haiku-20240307", api_base=sim.base_url)
        result = await client_for(settings).complete(spec, [{"role": "user", "content": "hi"}])
    assert result.status == "failed" and result.attempts == 0
    assert "credentials are not sent" in result.reason
    assert sim.simulator.requests == 0
