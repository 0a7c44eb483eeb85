"""The REST API, the SSE stream of analyses and the live dashboard (FastAPI)."""

from api.app import create_app

__all__ = ["create_app"]
