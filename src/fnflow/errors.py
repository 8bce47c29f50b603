"""Errors that cross a layer boundary, each with a stable ``code``.

The API maps ``code`` to an HTTP status in one table (``fnflow.api.errors``); nothing else
needs to know about HTTP. The subclasses below a kind keep its ``code`` (the native API answers
as before) and tell other dialects, such as FnF's RPC API, which resource is meant. The tree::

    FnflowError
    ├── InvalidArgument            bad input (400)
    │   ├── InvalidDefinition      FDL that does not validate; carries every problem found
    │   ├── PayloadTooLarge        body or input over the configured limit (413)
    │   ├── WrongExecutionMode     a Standard start of an Express flow, or the other way round
    │   ├── InvalidReceiptHandle   not a receipt handle fnflow made
    │   └── InstallFailed          a function's requirements.txt could not be installed (pip's error)
    ├── Unauthorized               missing or bad credentials (401)
    │   └── InvalidSecurityToken   temporary credentials that are forged, mismatched or expired
    ├── Forbidden                  the key's scope does not allow the action (403)
    ├── NotFound                   flow, execution, function, task token… (404)
    │   ├── FlowNotFound, ExecutionNotFound, ScheduleNotFound
    │   ├── QueueNotFound, TopicNotFound, SubscriptionNotFound
    │   └── MessageNotHeld         a receipt handle whose receive holds the message no more
    ├── Conflict                   already exists with different content (409)
    │   ├── FlowAlreadyExists      a create of a flow that exists
    │   ├── ScheduleAlreadyExists  a create of a schedule that exists
    │   ├── QueueAlreadyExists, TopicAlreadyExists, SubscriptionAlreadyExists
    │   │                          a create (not a replace) of one that exists differently
    │   ├── ExecutionAlreadyExists a start of a name whose execution has ended (FnF's rule)
    │   └── TaskAlreadyCompleted   a report for a task that is no longer waiting
    └── Unavailable                store or worker pool not ready (503)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


class FnflowError(Exception):
    """Something went wrong."""

    code: ClassVar[str] = "InternalError"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or self.code).strip())

    @property
    def message(self) -> str:
        return str(self.args[0])

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class InvalidArgument(FnflowError):
    """The request is not valid."""

    code = "InvalidArgument"


class InstallFailed(InvalidArgument):
    """A function's requirements could not be installed; the message ends with the installer's own."""

    code = "InstallFailed"


@dataclass(frozen=True)
class DefinitionProblem:
    """One thing wrong with a flow definition, located as precisely as we can."""

    path: str  # where in the document: "steps[1].retry[0].maxAttempts"
    message: str
    step: str | None = None  # the name of the innermost enclosing step, if any
    field: str | None = None  # the offending field name, if any
    line: int | None = None  # 1-based, for YAML and JSON text
    column: int | None = None  # 1-based

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line else ""
        step = f"step {self.step!r}: " if self.step else ""
        path = f"{self.path}: " if self.path else ""
        return f"{where}{step}{path}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class InvalidDefinition(InvalidArgument):
    """The flow definition is not valid."""

    code = "InvalidDefinition"

    def __init__(self, problems: list[DefinitionProblem]) -> None:
        self.problems = problems
        lines = "; ".join(str(p) for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"invalid flow definition: {lines}{more}")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "errors": [p.to_dict() for p in self.problems]}


class PayloadTooLarge(InvalidArgument):
    """The payload is larger than allowed."""

    code = "PayloadTooLarge"


class Unauthorized(FnflowError):
    """Missing or invalid credentials."""

    code = "Unauthorized"


class InvalidSecurityToken(Unauthorized):
    """The security token of temporary credentials is not valid."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # Malformed, MismatchWithAccessKey or Expired (as Alibaba's STS says)


class Forbidden(FnflowError):
    """The credentials do not allow this action."""

    code = "Forbidden"


class WrongExecutionMode(InvalidArgument):
    """The flow's execution mode does not allow this way of starting it."""


class NotFound(FnflowError):
    """Not found."""

    code = "NotFound"


class FlowNotFound(NotFound):
    """The flow does not exist."""


class ExecutionNotFound(NotFound):
    """The execution does not exist."""


class ScheduleNotFound(NotFound):
    """The schedule does not exist."""


class QueueNotFound(NotFound):
    """The queue does not exist."""


class TopicNotFound(NotFound):
    """The topic does not exist."""


class SubscriptionNotFound(NotFound):
    """The subscription does not exist."""


class MessageNotHeld(NotFound):
    """The receipt handle is no longer valid: the message's visibility timeout passed, it was
    deleted, or another receive got it since."""


class InvalidReceiptHandle(InvalidArgument):
    """The receipt handle is not one fnflow made."""


class Conflict(FnflowError):
    """Conflicts with what already exists."""

    code = "Conflict"


class FlowAlreadyExists(Conflict):
    """A flow of this name exists."""


class ScheduleAlreadyExists(Conflict):
    """A schedule of this name exists."""


class QueueAlreadyExists(Conflict):
    """A queue of this name exists with other attributes."""


class TopicAlreadyExists(Conflict):
    """A topic of this name exists with other attributes."""


class SubscriptionAlreadyExists(Conflict):
    """A subscription of this name exists with other settings."""


class ExecutionAlreadyExists(Conflict):
    """An execution of this name has run and ended; the name cannot be used again."""


class TaskAlreadyCompleted(Conflict):
    """The task is no longer waiting for a report."""

    code = "TaskAlreadyCompleted"


class Unavailable(FnflowError):
    """The service is not ready."""

    code = "Unavailable"
