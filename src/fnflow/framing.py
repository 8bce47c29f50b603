"""Reading length-prefixed frames (``fnflow.functions._protocol``'s format) from an asyncio stream:
what a function worker sends its server, and what accept fronts and their owner send each other
(``fnflow.intake``)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from fnflow.functions._protocol import HEADER


class FrameReader(asyncio.Protocol):
    """Cuts a byte stream into frames (``fnflow.functions._protocol``), copying each byte once.

    Chunks are queued until a whole frame is there, and each field is then built by one join over
    memoryview slices: growing a buffer chunk by chunk costs about 3 ms per MiB, a join 0.1 ms.
    """

    def __init__(self, on_frame: Callable[[int, bytes, bytes], None], on_lost: Callable[[], None]) -> None:
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # into the first chunk
        self._size = 0  # unread bytes queued
        self._header: tuple[int, int, int] | None = None
        self._on_frame = on_frame
        self._on_lost = on_lost

    def data_received(self, data: bytes) -> None:
        if self._header is None and not self._size and len(data) >= HEADER.size:  # one whole frame alone
            kind, meta_len, body_len = HEADER.unpack_from(data)
            if len(data) == HEADER.size + meta_len + body_len:
                body_at = HEADER.size + meta_len
                self._on_frame(kind, data[HEADER.size : body_at], data[body_at:] if body_len else b"")
                return
        self._chunks.append(data)
        self._size += len(data)
        while True:
            if self._header is None:
                if self._size < HEADER.size:
                    return
                self._header = HEADER.unpack(self._take(HEADER.size))
            kind, meta_len, body_len = self._header
            if self._size < meta_len + body_len:
                return
            self._header = None
            self._on_frame(kind, self._take(meta_len), self._take(body_len))

    def _take(self, n: int) -> bytes:
        self._size -= n
        parts: list[memoryview | bytes] = []
        while n:
            first = self._chunks[0]
            available = len(first) - self._offset
            if available > n:
                parts.append(memoryview(first)[self._offset : self._offset + n])
                self._offset += n
                break
            parts.append(memoryview(first)[self._offset :] if self._offset else first)
            self._chunks.popleft()
            self._offset = 0
            n -= available
        if len(parts) == 1 and isinstance(parts[0], bytes):
            return parts[0]
        return b"".join(parts)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost()
