"""One line instead of a traceback when a command cannot reach a server.

`promptopt.cli.main` hands any exception that escapes a command to `unreachable()`: if it
(or an exception it was raised from) is a connection failure raised inside a server's
client library, the command prints `error: cannot reach Kafka: ...` and exits 1. Every
command gets this, present and future; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator

# The client library a failure came from, by top-level module, and the server it talks to.
CLIENTS = {"aiokafka": "Kafka", "kafka": "Kafka", "faust": "Kafka", "asyncpg": "PostgreSQL",
           "pymongo": "MongoDB", "motor": "MongoDB", "redis": "Redis"}


def _chain(err: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        for inner in getattr(err, "exceptions", ()):  # ExceptionGroup from a TaskGroup
            yield from _chain(inner)
        err = err.__cause__ or err.__context__


def _is_connection_failure(err: BaseException) -> bool:
    name = type(err).__name__
    return isinstance(err, (OSError, TimeoutError)) or any(
        word in name for word in ("Connection", "Connect", "ServerSelection", "Timeout",
                                  "NoBrokersAvailable", "CannotConnectNow",
                                  "InvalidCatalogName", "NodeNotReady"))


def _server_of(err: BaseException) -> str | None:
    module = type(err).__module__.split(".")[0]
    if module in CLIENTS:
        return CLIENTS[module]
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        for client, server in CLIENTS.items():
            if f"/{client}/" in frame.filename.replace("\\", "/"):
                return server
    return None


def unreachable(err: BaseException) -> str | None:
    """`cannot reach <server>: <reason>` when `err` means a server is down, else None."""
    for link in _chain(err):
        if _is_connection_failure(link):
            server = _server_of(link) or _server_of(err)
            if server is not None:
                reason = " ".join(str(link).split()) or type(link).__name__
                if len(reason) > 240:
                    reason = reason[:237] + "..."
                return f"cannot reach {server}: {reason} (is it running? `make up` starts it)"
    return None
