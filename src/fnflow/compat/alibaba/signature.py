"""Alibaba's RPC request signature, version 1.0 (HMAC-SHA1), and the checks of its parameters.

The string to sign is ``METHOD&%2F&pct(canonical)``, where ``canonical`` joins every parameter of
the query and of the form body but ``Signature``, sorted by name, as ``pct(name)=pct(value)``
with ``&``; ``pct`` percent-encodes UTF-8 leaving only ``A-Z a-z 0-9 - _ . ~``. The signature is
base64 of HMAC-SHA1 keyed with ``<AccessKeySecret>&``. Pure: no clock (``now`` comes in), no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from fnflow.consttime import same
from fnflow.fdl.timestamps import parse_timestamp

#: How far a request's Timestamp may be from the server's clock (either way).
WINDOW = timedelta(minutes=15)
MAX_NONCE = 64


def pct(text: str) -> str:
    return quote(text, safe="-_.~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(f"{pct(k)}={pct(v)}" for k, v in sorted(params.items()) if k != "Signature")
    return f"{method.upper()}&{pct('/')}&{pct(canonical)}"


def sign(method: str, params: Mapping[str, str], secret: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


def matches(method: str, params: Mapping[str, str], secret: str) -> bool:
    return same(sign(method, params, secret), params.get("Signature", ""))


class SignatureProblem(Exception):
    """What is wrong with a request's signature parameters; ``code`` is Alibaba's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Claim:
    """Who a signed request says it is, and what makes it unique."""

    key_id: str
    nonce: str
    timestamp: datetime
    security_token: str | None = None

    @property
    def expires(self) -> datetime:
        """Until when a replay of the request would still be in the window."""
        return self.timestamp + WINDOW


def is_signed(params: Mapping[str, str]) -> bool:
    return "Signature" in params or "AccessKeyId" in params


def claim(params: Mapping[str, str], now: datetime) -> Claim:
    """Check the signature parameters other than the signature itself."""
    for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp"):
        if not params.get(name):
            raise SignatureProblem("MissingRequiredParams", f"The HTTP query '{name}' must be specified.")
    method = params.get("SignatureMethod", "HMAC-SHA1")
    if method != "HMAC-SHA1":
        raise SignatureProblem(
            "InvalidArgument", f"SignatureMethod {method!r} is not supported: use HMAC-SHA1"
        )
    version = params.get("SignatureVersion", "1.0")
    if version != "1.0":
        raise SignatureProblem("InvalidArgument", f"SignatureVersion {version!r} is not supported: use 1.0")
    nonce = params["SignatureNonce"]
    if len(nonce) > MAX_NONCE:
        raise SignatureProblem("InvalidArgument", f"SignatureNonce is longer than {MAX_NONCE} characters")
    text = params["Timestamp"]
    try:
        timestamp = parse_timestamp(text)
    except ValueError:
        raise SignatureProblem(
            "InvalidArgument", f"Timestamp {text!r} is not a UTC time such as 2019-08-15T10:00:00Z"
        ) from None
    if abs(timestamp - now) > WINDOW:
        raise SignatureProblem(
            "RequestTimeTooSkewed",
            f"The difference between the request time {text} and the current time "
            f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')} is too large.",
        )
    return Claim(params["AccessKeyId"], nonce, timestamp, params.get("SecurityToken") or None)
