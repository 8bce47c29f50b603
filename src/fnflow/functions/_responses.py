"""Invocation results as HTTP responses, and HTTP responses as results a flow can retry or catch.

Two shapes, by runtime. ``python3`` keeps Function Compute's: a handler's error is FC's JSON body
with ``X-Fc-Error-Type``, and a flow sees the exception's class name. The OpenFaaS-style runtimes
(``python3-http``, ``python3-flask``, ``python3-classic``, ``command``, ``http``) answer with
their own status, headers and body, and a flow sees any non-2xx answer as an error whose name
depends on the status (``error_type``). Failures of the platform itself (a crash, a timeout, no
free instance) get a status in both shapes; see docs/functions.md.
"""

from __future__ import annotations

from dataclasses import replace

from fnflow.functions.config import FC_RUNTIME
from fnflow.functions.spec import Headers, InvocationResult

MESSAGE_BYTES = 1024  # of a failed response's body, kept as the error message
MAX_BODY_BYTES = 64 * 1024 * 1024  # a command's output or an upstream's body, at most
TEXT = "text/plain; charset=utf-8"
# Hop-by-hop headers (RFC 9110 §7.6.1, the list OpenFaaS' proxy removes), and the framing headers
# of the message we read: the server that sends the response on sets its own.
NOT_FORWARDED = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
STATUS_ERRORS = {
    408: "FC.Unknown",
    429: "FC.ResourceExhausted",
    502: "FC.Unknown",
    503: "FC.ResourceThrottled",
    504: "FC.Unknown",
}


def status_error(status: int) -> str:
    """The error a flow sees for a non-2xx answer of an OpenFaaS-style function."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return "FC.InternalServerError"
    if status >= 400:
        return "FC.InvalidArgument"
    return "FC.Unknown"  # 1xx and 3xx: not an answer a caller can use as a result


def duration_header(duration: float) -> tuple[str, str]:
    """What the watchdogs add to a function's response (Go's ``%f``)."""
    return ("X-Duration-Seconds", f"{duration:f}")


def response(
    status: int, headers: Headers, body: bytes, *, started_at: float, duration: float
) -> InvocationResult:
    """A response of an OpenFaaS-style function: a success if 2xx, else an error named by its status."""
    if 200 <= status < 300:
        return InvocationResult(True, body, None, None, None, started_at, duration, status, headers)
    message = body[:MESSAGE_BYTES].decode("utf-8", "replace")
    return InvocationResult(
        False, body, status_error(status), message, None, started_at, duration, status, headers
    )


def failure(
    runtime: str,
    error_type: str,
    message: str,
    *,
    status: int,
    started_at: float,
    duration: float,
    stack_trace: list[list[str]] | None = None,
    body: bytes | None = None,
) -> InvocationResult:
    """A call that failed for a known reason: FC's error body for python3, else ``body`` or the message."""
    if runtime == FC_RUNTIME:
        headers: Headers = (
            ("Content-Type", "application/json"),
            ("X-Fc-Error-Type", "UnhandledInvocationError"),
            duration_header(duration),
        )
        result = InvocationResult(
            False, b"", error_type, message, stack_trace, started_at, duration, status, headers
        )
        return replace(result, body=result.error_body())
    text = (message + "\n").encode() if body is None else body
    return InvocationResult(
        False, text, error_type, message, stack_trace, started_at, duration, status, (("Content-Type", TEXT),)
    )


def forwardable(headers: Headers) -> Headers:
    """``headers`` without hop-by-hop and framing ones, nor those their ``Connection`` header names."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return tuple((k, v) for k, v in headers if k.lower() not in NOT_FORWARDED and k.lower() not in named)
