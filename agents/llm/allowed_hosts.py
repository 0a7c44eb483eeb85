"""Which addresses a model's `api_base` may name, and which hosts may receive a provider's
credentials: the SSRF guard. The API refuses a request naming any other (422) and the LLM
client checks again before any call, so a worker never sends a request, let alone its
keys, where an experiment's author points it unless the operator allowed it.

Settings (promptopt.settings): `llm_allowed_hosts`, a list of entries:
  "api.example.com"      that host, any port       "10.1.2.3:8000"  that address and port
  "*.example.com"        any subdomain (public addresses only, see below)
  "*"                    any host with a public address
Loopback, private, link-local (cloud metadata at 169.254.169.254), multicast and reserved
addresses, and names such as localhost, are refused unless listed as they are (by name or
address, not by a wildcard). The simulator's `sim_base_url` is always allowed.

A name matched only by a wildcard is resolved before the first call (`resolved_refusal`)
and refused if any of its addresses is one of those special ones: a public name pointing
inside the network is the classic way around a host list. A name listed exactly is the
operator's word and is not second-guessed (an internal LLM at llm.corp resolving to 10.x).
Not covered: a name whose DNS changes between that check and the connection (rebinding);
list exact names where that matters.

Kept free of litellm and of any network use but `resolved_refusal`, so the API imports it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
SPECIAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")
# Numeric hosts a resolver reads as addresses though they are not dotted quads
# (2130706433, 0x7f.1, 017700000001): refused outright, as they only serve to hide one.
NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*$")


class HostNotAllowed(ValueError):
    """str(err) says why the address may not be called."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, no trailing dot, IPv6 without brackets
    port: int

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


@dataclass(frozen=True)
class Entry:
    host: str  # "*" or "*.suffix" or an exact host
    port: int | None

    def matches(self, target: Target) -> bool:
        if self.port is not None and self.port != target.port:
            return False
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            return target.host.endswith(self.host[1:])
        return self.host == target.host

    @property
    def wildcard(self) -> bool:
        return self.host.startswith("*")


