"""The REST API, the SSE stream of analyses and the live dashboard (FastAPI).

`create_app` is imported on first use: the account commands (`promptopt api create-key`,
`teams`, ...) need api.accounts, not the whole app and what it pulls in (seconds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app

        return create_app
    raise AttributeError(name)
