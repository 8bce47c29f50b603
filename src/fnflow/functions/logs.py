"""Function logs: what functions write, kept in the store so that any fnflow process can read it.

A line is appended to a buffer in memory (the invocation path pays a list append) and written
with the others in one store job at most ``flush_seconds`` later, or sooner once ``batch`` lines
wait. The buffer is bounded: past ``max_pending`` lines, new ones are counted and dropped, and a
line saying how many were lost is written once there is room again. A line longer than
``MAX_LINE`` characters is cut. Every ``prune_seconds`` the lines older than ``max_age`` go, and
each function written to keeps only its newest ``max_bytes`` of text (the oldest lines go first).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from fnflow.clock import wait_event
from fnflow.store import LogRecord, Store

MAX_LINE = 16 * 1024  # as Docker splits its log lines
log = logging.getLogger(__name__)


class LogWriter:
    def __init__(
        self,
        store: Store,
        *,
        max_age: float = 86_400.0,
        max_bytes: int = 1024 * 1024,
        flush_seconds: float = 0.2,
        batch: int = 1000,
        max_pending: int = 50_000,
        prune_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._flush_seconds = flush_seconds
        self._batch = batch
        self._max_pending = max_pending
        self._prune_seconds = prune_seconds
        self._pending: list[LogRecord] = []
        self._dropped: collections.Counter[tuple[str, str]] = collections.Counter()
        self._written_to: set[tuple[str, str]] = set()  # functions to prune
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._flushed = asyncio.Event()
        self.dropped = 0  # lines lost to a full buffer, since the start

    def open(self) -> None:
        self._pruner = asyncio.get_running_loop().create_task(self._prune_loop(), name="fnflow-log-pruner")

    def write(self, service: str, function: str, call_id: str, instance: str, stream: str, text: str) -> None:
        """Keep one line (call from the event loop); it reaches the store within ``flush_seconds``."""
        if len(self._pending) >= self._max_pending:
            self._dropped[(service, function)] += 1
            self.dropped += 1
            return
        now = datetime.now(UTC)
        self._pending.append(LogRecord(service, function, call_id, instance, stream, now, text[:MAX_LINE]))
        if len(self._pending) >= self._batch:
            self._flush_now()
        elif self._timer is None and self._flushing is None:
            self._timer = asyncio.get_running_loop().call_later(self._flush_seconds, self._flush_now)

    async def wait_flushed(self, timeout: float) -> None:
        """Return after the next batch is written, or after ``timeout`` seconds."""
        await wait_event(self._flushed, timeout)

    async def close(self) -> None:
        """Write what is buffered and stop pruning."""
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            await self._flushing
        await self._flush()

    def _flush_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush_all())

    async def _flush_all(self) -> None:
        try:
            while self._pending or self._dropped:
                await self._flush()
        finally:
            self._flushing = None

    async def _flush(self) -> None:
        lines, self._pending = self._pending, []
        now = datetime.now(UTC)
        for (service, function), count in self._dropped.items():
            text = f"fnflow: {count} line(s) dropped: the function wrote faster than they could be stored"
            lines.append(LogRecord(service, function, "", "", "stderr", now, text))
        self._dropped.clear()
        if not lines:
            return
        self._written_to.update((r.service, r.function) for r in lines)
        try:
            await self._store.write(lambda tx: tx.add_function_logs(lines))
        except Exception:
            log.exception("could not store %d function log line(s); they are lost", len(lines))
        flushed, self._flushed = self._flushed, asyncio.Event()
        flushed.set()

    async def prune(self) -> int:
        """Drop lines older than ``max_age``, and beyond ``max_bytes`` for the functions written to."""
        functions, self._written_to = self._written_to, set()
        older_than = datetime.now(UTC) - timedelta(seconds=self.max_age)
        return await self._store.write(
            lambda tx: tx.prune_function_logs(older_than, self.max_bytes, sorted(functions))
        )

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:
                log.exception("pruning function logs failed; trying again")
            await asyncio.sleep(self._prune_seconds)
