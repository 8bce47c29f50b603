"""Reading function logs: the lines a query asks for, then (``follow``) the new ones as they come.

The lines are in the store, so every process serves the logs of every function. Following polls
the store (at once after this process wrote, else every ``poll`` seconds) for lines from a little
before the newest seen: with several processes a batch may commit after a later one, so each poll
looks ``lag`` seconds back and skips the lines already sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from fnflow.errors import InvalidArgument
from fnflow.functions.logs import LogWriter
from fnflow.functions.service import FunctionService
from fnflow.store import LogRecord, Store


@dataclass(frozen=True)
class LogQuery:
    service: str
    function: str
    since: datetime | None = None  # lines at or after this time
    tail: int | None = None  # only the last N lines (None, or N <= 0: all)
    call_id: str | None = None
    instance: str | None = None


def parse_since(text: str) -> datetime:
    """An RFC 3339 time (``2024-05-01T12:00:00Z``, with a zone), as OpenFaaS' log API reads it."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidArgument(
            f"since must be an RFC 3339 time with a zone, such as 2024-05-01T12:00:00Z, got {text!r}"
        )
    return when.astimezone(UTC)


class LogService:
    def __init__(
        self,
        store: Store,
        functions: FunctionService,
        writer: LogWriter,
        *,
        stopping: Callable[[], bool] = lambda: False,
        poll: float = 1.0,
        lag: float = 5.0,
    ) -> None:
        self._store = store
        self._functions = functions
        self._writer = writer
        self.stopping = stopping  # the server is shutting down: followers end
        self._poll = poll
        self._lag = timedelta(seconds=lag)

    async def read(self, query: LogQuery) -> list[LogRecord]:
        """The lines of a deployed function (NotFound otherwise), oldest first."""
        await self._functions.get(query.service, query.function)
        return await self._lines(query)

    async def _lines(self, query: LogQuery) -> list[LogRecord]:
        tail = query.tail if query.tail is not None and query.tail > 0 else None
        return await self._store.read(
            lambda tx: tx.function_logs(
                query.service,
                query.function,
                since=query.since,
                call_id=query.call_id,
                instance=query.instance,
                tail=tail,
            )
        )

    async def stream(self, query: LogQuery, *, follow: bool) -> AsyncIterator[list[LogRecord]]:
        """The query's lines, then, with ``follow``, batches of new ones until the server stops
        (or the caller stops iterating). Raises before the first batch for a bad query."""
        asked = datetime.now(UTC)
        first = await self.read(query)

        async def batches() -> AsyncIterator[list[LogRecord]]:
            yield first
            if follow:
                async for batch in self._follow(query, first, asked):
                    yield batch

        return batches()

    async def _follow(
        self, query: LogQuery, first: list[LogRecord], asked: datetime
    ) -> AsyncIterator[list[LogRecord]]:
        newest = max((r.time for r in first), default=query.since or asked)
        recent = replace(query, since=newest - self._lag, tail=None)
        # What the first batch left out on purpose (older than its tail) is not new; a line newer
        # than all of it is, even when it was stored before this look back.
        shown = {r.id for r in first}
        seen = {r.id: r.time for r in await self._lines(recent) if r.id in shown or r.time <= newest}
        while not self.stopping():
            await self._writer.wait_flushed(self._poll)
            window = replace(query, since=newest - self._lag, tail=None)
            fresh = [r for r in await self._lines(window) if r.id not in seen]
            if fresh:
                newest = max(newest, *(r.time for r in fresh))
                seen.update((r.id, r.time) for r in fresh)
                yield fresh
            horizon = newest - self._lag
            seen = {i: t for i, t in seen.items() if t >= horizon}
