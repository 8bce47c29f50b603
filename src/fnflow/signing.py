"""Signatures on callbacks, so a receiver can trust that fnflow sent them.

Header ``X-Fnflow-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is HMAC-SHA256,
keyed with the server's callback signing key, over ``<t>.<call id>.`` followed by the body.
A receiver checks it with ``verify`` (or ``fnflow.verify_callback``) and rejects old
timestamps, so a recorded callback cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from fnflow.consttime import same

HEADER = "X-Fnflow-Signature"


def _digest(secret: str, timestamp: int, call_id: str, body: bytes) -> str:
    message = f"{timestamp}.{call_id}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, call_id: str, body: bytes, timestamp: int | None = None) -> str:
    """The value of the ``X-Fnflow-Signature`` header."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, t, call_id, body)}"


def verify(secret: str, header: str | None, call_id: str, body: bytes, *, tolerance: float = 300) -> bool:
    """Whether ``header`` signs ``body`` for ``call_id`` with ``secret`` within ``tolerance`` seconds."""
    if not header:
        return False
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, call_id, body)
    return same(expected, fields.get("v1", ""))
