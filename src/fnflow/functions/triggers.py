"""A function's triggers, as Function Compute has them: what calls it besides its callers.

- ``http``: the function answers HTTP requests at ``/2016-08-15/proxy/{service}/{function}/…``
  (FC's path) with its handler called as a WSGI application; ``auth_type`` ANONYMOUS lets anyone
  call it, FUNCTION needs a key when the server requires keys; ``methods`` are those it answers.
- ``timer``: the function is called asynchronously on a cron schedule (FnF's cron format) with
  FC's timer event ``{"triggerTime", "triggerName", "payload"}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fnflow.errors import InvalidArgument

KINDS = ("http", "timer")
AUTH_TYPES = ("ANONYMOUS", "FUNCTION")
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
PAYLOAD_BYTES = 32 * 1024


@dataclass(frozen=True)
class TriggerSpec:
    """One trigger of one function."""

    service: str
    function: str
    name: str
    kind: str  # http | timer
    auth_type: str = "ANONYMOUS"  # http
    methods: tuple[str, ...] = ()  # http: the methods it answers
    cron_expression: str = ""  # timer
    payload: str = ""  # timer: the event's "payload"
    enabled: bool = True  # timer

    def validate(self) -> None:
        """InvalidArgument says what is wrong (the cron expression is the scheduler's to check)."""
        if not NAME.match(self.name):
            raise InvalidArgument(
                f"trigger name {self.name!r} must be 1-128 characters of [A-Za-z0-9_-],"
                " not starting with a digit or -"
            )
        where = f"trigger {self.name!r} of function {self.service}/{self.function}"
        if self.kind not in KINDS:
            raise InvalidArgument(f"{where}: the kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.kind == "http":
            if self.auth_type not in AUTH_TYPES:
                raise InvalidArgument(
                    f"{where}: AuthType must be ANONYMOUS or FUNCTION, not {self.auth_type!r}"
                )
            unknown = [m for m in self.methods if m not in METHODS]
            if unknown or not self.methods:
                raise InvalidArgument(
                    f"{where}: Methods must be some of {', '.join(METHODS)}"
                    + (f", not {', '.join(unknown)}" if unknown else "")
                )
        elif not self.cron_expression:
            raise InvalidArgument(f"{where}: a timer needs a CronExpression")
        elif len(self.payload.encode()) > PAYLOAD_BYTES:
            raise InvalidArgument(f"{where}: the payload is over {PAYLOAD_BYTES} bytes")

    def config(self) -> dict[str, object]:
        """What is stored beside the kind: the http or the timer settings."""
        if self.kind == "http":
            return {"authType": self.auth_type, "methods": list(self.methods)}
        return {"cronExpression": self.cron_expression, "payload": self.payload, "enable": self.enabled}

    @classmethod
    def of(cls, service: str, function: str, name: str, kind: str, config: dict[str, object]) -> TriggerSpec:
        """The spec of a stored trigger (``config`` as ``config()`` wrote it)."""
        if kind == "http":
            methods = config.get("methods", [])
            return cls(
                service,
                function,
                name,
                kind,
                auth_type=str(config.get("authType", "ANONYMOUS")),
                methods=tuple(str(m) for m in methods) if isinstance(methods, list) else (),
            )
        return cls(
            service,
            function,
            name,
            kind,
            cron_expression=str(config.get("cronExpression", "")),
            payload=str(config.get("payload", "")),
            enabled=bool(config.get("enable", True)),
        )
