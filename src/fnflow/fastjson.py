"""JSON on the hot paths: orjson, and the standard library for what orjson refuses.

orjson encodes and decodes a worker call's frame or an async call's headers in a tenth of
``json``'s time. What it refuses and ``json`` takes (integers beyond 64 bits, lone surrogates,
keys that are not strings; ``NaN`` in a text) goes to ``json``. Two differences remain, so it is
for fnflow's own frames and headers, not a user's data: it writes NaN and infinities as
``null``, and reads integers beyond 64 bits as floats.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (ASCII with escapes where ``json`` writes it: a lone surrogate stays one)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """The value of a JSON text; ``json.JSONDecodeError`` if neither parser takes it."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
