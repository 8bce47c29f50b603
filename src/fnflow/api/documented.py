"""The OpenAPI document as the port answers.

Every route is in it: besides FastAPI's, those served before FastAPI — OpenFaaS's invoke routes
(``gateway.py``), the request bin and the Alibaba routes. And every error is as sent: FastAPI
documents a 422 with its own error shape for every operation that takes parameters; fnflow answers
bad input with 400 and ``{"code", "message"}`` (``fnflow.api.errors``), and may answer any
operation with the statuses of ``STATUSES``. Clients generated from the document, and the schema
fuzzing in the tests, expect what the server sends.
"""

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
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["code", "message"],
}
_REF = {"$ref": "#/components/schemas/Error"}
ERROR = {
    "description": "fnflow's refusal (`{code, message}`): unknown function, bad name, bad key, too large",
    "content": {"application/json": {"schema": _REF}},
}
STATUSES = {
    "400": "Bad input (the message says which field and why)",
    "401": "No API key, or not a valid one",
    "403": "The key's scope does not allow this",
    "404": "Not found",
    "409": "Conflict with the current state",
    "413": "The body is too large",
    "415": "The body is not of a type this route takes",
    "503": "Not available in this process now (the message says why)",
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
            "responses": {"200": {"description": 'recorded: {"ok": true}'}, "4XX": ERROR},
        }
        for method in ("get", "post", "put")
    },
}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` the document as the port answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema["paths"].update(PATHS)
            _with_errors(schema)
            schema["paths"].update(alibaba.paths())  # their errors are Alibaba's, not fnflow's
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_errors(doc: dict[str, Any]) -> None:
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Error"] = ERROR_SCHEMA
    error = {"content": {"application/json": {"schema": _REF}}}
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, description in STATUSES.items():
                responses.setdefault(status, {"description": description, **error})
