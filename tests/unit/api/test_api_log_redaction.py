"""The stream's ?key= never reaches the access log (uvicorn writes the path with its query)."""

from __future__ import annotations

import logging

from api.app import create_app
from api.log_redaction import REDACTED, redact_query
from tests.unit.api.conftest import KEY


def test_a_key_in_the_query_is_redacted_and_the_rest_kept():
    assert redact_query(f"/api/v1/stream?key={KEY}") == f"/api/v1/stream?key={REDACTED}"
    assert (redact_query(f"/?experiment=e1&key={KEY}&round=2")
            == f"/?experiment=e1&key={REDACTED}&round=2")
    assert redact_query("/?token=abc&monkey=1") == f"/?token={REDACTED}&monkey=1"
    assert redact_query("/api/v1/test/key=1/results") == "/api/v1/test/key=1/results"


def test_regression_the_streams_key_was_written_to_the_access_log(caplog):
    # Regression: uvicorn's access log line of every dashboard viewer held its API key.
    create_app()  # as `promptopt api` makes it: the filter goes on uvicorn.access
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
                    f"/api/v1/stream?key={KEY}", "1.1", 200)
    [line] = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert KEY not in line and f"/api/v1/stream?key={REDACTED}" in line
