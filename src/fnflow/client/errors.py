"""What the client raises: the server's ``{"code", "message"}`` as an exception, or an unreachable server."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of everything :class:`fnflow.Client` raises."""


class ConnectionError(ClientError):  # shadows the builtin on purpose: fnflow.ConnectionError
    """The server could not be reached (refused, timed out, cut off); ``url`` says where we tried."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the fnflow server at {url}: {reason}")
        self.url = url
        self.reason = reason


class ApiError(ClientError):
    """The server answered with an error: HTTP ``status``, fnflow's error ``code`` and ``message``.

    ``errors`` holds the located problems of an invalid flow definition (each with ``path``,
    ``message`` and, where known, ``line``, ``column``, ``step``, ``field``); it is empty otherwise.
    """

    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


class InvalidArgumentError(ApiError):
    """400 or 413: the request (input, definition, name…) is not valid."""


class UnauthorizedError(ApiError):
    """401: no API key, or one the server does not know."""


class ForbiddenError(ApiError):
    """403: the key's scope does not allow this."""


class NotFoundError(ApiError):
    """404: no such flow, execution, function or task."""


class ConflictError(ApiError):
    """409: exists with different content, has running executions, or the task was already reported."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidArgumentError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidArgumentError,
}


def api_error(status: int, body: Any, text: str) -> ApiError:
    """The exception for an error response; ``body`` is its parsed JSON (None if it was not JSON)."""
    cls = _BY_STATUS.get(status, ApiError)
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        errors = body.get("errors")
        message = str(body.get("message", ""))
        return cls(status, body["code"], message, errors if isinstance(errors, list) else None)
    return cls(status, f"HTTP{status}", text.strip()[:500] or f"the server answered HTTP {status}")
