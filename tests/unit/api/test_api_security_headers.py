"""Security headers on every response, Swagger UI from local files, and an OpenAPI document
that declares the bearer scheme and the envelope's errors (issue 12, item 8)."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("path", ["/", "/static/dashboard.js", "/api/v1/docs", "/health",
                                  "/api/v1/test/x/results", "/api/v1/no-such", "/metrics"])
def test_every_response_has_the_security_headers(api, path):
    response = api.client.get(path, headers=api.auth())
    h = response.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_api_answers_are_not_cached(api):
    assert api.client.get("/api/v1/test/x/results", headers=api.auth()
                          ).headers["cache-control"] == "no-store"


def test_the_dashboard_has_no_inline_script_or_style_attribute(api):
    html = api.client.get("/").text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # every script is a file
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers either


def test_swagger_ui_is_served_from_this_server(api):
    page = api.client.get("/api/v1/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        assert api.client.get(source).status_code == 200, source
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []


def test_openapi_declares_the_bearer_scheme_and_the_error_envelope(api):
    doc = api.client.get("/api/v1/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer",
                                 "bearerFormat": "API key (po_...) or JWT",
                                 "description": "`Authorization: Bearer <API key or JWT>`"}
    assert "ErrorEnvelope" in doc["components"]["schemas"]
    optimize = doc["paths"]["/api/v1/optimize"]["post"]
    assert {"bearer": []} in optimize["security"]
    for status in ("401", "413", "422", "429", "503"):
        ref = optimize["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorEnvelope"), status
    results = doc["paths"]["/api/v1/test/{experiment_id}/results"]["get"]["responses"]
    assert "404" in results and "HTTPValidationError" not in str(results)
    stream = doc["paths"]["/api/v1/stream"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert {"queryKey": []} in stream["security"] or any("queryKey" in s
                                                          for s in stream["security"])
