"""The wire format between the pool and a worker: binary length-prefixed frames.

A frame is ``kind`` (1 byte), ``meta`` length and ``body`` length (4 bytes each, big-endian), then
``meta`` (small UTF-8 JSON) and ``body`` (raw bytes, never re-encoded, so payloads of any content
cost one copy). Shared by both sides; stdlib only, because the worker imports it before user code.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("!BII")

# pool -> worker
# meta: InvocationContext fields (runtime python3), else the request's {"method", "path", "query",
# "headers": [[name, value], ...]}; body: the event or request body
INVOKE = 1
# worker -> pool
READY = 2  # the handler imported; meta: {}
# meta: {"started_at", "duration"}, plus {"status", "headers"} for the OpenFaaS-style runtimes;
# body: the encoded return value or response body
RESULT = 3
# meta: {"errorType", "errorMessage", "stackTrace", "started_at", "duration"}; before READY, the import failed
ERROR = 4
# in the meta of a RESULT or ERROR: the worker's stdout or stderr holds output the pool has not
# read yet (the pool reads its pipes before it takes the answer only then)
UNREAD = "unread"


JOIN_BELOW = 64 * 1024  # smaller bodies go out in one write; larger ones are not copied to be joined


def frame(kind: int, meta: bytes, body: bytes = b"") -> list[bytes]:
    """The frame as one or two buffers to write in order."""
    head = HEADER.pack(kind, len(meta), len(body)) + meta
    return [head + body] if len(body) < JOIN_BELOW else [head, body]
