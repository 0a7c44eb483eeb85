"""`promptopt probe [URL]`: exit 0 if URL answers 2xx within the timeout, else print one line
and exit 1. The container HEALTHCHECK of every role (the URL comes from
PROMPTOPT_HEALTHCHECK_URL: the API's /health, a worker's /metrics, the simulator's /health);
the standard library only, so a probe costs no import of the product."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

import typer

app = typer.Typer(add_completion=False)


@app.command()
def probe(
    url: str = typer.Argument("", help="what to GET (default PROMPTOPT_HEALTHCHECK_URL)"),
    timeout: float = typer.Option(3.0, help="seconds"),
) -> None:
    """GET a health URL; exit 0 on a 2xx answer (a container healthcheck)."""
    url = url or os.environ.get("PROMPTOPT_HEALTHCHECK_URL", "http://127.0.0.1:8000/health")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            if 200 <= response.status < 300:
                return
            problem = f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        problem = f"HTTP {err.code}"
    except (urllib.error.URLError, OSError) as err:
        problem = str(getattr(err, "reason", err))
    print(f"unhealthy: {url}: {problem}", file=sys.stderr)
    sys.exit(1)
