"""Routes served outside FastAPI — OpenFaaS's invoke routes (``gateway.py``), the request bin and
the Alibaba routes — described in ``/openapi.json`` all the same, so the document lists every route
the port answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from fnflow.compat.alibaba import openapi as alibaba

NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "`function` or `function.namespace` (an fnflow service)",
    "schema": {"type": "string", "pattern": "^[-a-zA-Z_0-9.]+$"},
}
SUBPATH = {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
ANY_BODY: dict[str, Any] = {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
ERROR = {
    "description": "fnflow's refusal (`{code, message}`): unknown function, bad name, bad key, too large",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
PROBLEM = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}
CALLBACK_HEADERS = {
    name: {"in": "header", "name": name, "required": False, "schema": {"type": "string"}, "description": text}
    for name, text in {
        "X-Call-Id": "your id for the call (an idempotency key per function)",
        "X-Callback-Url": "where the result is POSTed when the call ends",
    }.items()
}


def _sync(summary: str, with_path: bool) -> dict[str, Any]:
    operation = {
        "tags": ["gateway"],
        "summary": summary,
        "parameters": [NAME, SUBPATH] if with_path else [NAME],
        "requestBody": BODY,
        "responses": {
            "200": {"description": "the function's own answer: its status, headers and body", **ANY_BODY},
            "4XX": ERROR,
        },
    }
    return {method: operation for method in ("get", "post", "put", "patch", "delete")}


def _async(with_path: bool) -> dict[str, Any]:
    return {
        "post": {
            "tags": ["gateway"],
            "summary": "Queue an asynchronous call: 202 once it is stored, with its X-Call-Id",
            "parameters": [NAME, *([SUBPATH] if with_path else []), *CALLBACK_HEADERS.values()],
            "requestBody": BODY,
            "responses": {
                "202": {"description": "accepted; the X-Call-Id header names the call"},
                "4XX": ERROR,
            },
        }
    }


BODY: dict[str, Any] = {"required": False, **ANY_BODY}

PATHS: dict[str, Any] = {
    "/function/{name}": _sync("Call a function and answer what it answers", with_path=False),
    "/function/{name}/{path}": _sync("Call a function with a sub-path", with_path=True),
    "/async-function/{name}": _async(with_path=False),
    "/async-function/{name}/{path}": _async(with_path=True),
    "/bin/{name}": {
        method: {
            "tags": ["gateway"],
            "summary": "The request bin: record the request (read it with GET /api/v1/bins/{name}/requests)",
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": BODY,
            "responses": {"200": {"description": 'recorded: {"ok": true}'}},
        }
        for method in ("get", "post", "put")
    },
}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the routes served before FastAPI."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema["paths"].update(PATHS)
            schema["paths"].update(alibaba.paths())
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
