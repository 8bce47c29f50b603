"""MNS's request signature and the checks of the headers it covers.

``Authorization: MNS <AccessKeyId>:<Signature>``, where the signature is base64 of HMAC-SHA1, keyed
with the AccessKeySecret, over::

    METHOD \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedMNSHeaders CanonicalizedResource

``CanonicalizedMNSHeaders`` is every ``x-mns-*`` header (lower-case name) sorted by name, each as
``name:value\\n``; ``CanonicalizedResource`` is the request's path and query as sent. Temporary
credentials add a ``security-token`` header, which is not signed. ``Content-MD5`` is, as the SDKs
send it, base64 of the *hex* MD5 of the body (base64 of the digest itself is taken too). Pure: no
clock (``now`` comes in), no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from fnflow.compat.alibaba.signature import WINDOW

SCHEME = "MNS"


class SignatureProblem(Exception):
    """What is wrong with a request's signature headers; ``code`` and ``status`` are MNS's."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Claim:
    """Who a signed request says it is."""

    key_id: str
    signature: str
    security_token: str | None = None


def string_to_sign(method: str, headers: Mapping[str, str], resource: str) -> str:
    """``headers`` by lower-case name."""
    mns = "".join(f"{name}:{headers[name]}\n" for name in sorted(headers) if name.startswith("x-mns-"))
    fields = (method.upper(), headers.get("content-md5", ""), headers.get("content-type", ""))
    return "\n".join((*fields, headers.get("date", ""), mns + resource))


def sign(secret: str, method: str, headers: Mapping[str, str], resource: str) -> str:
    text = string_to_sign(method, headers, resource)
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()


def matches(claim: Claim, secret: str, method: str, headers: Mapping[str, str], resource: str) -> bool:
    return hmac.compare_digest(sign(secret, method, headers, resource), claim.signature)


def is_signed(headers: Mapping[str, str]) -> bool:
    return "authorization" in headers


def claim(headers: Mapping[str, str], now: datetime) -> Claim:
    """Check the headers a signature covers and names (but the signature itself)."""
    authorization = headers.get("authorization", "")
    if not authorization:
        raise SignatureProblem(400, "MissingAuthorizationHeader", "Authorization header is required.")
    scheme, _, credentials = authorization.partition(" ")
    key_id, _, signature = credentials.strip().rpartition(":")
    if scheme != SCHEME or not key_id or not signature:
        raise SignatureProblem(
            400,
            "InvalidAuthorizationHeader",
            f"The Authorization header format is invalid: use {SCHEME} <AccessKeyId>:<Signature>.",
        )
    check_date(headers.get("date", ""), now)
    return Claim(key_id, signature, headers.get("security-token") or None)


def check_date(text: str, now: datetime) -> None:
    """The ``Date`` header: an HTTP date within ``WINDOW`` of ``now``."""
    if not text:
        raise SignatureProblem(400, "MissingDateHeader", "Date header is required.")
    try:
        date = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        date = None
    if date is None or date.tzinfo is None:
        raise SignatureProblem(
            400, "InvalidDateHeader", f"The Date header {text!r} is not a GMT date such as {_http_date(now)}."
        )
    if abs(date - now) > WINDOW:
        raise SignatureProblem(
            408,
            "TimeExpired",
            f"The http request you sent is expired: its Date {text} is more than "
            f"{int(WINDOW.total_seconds() // 60)} minutes from the server's {_http_date(now)}.",
        )


def check_content_md5(header: str, body: bytes) -> None:
    """A ``Content-MD5`` header, when there is one, must be the body's."""
    if not header:
        return
    digest = hashlib.md5(body)
    allowed = (
        base64.b64encode(digest.hexdigest().encode()).decode(),
        base64.b64encode(digest.digest()).decode(),
    )
    if header not in allowed:
        raise SignatureProblem(400, "InvalidDegist", "The Content-MD5 you specified is invalid.")


def _http_date(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
