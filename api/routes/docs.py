"""GET /api/v1/docs: Swagger UI from the swagger-ui-bundle package, served by this server
(no CDN), started by a script file rather than inline script (the CSP allows no inline)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.routes import API_PREFIX

DOCS = f"{API_PREFIX}/docs"
ASSETS = f"{DOCS}/assets"
PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>promptopt API</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
  <link rel="icon" href="{ASSETS}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui" data-openapi="{API_PREFIX}/openapi.json"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="/static/docs.js"></script>
</body>
</html>
"""

router = APIRouter(tags=["docs"])


@router.get(DOCS, include_in_schema=False)
async def docs() -> HTMLResponse:
    return HTMLResponse(PAGE)


def mount_assets(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=Path(swagger_ui_bundle.swagger_ui_path)),
              name="swagger-ui")
