"""Every error leaves the API as ``{"code", "message"}`` with a fitting status; never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fnflow.errors import FnflowError

log = logging.getLogger("fnflow.api")

STATUS = {
    "InvalidArgument": 400,
    "InvalidDefinition": 400,
    "InstallFailed": 400,
    "PayloadTooLarge": 413,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "Conflict": 409,
    "NothingChanged": 409,
    "TaskAlreadyCompleted": 409,
    "Unavailable": 503,
}
#: what a client is told of an error nobody expected (the server log has the rest)
INTERNAL_ERROR = {"code": "InternalError", "message": "an internal error occurred; see the server log"}
HTTP_CODES = {
    400: "InvalidArgument",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


def error_response(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="fnflow"'} if status == 401 else None
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status, headers=headers)


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


def _problem(error: Mapping[str, Any]) -> str:
    """One problem of a request, as a person reads it."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
        why = (error.get("ctx") or {}).get(
            "error"
        ) or "it ends too soon or has a character JSON does not allow"
        where = f" at character {position + 1}" if position is not None else ""
        return f"the request body is not valid JSON{where}: {why}"
    if loc == ("body",) and error.get("type") == "missing":
        return "the request needs a JSON body (Content-Type: application/json)"
    return f"{_location(loc)}: {error.get('msg', 'invalid')}"


def surrogate_problem(exc: UnicodeEncodeError) -> str:
    """JSON may carry \\ud800-style escapes that are no text; nothing can store or send them."""
    bad = exc.object[exc.start : exc.end] if isinstance(exc.object, str) else ""
    where = f" ({bad.encode('unicode_escape').decode()})" if bad else ""
    return f"the request has text with a lone UTF-16 surrogate{where}: escapes must come in pairs"


def install(app: FastAPI) -> None:
    @app.exception_handler(FnflowError)
    async def fnflow_error(_: Request, exc: FnflowError) -> JSONResponse:
        body = exc.to_dict()
        return error_response(STATUS.get(exc.code, 500), body.pop("code"), body.pop("message"), **body)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "InvalidArgument", "; ".join(map(_problem, exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, HTTP_CODES.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(UnicodeEncodeError)
    async def not_text(_: Request, exc: UnicodeEncodeError) -> JSONResponse:
        return error_response(400, "InvalidArgument", surrogate_problem(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, **INTERNAL_ERROR)
