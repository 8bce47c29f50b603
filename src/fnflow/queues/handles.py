"""Receipt handles: what a receive hands out for each message, to delete it or change its visibility.

A handle names the message and the receive that got it (the holder of the message's lease), so
it stops working once that receive holds the message no more: its visibility timeout passed, the
message was deleted, or another receive got it. Handles are opaque to receivers (URL-safe base64).
"""

from __future__ import annotations

import base64
import binascii

from fnflow.errors import InvalidReceiptHandle

_SEPARATOR = "\x1f"


def receipt_handle(message_id: str, receive: str) -> str:
    raw = f"{receive}{_SEPARATOR}{message_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_receipt_handle(handle: str) -> tuple[str, str]:
    """(message id, receive) of a handle; InvalidArgument if it is not one fnflow made."""
    try:
        raw = base64.b64decode(handle + "=" * (-len(handle) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    receive, separator, message_id = raw.partition(_SEPARATOR)
    if not separator or not receive or not message_id:
        raise InvalidReceiptHandle(f"{handle!r} is not a receipt handle")
    return message_id, receive
