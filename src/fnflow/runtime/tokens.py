"""Task tokens: what a waitForCallback task hands out and ReportTaskSucceeded/Failed brings back.

Shape as FnF's (base64 of ``v1#<flow>#<execution>#<activity>#<mac>``) with the execution's id
in place of its name, so a report finds its execution without a lookup, and an HMAC keyed
with a secret the server keeps in its database, so tokens cannot be guessed or forged and
stay valid across restarts. Clients treat them as opaque.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from fnflow.consttime import same
from fnflow.errors import InvalidArgument


@dataclass(frozen=True)
class TaskRef:
    flow_name: str
    execution_id: str
    activity: int


class TaskTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, prefix: str) -> str:
        digest = hmac.new(self._secret, prefix.encode(), hashlib.sha256).digest()[:20]
        return base64.b64encode(digest).decode()

    def mint(self, flow_name: str, execution_id: str, activity: int) -> str:
        prefix = f"v1#{flow_name}#{execution_id}#{activity}"
        return base64.b64encode(f"{prefix}#{self._mac(prefix)}".encode()).decode()

    def parse(self, token: str) -> TaskRef:
        """The task a token names; InvalidArgument if it is malformed or forged."""
        try:
            text = base64.b64decode(token.strip(), validate=True).decode()
            version, flow_name, execution_id, activity, mac = text.split("#")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidArgument("the task token is not valid") from None
        prefix = f"{version}#{flow_name}#{execution_id}#{activity}"
        if version != "v1" or not activity.isdigit() or not same(mac, self._mac(prefix)):
            raise InvalidArgument("the task token is not valid")
        return TaskRef(flow_name, execution_id, int(activity))
