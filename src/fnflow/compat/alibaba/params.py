"""An RPC action's parameters, read with the types FnF documents for them.

Parameters come from the query and the form body alike (the SDKs put writes' parameters in the
body and reads' in the query, and ReportTask's TaskToken in the query of a POST); a name given
twice is refused rather than guessed at. Every problem is an ``InvalidArgument`` naming the
parameter, or ``MissingParameter`` for a required one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fnflow.errors import InvalidArgument
from fnflow.fdl.timestamps import parse_timestamp
from fnflow.services.executions import parse_json_object

#: Parameters of the protocol itself, read by ``rpc`` and ``signature``, never by an action.
COMMON = frozenset(
    {
        "Action",
        "Version",
        "Format",
        "RegionId",
        "Timestamp",
        "SignatureMethod",
        "SignatureType",
        "SignatureVersion",
        "SignatureNonce",
        "AccessKeyId",
        "Signature",
        "SecurityToken",
        "RequestId",
    }
)


class MissingParameter(InvalidArgument):
    """A required parameter is absent or empty."""


def decode(query: str, body: bytes, content_type: str) -> dict[str, str]:
    """The parameters of the query and, when it is a form, of the body, as one mapping."""
    params: dict[str, str] = {}
    sources = [query]
    if body:
        if not content_type.lower().startswith("application/x-www-form-urlencoded"):
            raise InvalidArgument("the body must be application/x-www-form-urlencoded parameters")
        try:
            sources.append(body.decode())
        except UnicodeDecodeError:
            raise InvalidArgument("the body is not UTF-8") from None
    for source in sources:
        try:
            pairs = parse_qsl(source, keep_blank_values=True, strict_parsing=False, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise InvalidArgument("the parameters are not valid UTF-8 URL encoding") from None
        for name, value in pairs:
            if name in params:
                raise InvalidArgument(f"parameter {name} is given more than once")
            params[name] = value
    return params


class Params:
    """One action's parameters (protocol parameters left out)."""

    def __init__(self, values: Mapping[str, str], *, max_json_bytes: int) -> None:
        self._values = {k: v for k, v in values.items() if k not in COMMON}
        self._max_json = max_json_bytes

    def text(self, name: str, *, required: bool = False, max_length: int | None = None) -> str | None:
        value = self._values.get(name)
        if value is None or (value == "" and required):
            if required:
                raise MissingParameter(f"The parameter {name} must be specified.")
            return None
        if max_length is not None and len(value) > max_length:
            raise InvalidArgument(f"{name} may have at most {max_length} characters")
        return value

    def required(self, name: str, *, max_length: int | None = None) -> str:
        value = self.text(name, required=True, max_length=max_length)
        assert value is not None
        return value

    def integer(self, name: str, *, default: int, low: int, high: int) -> int:
        value = self.text(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise InvalidArgument(f"{name} must be an integer, not {value!r}") from None
        if not low <= number <= high:
            raise InvalidArgument(f"{name} must be between {low} and {high}, not {number}")
        return number

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None or value == "":
            return None
        if value.lower() not in ("true", "false"):
            raise InvalidArgument(f"{name} must be true or false, not {value!r}")
        return value.lower() == "true"

    def json_object(self, name: str) -> dict[str, Any] | None:
        """A string holding a JSON object (FnF's Input, Payload, Output); empty means ``{}``."""
        value = self.text(name)
        if value is None:
            return None
        return parse_json_object(value, name, self._max_json)

    def time(self, name: str) -> datetime | None:
        value = self.text(name)
        if not value:
            return None
        try:
            return parse_timestamp(value)
        except ValueError as e:
            raise InvalidArgument(f"{name}: {e}") from None

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.text(name)
        if not value:
            return None
        if value not in choices:
            raise InvalidArgument(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return value
