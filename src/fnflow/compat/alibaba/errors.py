"""Alibaba's errors: ``{"RequestId", "HostId", "Code", "Message"}`` with the status FnF answers.

fnflow's errors (``fnflow.errors``) are mapped by class, the most specific first; problems of the
protocol itself (signature, version, action) are raised here as ``RpcError``.
"""

from __future__ import annotations

from fnflow.compat.alibaba.params import MissingParameter
from fnflow.errors import (
    Conflict,
    ExecutionAlreadyExists,
    ExecutionNotFound,
    FlowAlreadyExists,
    FlowNotFound,
    FnflowError,
    Forbidden,
    InvalidArgument,
    InvalidSecurityToken,
    NotFound,
    PayloadTooLarge,
    ScheduleAlreadyExists,
    ScheduleNotFound,
    TaskAlreadyCompleted,
    Unauthorized,
    Unavailable,
    WrongExecutionMode,
)


class RpcError(Exception):
    """An error as the RPC API answers it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


#: (class, status, code), most specific first.
Mapping = list[tuple[type[FnflowError], int, str]]

_MAPPING: Mapping = [
    (FlowNotFound, 404, "FlowNotExists"),
    (ExecutionNotFound, 404, "ExecutionNotExists"),
    (ScheduleNotFound, 404, "ScheduleNotExists"),
    (NotFound, 404, "ResourceNotFound"),
    (FlowAlreadyExists, 409, "FlowAlreadyExists"),
    (ScheduleAlreadyExists, 409, "ScheduleAlreadyExists"),
    (ExecutionAlreadyExists, 400, "ExecutionAlreadyExists"),  # 400 as FnF documents it
    (TaskAlreadyCompleted, 400, "TaskAlreadyCompleted"),
    (Conflict, 409, "ResourceInUse"),
    (PayloadTooLarge, 400, "EntityTooLarge"),
    (WrongExecutionMode, 400, "ActionNotSupported"),
    (MissingParameter, 400, "MissingRequiredParams"),
    (InvalidArgument, 400, "InvalidArgument"),
    (Unauthorized, 403, "InvalidAccessKeyID"),
    (Forbidden, 403, "AccessDenied"),
    (Unavailable, 503, "ServiceUnavailable"),
]


def translate(error: FnflowError, mapping: Mapping) -> tuple[int, str] | None:
    """(status, code) of ``error`` by ``mapping``; bad temporary credentials are
    ``InvalidSecurityToken.<reason>`` on each of Alibaba's APIs. None if ``mapping`` has no class of it."""
    if isinstance(error, InvalidSecurityToken):
        return 403, f"InvalidSecurityToken.{error.reason}"
    return next(((status, code) for kind, status, code in mapping if isinstance(error, kind)), None)


def from_fnflow(error: FnflowError) -> RpcError:
    status, code = translate(error, _MAPPING) or (500, "InternalServerError")
    return RpcError(status, code, error.message)


def internal() -> RpcError:
    return RpcError(500, "InternalServerError", "An internal error occurred; see the server log.")
