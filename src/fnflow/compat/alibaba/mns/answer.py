"""One MNS request, answered: its version, its action, its signature and scope, then the action.

Every outcome is MNS's: the action's XML (or nothing) with its status, or
``<Error><Code/><Message/><RequestId/><HostId/></Error>`` with MNS's status. With auth off (loopback
only) an unsigned request is served; a signed one is still checked (key, signature, Date), so
that a client that would be refused in production is refused here too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fnflow.compat.alibaba.mns import documents, queues, routes, signature, topics
from fnflow.compat.alibaba.mns.calls import Action, Call
from fnflow.compat.alibaba.mns.errors import MnsError, from_fnflow, internal
from fnflow.errors import FnflowError
from fnflow.queues.notify import MNS_VERSION
from fnflow.services.keys import ALLOWED

if TYPE_CHECKING:
    from fnflow.app import Fnflow

log = logging.getLogger("fnflow.mns")

ACTIONS = queues.ACTIONS | topics.ACTIONS


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # decoded
    resource: str  # the path and query as sent: what the signature covers
    query: str
    headers: Mapping[str, str]  # by lower-case name
    body: bytes
    base: str  # the URL of MNS's API as the client reached it
    gone: Callable[[], Awaitable[bool]]

    @property
    def host(self) -> str:
        return self.headers.get("host", "")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    request_id: str
    location: str | None = None


def new_request_id() -> str:
    return uuid.uuid4().hex.upper()


async def answer(app: Fnflow, request: Request) -> Response:
    request_id = new_request_id()
    try:
        version = request.headers.get("x-mns-version", "")
        if version != MNS_VERSION:
            raise MnsError(400, "InvalidArgument", f"x-mns-version must be {MNS_VERSION}, not {version!r}.")
        query = _query(request.query)
        name, names = routes.resolve(request.method, request.path, query)
        action = ACTIONS[name]
        await _authorize(app, request, action)
        call = Call(app, names, query, request.headers, request.body, request.base, request.gone)
        reply = await action.run(call)
        return Response(reply.status, reply.body, request_id, reply.location)
    except MnsError as e:
        error = e
    except FnflowError as e:
        error = from_fnflow(e)
    except Exception:
        log.exception("unexpected error answering an MNS request")
        error = internal()
    return failure(request.host, error, request_id)


def _query(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise MnsError(
            400, "InvalidQueryString", "The query string is not valid UTF-8 URL encoding."
        ) from None
    query: dict[str, str] = {}
    for name, value in pairs:
        if name.lower() in query:
            raise MnsError(400, "InvalidQueryString", f"Http request URL contains {name} more than once.")
        query[name.lower()] = value
    return query


async def _authorize(app: Fnflow, request: Request, action: Action) -> None:
    required = app.settings.auth_enabled
    headers = request.headers
    try:
        if required or signature.is_signed(headers):
            claim = signature.claim(headers, datetime.now(UTC))
            key = await app.keys.signer(claim.key_id, claim.security_token)
            if key is None:
                raise MnsError(
                    403, "InvalidAccessKeyId", f"The AccessKey Id {claim.key_id} you provided is not exist."
                )
            if not signature.matches(claim, key.secret, request.method, headers, request.resource):
                text = signature.string_to_sign(request.method, headers, request.resource)
                raise MnsError(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided. "
                    f"Check your key and signing method. The string to sign is: {text!r}",
                )
            if required and action.scope not in ALLOWED.get(key.scope, set()):
                raise MnsError(
                    403,
                    "AccessDenied",
                    f"A key with scope {key.scope!r} may not do this (it needs {action.scope!r}).",
                )
        signature.check_content_md5(headers.get("content-md5", ""), request.body)
    except signature.SignatureProblem as e:
        raise MnsError(e.status, e.code, str(e)) from None


def failure(host: str, error: MnsError, request_id: str | None = None) -> Response:
    """MNS's error document, with the status of ``error``."""
    request_id = request_id or new_request_id()
    values = {"Code": error.code, "Message": error.message, "RequestId": request_id, "HostId": host}
    return Response(error.status, documents.document("Error", values), request_id)
