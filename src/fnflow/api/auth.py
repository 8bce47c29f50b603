"""Who may do what: ``Authorization: Bearer <key id>:<secret>`` and the key's scope.

Scopes: ``admin`` may do everything; ``invoke`` may run things (start, stop and read
executions, invoke functions, report tasks) but not change definitions, functions or keys;
``report-task`` may only report task results. With auth off (loopback only) all is allowed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from fnflow.api.root import root
from fnflow.errors import Forbidden, Unauthorized
from fnflow.services.keys import ALLOWED
from fnflow.store import ApiKeyRecord

if TYPE_CHECKING:
    from fnflow.app import Fnflow

__all__ = ["ALLOWED", "Admin", "Invoke", "ReportTask", "authorize", "parse_authorization", "require"]


def parse_authorization(header: str | None) -> tuple[str, str]:
    """(key id, secret) of ``Bearer <id>:<secret>``, or of ``Basic base64(<id>:<secret>)`` — what
    ``faas-cli login --username <id> --password <secret>`` sends."""
    if not header:
        raise Unauthorized("an API key is required: send Authorization: Bearer <key id>:<secret>")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        try:
            credentials = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            credentials = ""
    key_id, sep, secret = credentials.partition(":")
    if scheme.lower() not in ("bearer", "basic") or not sep or not key_id or not secret:
        raise Unauthorized("malformed Authorization header: use Bearer <key id>:<secret>")
    return key_id, secret


def require(scope: str) -> Callable[[Request], Awaitable[ApiKeyRecord | None]]:
    """A dependency that admits keys whose scope includes ``scope``."""

    async def check(request: Request) -> ApiKeyRecord | None:
        return await authorize(root(request), request.headers.get("authorization"), scope)

    return check


async def authorize(app: Fnflow, header: str | None, scope: str) -> ApiKeyRecord | None:
    """The key of an ``Authorization`` header if its scope includes ``scope`` (None: no keys here)."""
    if not app.settings.auth_enabled:
        return None
    key_id, secret = parse_authorization(header)
    key: ApiKeyRecord = await app.keys.authenticate(key_id, secret)
    if scope not in ALLOWED.get(key.scope, set()):
        raise Forbidden(f"a key with scope {key.scope!r} may not do this (it needs {scope!r})")
    return key


async def authorize_raw(app: Fnflow, header: bytes | None, scope: str) -> ApiKeyRecord | None:
    """``authorize`` for the routes served as plain ASGI, which have the header's raw bytes."""
    return await authorize(app, header.decode("latin-1") if header is not None else None, scope)


Admin = Annotated[ApiKeyRecord | None, Depends(require("admin"))]
Invoke = Annotated[ApiKeyRecord | None, Depends(require("invoke"))]
ReportTask = Annotated[ApiKeyRecord | None, Depends(require("report-task"))]
