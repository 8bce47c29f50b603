"""Forward a worker's stdout or stderr (one pipe each) line by line, tagged with the request.

The pipe is read from the event loop without blocking (``add_reader``), and drained once more when
a result frame arrives if the worker says output still waits in it: the worker writes its output
before the frame, so every line a call printed goes out under that call's request id, never under
the next one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

MAX_LINE = 64 * 1024  # longer lines are split rather than buffered without bound


Emit = Callable[[str | None, str], None]  # (request id or None between calls, line)


class OutputForwarder:
    def __init__(self, fd: int, emit: Emit) -> None:
        self.request_id: str | None = None
        self._fd = fd
        self._emit_line = emit
        self._partial = b""
        self._loop = asyncio.get_running_loop()
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self.drain)

    def drain(self) -> None:
        """Log every complete line now readable."""
        while self._fd >= 0:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            if not chunk:  # every writer is gone
                self._shut()
                return
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            for line in lines:
                self._emit(line)
            while len(self._partial) > MAX_LINE:
                self._emit(self._partial[:MAX_LINE])
                self._partial = self._partial[MAX_LINE:]

    def flush(self) -> None:
        """Drain, then log an unterminated last line too (the call it belongs to is over)."""
        self.end_of_call(unread=True)

    def end_of_call(self, unread: bool) -> None:
        """The call's answer came: log what it wrote that is left, reading the pipe once more only
        if the worker says output still waits in it (``unread``)."""
        if unread:
            self.drain()
        if self._partial:
            self._emit(self._partial)
            self._partial = b""

    def close(self) -> None:
        """Log what is left and stop reading (a grandchild may still hold the pipe open)."""
        self.flush()
        self._shut()

    def _shut(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _emit(self, line: bytes) -> None:
        self._emit_line(self.request_id, line.decode("utf-8", "replace").rstrip("\r"))
