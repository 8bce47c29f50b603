"""One FnF RPC request, answered: protocol checks, the signature, the scope, then the action.

Every outcome is JSON: the action's fields and ``RequestId`` on success, ``{"RequestId", "HostId",
"Code", "Message"}`` with Alibaba's status on failure. With auth off (loopback only) an unsigned
request is served; a signed one is still checked (key, signature, time, nonce), so that a client
that would be refused in production is refused here too.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fnflow.compat.alibaba import signature
from fnflow.compat.alibaba.actions import ACTIONS, VERSION, Action
from fnflow.compat.alibaba.errors import RpcError, from_fnflow, internal
from fnflow.compat.alibaba.params import Params, decode
from fnflow.compat.alibaba.shapes import dumps
from fnflow.errors import FnflowError
from fnflow.services.keys import ALLOWED

if TYPE_CHECKING:
    from fnflow.app import Fnflow

log = logging.getLogger("fnflow.rpc")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_STATUS = {"MissingRequiredParams": 400, "InvalidArgument": 400, "RequestTimeTooSkewed": 403}


@dataclass(frozen=True)
class Request:
    method: str
    query: str
    body: bytes
    content_type: str
    host: str


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    request_id: str


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


async def answer(app: Fnflow, request: Request) -> Response:
    request_id = new_request_id()
    try:
        params = decode(request.query, request.body, request.content_type)
        given = params.get("RequestId", "")
        request_id = given if _REQUEST_ID.match(given) else request_id
        action = _action(params)
        await _authorize(app, request.method, params, action)
        result = await action.run(app, Params(params, max_json_bytes=app.settings.max_input_bytes))
        return Response(200, dumps({"RequestId": request_id, **result}), request_id)
    except RpcError as e:
        error = e
    except FnflowError as e:
        error = from_fnflow(e)
    except Exception:
        log.exception("unexpected error answering an FnF request")
        error = internal()
    return failure(request.host, error, request_id)


def _action(params: dict[str, str]) -> Action:
    for name in ("Action", "Version"):
        if not params.get(name):
            raise RpcError(400, "MissingRequiredParams", f"The HTTP query '{name}' must be specified.")
    if params["Version"] != VERSION:
        raise RpcError(
            400,
            "APIVersionNotSupported",
            f"The requested API version '{params['Version']}' is not supported yet. Please check.",
        )
    if params.get("Format", "JSON").upper() != "JSON":
        raise RpcError(400, "InvalidArgument", "Format must be JSON: fnflow answers in JSON only")
    action = ACTIONS.get(params["Action"])
    if action is None:
        raise RpcError(
            400,
            "ActionNotSupported",
            f"The requested API operation '{params['Action']}' is incorrect. Please check.",
        )
    return action


async def _authorize(app: Fnflow, method: str, params: dict[str, str], action: Action) -> None:
    required = app.settings.auth_enabled
    if not required and not signature.is_signed(params):
        return
    try:
        claim = signature.claim(params, datetime.now(UTC))
    except signature.SignatureProblem as e:
        raise RpcError(_STATUS[e.code], e.code, str(e)) from None
    key = await app.keys.signer(claim.key_id, claim.security_token)
    if key is not None and claim.security_token is None and not signature.matches(method, params, key.secret):
        key = await app.keys.lookup(claim.key_id, fresh=True)  # rotated elsewhere a moment ago?
    if key is None:
        raise RpcError(403, "InvalidAccessKeyID", f"The AccessKey ID {claim.key_id} is invalid.")
    if not signature.matches(method, params, key.secret):
        # Alibaba's answer, which the SDK reads: when its own string to sign is this one, it tells
        # the user that the secret is wrong (InvalidAccessKeySecret).
        raise RpcError(
            400,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. server string to sign is:"
            + signature.string_to_sign(method, params),
        )
    if not await app.keys.use_nonce(key.id, claim.nonce, claim.expires):
        raise RpcError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    if required and action.scope not in ALLOWED.get(key.scope, set()):
        raise RpcError(
            403,
            "AccessDenied",
            f"A key with scope {key.scope!r} may not do this (it needs {action.scope!r}).",
        )


def failure(host: str, error: RpcError, request_id: str | None = None) -> Response:
    """Alibaba's error document, with the status of ``error``."""
    request_id = request_id or new_request_id()
    body = {"RequestId": request_id, "HostId": host, "Code": error.code, "Message": error.message}
    return Response(error.status, dumps(body), request_id)