def parse_target(url: str) -> Target:
    """The scheme, host and port `url` would be called at; HostNotAllowed when it is not a
    plain http(s) URL of a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise HostNotAllowed(f"not a valid URL ({err})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise HostNotAllowed(f"scheme {parts.scheme or '(none)'!r}: only http and https")
    if parts.username is not None or parts.password is not None:
        raise HostNotAllowed("credentials in the URL (user:password@host) are not allowed")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise HostNotAllowed("no host in the URL")
    if NUMERIC_HOST.match(host) and _ipv4(host) is None:
        raise HostNotAllowed(f"host {host!r} is a disguised numeric address; write it as "
                             "a dotted quad")
    scheme = parts.scheme.lower()
    return Target(scheme, host, port or DEFAULT_PORTS[scheme])


def parse_entry(entry: str) -> Entry:
    entry = entry.strip().lower()
    if entry.startswith("[") and "]" in entry:  # [v6] or [v6]:port
        host, _, rest = entry[1:].partition("]")
        return Entry(host, int(rest[1:]) if rest.startswith(":") else None)
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return Entry(host.rstrip("."), int(port))
    return Entry(entry.rstrip("."), None)


def is_special(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Addresses inside the network or the machine: never reachable through a wildcard."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return not address.is_global or address.is_multicast


def refusal(url: str, settings: Any) -> str | None:
    """Why `url` may not be called (None: it may), without resolving any name."""
    try:
        target = parse_target(url)
    except HostNotAllowed as err:
        return str(err)
    if _is_sim_base(target, settings):
        return None
    entries = [parse_entry(e) for e in allowed_entries(settings)]
    if any(e.matches(target) and not e.wildcard for e in entries):
        return None  # listed as it is: the operator's word
    if any(e.matches(target) for e in entries):
        address = target.address
        if address is not None and is_special(address):
            return (f"host {target.host} is a loopback, private or link-local address; "
                    "list it as it is in PROMPTOPT_LLM_ALLOWED_HOSTS to allow it")
        if address is None and (target.host in SPECIAL_NAMES
                                or target.host.endswith(SPECIAL_NAMES)):
            return f"host {target.host} names this machine or the local network"
        return None
    return (f"host {target.host}:{target.port} is not in PROMPTOPT_LLM_ALLOWED_HOSTS "
            "(the hosts this platform may call)")


def check(url: str, settings: Any) -> None:
    reason = refusal(url, settings)
    if reason is not None:
        raise HostNotAllowed(reason)


async def resolved_refusal(url: str, settings: Any) -> str | None:
    """refusal(), and for a name allowed only by a wildcard, its addresses too: None only
    if none of them is special. Resolution failures are left to the call to report."""
    reason = refusal(url, settings)
    if reason is not None:
        return reason
    target = parse_target(url)
    entries = [parse_entry(e) for e in allowed_entries(settings)]
    if target.address is not None or _is_sim_base(target, settings) or any(
            e.matches(target) and not e.wildcard for e in entries):
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM)
    except OSError:
        return None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if is_special(address):
            return (f"host {target.host} resolves to {address}, a loopback, private or "
                    "link-local address; list it as it is to allow it")
    return None


def credentials_may_go(url: str, provider_hosts: tuple[str, ...], settings: Any,
                       provider: str) -> bool:
    # provider_hosts: entries as in llm_allowed_hosts ("api.openai.com", "host:port").
    """Whether the worker's key for `provider` may be sent to `url`: to the provider's own
    hosts (its default address, or those its environment names) and to hosts listed for
    it in `llm_credential_hosts`, never to any other host merely allowed to be called."""
    try:
        target = parse_target(url)
    except HostNotAllowed:
        return False
    extra = (getattr(settings, "llm_credential_hosts", None) or {}).get(provider, [])
    return any(parse_entry(e).matches(target) for e in (*provider_hosts, *extra))


def allowed_entries(settings: Any) -> list[str]:
    return list(getattr(settings, "llm_allowed_hosts", None) or [])


def _is_sim_base(target: Target, settings: Any) -> bool:
    base = getattr(settings, "sim_base_url", None)
    if not base:
        return False
    try:
        sim = parse_target(base)
    except HostNotAllowed:
        return False
    return (sim.host, sim.port) == (target.host, target.port)


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        return None


# --- the client's two checks (agents/llm/client.py) ---------------------------------------

def call_url(model: Any, route: Any) -> str | None:
    """The address a call of `model` goes to when its spec names one (None: the provider's
    own or the operator's configured address, which no experiment chose)."""
    if not model.api_base:
        return None
    return route.api_base or model.api_base


async def call_refusal(model: Any, route: Any, settings: Any) -> str | None:
    """Why no call of `model` may be made (None: it may), checked before the first."""
    url = call_url(model, route)
    if url is None:
        return None
    reason = await resolved_refusal(url, settings)
    return None if reason is None else f"api_base {url} refused: {reason}"


def provider_hosts(route: Any) -> tuple[str, ...]:
    """The hosts a provider's credentials are meant for: its default address and those the
    operator's environment names for it (OPENAI_BASE_URL, AZURE_API_BASE, ...)."""
    spec = getattr(route, "spec", None)
    if spec is None:
        return ()
    bases = [spec.default_base, *(os.environ.get(name) for name in spec.base_envs)]
    hosts = []
    for base in filter(None, bases):
        try:
            target = parse_target(base)
        except HostNotAllowed:
            continue
        hosts.append(f"{target.host}:{target.port}")
    return tuple(hosts)


def credential_refusal(model: Any, route: Any, settings: Any) -> str | None:
    """Why the worker's credentials (the provider's usual variables, or the one named by
    api_key_env) may not go with a call of `model` (None: they may)."""
    url = call_url(model, route)
    if url is None or route.provider == "sim" or model.api_key:
        return None  # the provider's own address, the simulator, or a key given in process
    if credentials_may_go(url, provider_hosts(route), settings, route.provider):
        return None
    return (f"the {route.provider} credentials are not sent to {url}: it is not one of the "
            f"provider's hosts (add it for {route.provider} in PROMPTOPT_LLM_CREDENTIAL_HOSTS "
            "if it should get them)")
