"""The client's gateway side without a server: calls and bin requests from JSON, telling fnflow's
refusals from a function's answers, function addresses, and callback signatures."""

from __future__ import annotations

import base64
from email.message import Message

import httpx
import pytest

from fnflow import signing
from fnflow.client import BinRequest, Call, NotFoundError, UnauthorizedError, verify_callback
from fnflow.client.gateway import function_route, gateway_refusal

CALL = {
    "callId": "c1",
    "service": "default",
    "function": "resize",
    "queue": "slow",
    "status": "Failed",
    "attempts": 4,
    "maxAttempts": 4,
    "deadLetter": True,
    "createdTime": "2026-01-02T03:04:05.678Z",
    "startedTime": "2026-01-02T03:04:05.700Z",
    "finishedTime": "2026-01-02T03:04:09.000Z",
    "nextAttemptTime": None,
    "callbackUrl": "http://127.0.0.1:9/hook",
    "result": {
        "status": 503,
        "headers": [["Content-Type", "application/octet-stream"], ["Retry-After", "1"]],
        "body": base64.b64encode(b"\xff\x00busy").decode(),
        "bodyEncoding": "base64",
    },
    "error": "HTTP 503",
    "deliveries": [
        {
            "kind": "callback",
            "target": "http://127.0.0.1:9/hook",
            "status": "Pending",
            "attempts": 2,
            "lastStatus": None,
            "lastError": "connection refused",
            "deliveredTime": None,
        }
    ],
}


def test_call_from_json() -> None:
    call = Call.from_json(CALL)
    assert (call.call_id, call.queue, call.dead_letter, call.finished, call.succeeded) == (
        "c1",
        "slow",
        True,
        True,
        False,
    )
    assert call.result is not None and call.result.body == b"\xff\x00busy"
    assert call.result.header("retry-after") == "1" and call.result.header("X-Missing") is None
    assert call.finished_time is not None and call.started_time is not None
    assert (call.finished_time - call.started_time).total_seconds() == pytest.approx(3.3)
    [delivery] = call.deliveries
    assert (delivery.kind, delivery.attempts, delivery.last_error) == ("callback", 2, "connection refused")
    assert call.raw is CALL


def test_a_listed_call_has_no_result_nor_deliveries_yet() -> None:
    queued = Call.from_json({**CALL, "status": "Enqueued", "result": None, "deliveries": None})
    assert (queued.result, queued.deliveries, queued.finished) == (None, [], False)


def test_bin_request_from_json() -> None:
    raw = {
        "method": "POST",
        "path": "/",
        "query": "a=1",
        "headers": [["x-call-id", "c1"]],
        "receivedTime": "2026-01-02T03:04:05.678Z",
        "body": "héllo",
        "bodyEncoding": "utf-8",
    }
    request = BinRequest.from_json(raw)
    assert (request.body, request.header("X-Call-Id"), request.query) == ("héllo".encode(), "c1", "a=1")


def response(status: int, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.Response(status, headers=headers, content=body)


ERROR = b'{"code": "NotFound", "message": "function default/nope does not exist"}'
JSON = {"content-type": "application/json"}


def test_fnflow_refusals_raise_and_function_answers_do_not() -> None:
    refused = gateway_refusal(response(404, JSON, ERROR))
    assert isinstance(refused, NotFoundError) and refused.message == "function default/nope does not exist"
    unauthorized = gateway_refusal(response(401, JSON, b'{"code": "Unauthorized", "message": "key"}'))
    assert isinstance(unauthorized, UnauthorizedError)
    # the same body from a function: it carries X-Duration-Seconds, as every function answer does
    assert gateway_refusal(response(404, {**JSON, "x-duration-seconds": "0.001"}, ERROR)) is None
    assert gateway_refusal(response(404, {"content-type": "text/plain"}, b"not found")) is None
    assert gateway_refusal(response(500, JSON, b'{"errorMessage": "boom"}')) is None
    assert gateway_refusal(response(200, JSON, ERROR)) is None


def test_function_addresses() -> None:
    assert function_route("function", "echo", "default", "") == "/function/echo"
    assert function_route("function", "echo", "tools", "a/b") == "/function/echo.tools/a/b"
    assert function_route("async-function", "echo", "default", "/x y") == "/async-function/echo/x%20y"


def test_verify_callback_takes_any_headers_in_any_case() -> None:
    body = b'{"ok": true}'
    signature = signing.sign("k", "c1", body)
    pairs = [("X-Call-Id", "c1"), ("X-Fnflow-Signature", signature)]
    message = Message()
    for name, value in pairs:
        message[name] = value
    for headers in (pairs, dict(pairs), {k.lower(): v for k, v in pairs}, message):
        assert verify_callback(headers, body, "k")
    assert not verify_callback(pairs, body + b" ", "k")
    assert not verify_callback(pairs, body, "other key")
    assert not verify_callback([("X-Call-Id", "c2"), pairs[1]], body, "k")  # signed for another call
    assert not verify_callback(pairs[1:], body, "k")
    assert not verify_callback(pairs[:1], body, "k")
    old = [pairs[0], ("X-Fnflow-Signature", signing.sign("k", "c1", body, timestamp=1))]
    assert not verify_callback(old, body, "k")
    assert verify_callback(old, body, "k", tolerance=float("inf"))
