"""FIFO admission: at most ``capacity`` calls of one function run at once, the rest wait in order.

Unlike ``asyncio.Semaphore`` it never lets a newcomer pass a waiter, bounds each wait, and its
capacity can change while calls wait (a redeploy may change ``max_instances``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from fnflow.errors import Unavailable


class Admission:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._closed = False

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self._grant()

    def try_acquire(self) -> bool:
        """Admitted now (then call ``release``) if there is room and nobody waits; no coroutine to
        make on the call path when there is."""
        if self.in_use < self.capacity and not self._waiters and not self._closed:
            self.in_use += 1
            return True
        return False

    async def acquire(self, timeout: float) -> bool:
        """True once admitted (then call ``release``), False if ``timeout`` seconds passed first."""
        if self._closed:
            raise Unavailable("the function pool is closed")
        if self.try_acquire():
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout, self._expire, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                with contextlib.suppress(ValueError):  # _grant may have dropped it already
                    self._waiters.remove(waiter)
            elif waiter.exception() is None and waiter.result():  # admitted, then cancelled before resuming
                self.release()
            raise
        finally:
            timer.cancel()

    def release(self) -> None:
        self.in_use -= 1
        self._grant()

    def close(self) -> None:
        """Fail every waiter and every later ``acquire`` with ``Unavailable``."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(Unavailable("the function pool is closed"))

    def _grant(self) -> None:
        while self._waiters and self.in_use < self.capacity:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a cancelled waiter stays queued until its task resumes
                self.in_use += 1
                waiter.set_result(True)

    def _expire(self, waiter: asyncio.Future[bool]) -> None:
        if not waiter.done():
            self._waiters.remove(waiter)
            waiter.set_result(False)
