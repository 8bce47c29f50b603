"""Time and ids as the adapters see them: one ``Clock`` and one ``Ids`` source, made by the
composition root (``fnflow.app``) and handed to the runtime, timers, leases, the dispatcher, the
deliverer and the scheduler.

The engine already takes ``now`` from outside; with these, everything above it can too. A server
runs on ``SystemClock`` and ``RandomIds``; ``fnflow test`` runs the same runtime on a
``VirtualClock``, whose time moves only when it is told to (to the next timer when nothing else
can happen), and on ``CountingIds``, so runs are instant and repeat exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The wall-clock time, UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of this clock's time."""
        ...

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        """Wait until ``event`` is set (True) or ``timeout`` seconds of this clock pass (False)."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        return await wait_event(event, timeout)


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set (True) or ``timeout`` seconds pass (False).

    Not ``asyncio.wait_for``: on Python 3.11 it drops a cancellation that arrives as the event is
    set, and a loop waiting this way then never ends (closing its owner hangs).
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    return event.is_set()


class VirtualClock:
    """Time that stands still until ``advance`` moves it; sleepers wake when it passes their deadline.

    ``next_deadline`` is the earliest time a sleeper waits for: a driver that sees nothing else can
    happen jumps there (see ``fnflow.flowtest.harness``).
    """

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._offset = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return self._offset

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the start."""
        return self._offset

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._offset + seconds, next(self._order), future))
        await future

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        waiting = asyncio.ensure_future(event.wait())
        sleeping = asyncio.ensure_future(self.sleep(timeout))
        try:
            await asyncio.wait([waiting, sleeping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, sleeping):
                task.cancel()
            await asyncio.gather(waiting, sleeping, return_exceptions=True)
        return event.is_set()

    def next_deadline(self) -> float | None:
        """The virtual offset (seconds since the start) of the earliest sleeper still waiting."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)  # cancelled
        return self._sleepers[0][0] if self._sleepers else None

    def advance(self, to: float) -> int:
        """Move time to ``to`` seconds since the start and wake every sleeper due by then; how many."""
        self._offset = max(self._offset, to)
        woken = 0
        while self._sleepers and self._sleepers[0][0] <= self._offset:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
                woken += 1
        return woken


class Ids(Protocol):
    def uuid(self) -> str:
        """A new unique id (UUID text)."""
        ...


#: random bits per id, read from the OS this many ids at a time
_RANDOM_BATCH = 256


def _random_bits() -> Iterator[int]:
    """80 random bits per id, from one ``getrandom`` per batch rather than one per id (a system
    call costs several µs on a busy server: accepting a call makes an id)."""
    data = os.urandom(10 * _RANDOM_BATCH)
    return iter([int.from_bytes(data[i : i + 10], "big") for i in range(0, len(data), 10)])


_random = _random_bits()  # next() on it is atomic under the GIL: threads never share bits
os.register_at_fork(after_in_child=lambda: globals().update(_random=_random_bits()))  # nor do forks


def _uuid7() -> int:
    global _random
    bits = next(_random, None)
    if bits is None:
        _random = _random_bits()
        bits = next(_random)
    value = (time.time_ns() // 1_000_000) << 80 | bits
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    return value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant


def uuid7() -> uuid.UUID:
    """A random UUID that starts with the time in milliseconds (RFC 9562's version 7): ids made
    one after another sort together, so storing them touches a few index pages, not a random
    page of a large index each (starts on a store of 100,000 executions: bench/scale.py; a
    batch of accepted calls: bench/ab.py alone)."""
    return uuid.UUID(int=_uuid7())


def uuid7_text() -> str:
    """``str(uuid7())``, made in a third of the time."""
    h = f"{_uuid7():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class RandomIds:
    def uuid(self) -> str:
        """A new UUIDv7 (``uuid7``)."""
        return uuid7_text()


class CountingIds:
    """Ids that repeat from run to run: UUID-shaped, numbered in order."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def uuid(self) -> str:
        return str(uuid.UUID(int=next(self._next)))


#: the clock and ids of a server (the defaults of every adapter that takes one)
SYSTEM_CLOCK = SystemClock()
RANDOM_IDS = RandomIds()
