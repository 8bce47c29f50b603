"""The web console (``/ui/``) and the API's documentation (``/docs``), served offline.

The console is a few static files — one HTML page, one ES module, one stylesheet — that talk to the
same API as everything else, with the same key (a login form asks for it when auth is on); the
files themselves hold no data. ``/docs`` is Swagger UI from the ``swagger-ui-bundle`` package over
``/openapi.json``. Nothing is loaded from the network.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fnflow API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  requestInterceptor: (r) => { const k = sessionStorage.getItem("fnflow.key");
    if (k) r.headers.Authorization = "Bearer " + k; return r; }});</script>
</body></html>"""

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/ui")
async def console_without_slash() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/docs")
async def docs() -> HTMLResponse:
    return HTMLResponse(DOCS)


def install(app: FastAPI) -> None:
    """Serve the console and the API documentation from ``app``."""
    app.include_router(router)
    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="console")
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")
