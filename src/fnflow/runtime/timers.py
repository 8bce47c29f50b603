"""Firing timers on time without polling the database for each one.

Timers due within a horizon live in an in-memory heap; one asyncio task sleeps until the
earliest and fires every due timer at once (their commits share a batch). New timers are
pushed by the runtime as their decisions commit; a periodic scan loads those that come
into the horizon, and after a restart, those that were due while the process was down.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

from fnflow.background import Background
from fnflow.clock import SYSTEM_CLOCK, Clock
from fnflow.store import TimerRecord

log = logging.getLogger(__name__)

Key = tuple[str, int]


class TimerWheel:
    def __init__(
        self,
        load: Callable[[datetime], Awaitable[list[TimerRecord]]],
        fire: Callable[[TimerRecord], Awaitable[object]],
        *,
        horizon: float = 60.0,
        on_late: Callable[[float], None] = lambda seconds: None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._clock = clock
        self._load = load
        self._fire = fire
        self._horizon = timedelta(seconds=horizon)
        self._heap: list[tuple[float, str, int]] = []
        self._known: set[Key] = set()
        self._loaded_until = datetime.fromtimestamp(0, UTC)
        self._wake = asyncio.Event()
        self._firing = Background()
        self._on_late = on_late

    def add(self, timers: Iterable[TimerRecord]) -> None:
        earliest = self._heap[0][0] if self._heap else None
        for t in timers:
            if t.fire_at <= self._loaded_until and (t.execution_id, t.timer) not in self._known:
                self._known.add((t.execution_id, t.timer))
                heapq.heappush(self._heap, (t.fire_at.timestamp(), t.execution_id, t.timer))
        if self._heap and (earliest is None or self._heap[0][0] < earliest):
            self._wake.set()

    def discard(self, keys: Iterable[Key]) -> None:
        """Forget cancelled timers (their heap entries are skipped when they come up)."""
        self._known.difference_update(keys)

    async def run(self) -> None:
        while True:
            now = self._clock.now()
            if now + self._horizon / 2 >= self._loaded_until:
                until = now + self._horizon
                # From here on ``add`` keeps timers up to ``until``: one committed while the scan
                # reads may be missing from the scan's snapshot (it was lost until the next scan).
                previous, self._loaded_until = self._loaded_until, until
                try:
                    records = await self._load(until)
                except BaseException:
                    self._loaded_until = previous
                    raise
                self.add(records)
            self._fire_due(now.timestamp())
            delay = (self._loaded_until - self._horizon / 2 - now).total_seconds()
            if self._heap:
                delay = min(delay, self._heap[0][0] - self._clock.now().timestamp())
            if delay > 0:
                self._wake.clear()
                await self._clock.wait(self._wake, delay)

    def _fire_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            fire_at, execution_id, timer = heapq.heappop(self._heap)
            key = (execution_id, timer)
            if key not in self._known:
                continue
            self._known.discard(key)
            self._on_late(now - fire_at)
            record = TimerRecord(execution_id, timer, datetime.fromtimestamp(fire_at, UTC))
            # Called here, not in the task: a ``fire`` that queues its write before it returns
            # (the runtime's does) has it queued now, with every other timer due now.
            try:
                firing = self._fire(record)
            except Exception as e:
                firing = _failed(e)
            self._firing.spawn(self._fire_one(record, firing))

    async def _fire_one(self, record: TimerRecord, firing: Awaitable[object]) -> None:
        try:
            await firing
        except Exception:
            log.exception(
                "timer %s of execution %s failed to fire; retrying later", record.timer, record.execution_id
            )
            await self._clock.sleep(1)
            self._known.add((record.execution_id, record.timer))
            heapq.heappush(self._heap, (record.fire_at.timestamp(), record.execution_id, record.timer))
            self._wake.set()


async def _failed(error: Exception) -> None:
    raise error
