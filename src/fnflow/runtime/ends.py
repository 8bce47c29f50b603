"""What a process knows of executions starting and ending, so that long-polls read little.

A long-poll (``ExecutionService._polled``) would read the execution before its wait, again in
case it ended in between, and once more after the wait — each read a hop to a reader thread on
PostgreSQL, which costs most when the event loop is busy (bench/README.md, tenth round). What
this process saw makes most of those reads unnecessary:

- the executions it started in the last ``STARTED_TRUSTED`` seconds and has not seen end are
  running: a long-poll right after a start waits without reading first;
- the last ``FINISHED_KEPT`` ends (its own, and those other processes announce) are remembered:
  an end between a caller's read and its wait is not missed, nor read for;
- an execution it ends is handed to the waiters as the commit left it.

If an end is never heard (a PostgreSQL notice lost while the listener reconnects), a long-poll
that trusted a start waits out its time, then reads: late, not wrong.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from fnflow.clock import Clock
from fnflow.store import ExecutionRecord

#: how many of the executions that ended last a process remembers
FINISHED_KEPT = 10_000
#: how many of the executions it started last a process remembers, and for how many seconds a
#: long-poll takes one of them for running without reading it
STARTED_KEPT = 10_000
STARTED_TRUSTED = 5.0


class Ends:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._waiters: dict[str, _Waiting] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._started: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()  # -> (id, when)
        self._started_keys: dict[str, tuple[str, str]] = {}  # id -> (flow, name)
        self._completing: Counter[str] = Counter()  # executions whose task results commit here
        self._heard_meanwhile: set[str] = set()  # ends of those announced while they commit

    def started(self, record: ExecutionRecord) -> None:
        """This process started ``record`` (Running)."""
        key = (record.flow_name, record.name)
        if (previous := self._started.pop(key, None)) is not None:  # an end of it was not seen
            self._started_keys.pop(previous[0], None)
        self._started[key] = (record.id, self._clock.monotonic())
        self._started_keys[record.id] = key
        if len(self._started) > STARTED_KEPT:
            (execution_id, _) = self._started.popitem(last=False)[1]
            self._started_keys.pop(execution_id, None)

    def started_here(self, flow_name: str, name: str) -> str | None:
        """The id of the execution ``name`` if this process started it in the last
        ``STARTED_TRUSTED`` seconds and has not seen it end; else None."""
        found = self._started.get((flow_name, name))
        if found is None or self._clock.monotonic() - found[1] > STARTED_TRUSTED:
            return None
        return found[0]

    def ended(self, execution_id: str, record: ExecutionRecord | None = None) -> None:
        """The execution ended (``record``: as this process's commit left it); its waiters wake."""
        if (key := self._started_keys.pop(execution_id, None)) is not None:
            self._started.pop(key, None)
        self._finished[execution_id] = None
        if len(self._finished) > FINISHED_KEPT:
            self._finished.popitem(last=False)
        waiting = self._waiters.pop(execution_id, None)
        if waiting is not None:
            waiting.ended = record
            waiting.event.set()

    def heard(self, execution_id: str) -> None:
        """Another process announced the end (on PostgreSQL, this one hears its own too, often
        before its commit returns): while a task result of the execution commits here, the end
        waits for that commit, which hands the waiters the execution as it ended."""
        if execution_id in self._completing:
            self._heard_meanwhile.add(execution_id)
        else:
            self.ended(execution_id)

    @contextmanager
    def completing(self, execution_id: str) -> Iterator[None]:
        """Around committing a task result of the execution (see ``heard``)."""
        self._completing[execution_id] += 1
        try:
            yield
        finally:
            self._completing[execution_id] -= 1
            if not self._completing[execution_id]:
                del self._completing[execution_id]
                if execution_id in self._heard_meanwhile:
                    self._heard_meanwhile.discard(execution_id)
                    self.ended(execution_id)

    async def wait(self, execution_id: str, timeout: float) -> ExecutionRecord | None:
        """Return when the execution, which the caller has just read Running (or which
        ``started_here`` named), ends or ``timeout`` passes: the execution as it ended, if this
        process ended it meanwhile (else None: the caller reads it)."""
        if timeout <= 0 or execution_id in self._finished:
            return None
        waiting = self._waiters.get(execution_id)
        if waiting is None:
            waiting = self._waiters[execution_id] = _Waiting()
        await self._clock.wait(waiting.event, timeout)
        return waiting.ended


class _Waiting:
    """Those waiting for one execution to end, and how it ended (when this process ended it)."""

    __slots__ = ("ended", "event")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.ended: ExecutionRecord | None = None
