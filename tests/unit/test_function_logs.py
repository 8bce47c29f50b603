"""The function log writer (batches, a bounded buffer, pruning) and reader (tail, follow) on a real
SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fnflow.functions.config import FunctionConfig
from fnflow.functions.logs import MAX_LINE, LogWriter
from fnflow.functions.pool import FunctionPool
from fnflow.functions.service import FunctionService
from fnflow.services.logs import LogQuery, LogService
from fnflow.store import Store, open_store
from tests.unit.functions_harness import async_test


@asynccontextmanager
async def logbook(tmp_path: Path, **options: float) -> AsyncIterator[tuple[Store, LogWriter, LogService]]:
    store = open_store(f"sqlite:///{tmp_path / 'db'}")
    pool = FunctionPool()
    functions = FunctionService(store, pool, tmp_path)
    await functions.deploy(FunctionConfig("svc", "fn", runtime="command", command="cat"), None)
    writer = LogWriter(store, **options)  # type: ignore[arg-type]
    try:
        yield store, writer, LogService(store, functions, writer, poll=0.05)
    finally:
        await writer.close()
        await pool.close()
        store.close()


def texts(store: Store) -> list[str]:
    return [r.text for r in store.read_sync(lambda tx: tx.function_logs("svc", "fn"))]


@async_test
async def test_lines_are_written_in_batches_cut_and_pruned_to_the_size_budget(tmp_path: Path) -> None:
    async with logbook(tmp_path, flush_seconds=0.01, max_bytes=30) as (store, writer, _):
        for n in range(5):
            writer.write("svc", "fn", "c1", "w1", "stdout", f"line {n} ")  # 7 characters each
        writer.write("svc", "fn", "c1", "w1", "stderr", "x" * (MAX_LINE + 10))
        await writer.wait_flushed(5)
        assert texts(store)[:5] == [f"line {n} " for n in range(5)]
        assert len(texts(store)[5]) == MAX_LINE
        writes = store.write_stats["jobs"]
        assert await writer.prune() == 6, "the long line alone is over the budget: all go"
        writer.write("svc", "fn", "c2", "w1", "stdout", "kept")
        await writer.wait_flushed(5)
        assert store.write_stats["jobs"] - writes == 2, "one prune, one batch"
        assert await writer.prune() == 0
        assert texts(store) == ["kept"]


@async_test
async def test_a_full_buffer_drops_lines_and_says_how_many(tmp_path: Path) -> None:
    async with logbook(tmp_path, flush_seconds=0.01, max_pending=3, batch=100) as (store, writer, _):
        for n in range(5):
            writer.write("svc", "fn", "", "", "stdout", f"{n}")
        assert writer.dropped == 2
        await writer.wait_flushed(5)
        assert texts(store) == [
            "0",
            "1",
            "2",
            "fnflow: 2 line(s) dropped: the function wrote faster than they could be stored",
        ]


@async_test
async def test_follow_gives_the_tail_then_new_lines_once_and_ends_when_the_server_stops(
    tmp_path: Path,
) -> None:
    async with logbook(tmp_path, flush_seconds=0.01) as (_, writer, logs):
        for n in range(3):
            writer.write("svc", "fn", "c1", "w1", "stdout", f"old {n}")
        await writer.wait_flushed(5)
        stopping = False
        logs.stopping = lambda: stopping
        batches = await logs.stream(LogQuery("svc", "fn", tail=1), follow=True)
        assert [r.text for r in await anext(batches)] == ["old 2"]
        writer.write("svc", "fn", "c2", "w1", "stdout", "new")
        assert [r.text for r in await anext(batches)] == ["new"], (
            "the older lines of the window are not repeated"
        )
        stopping = True
        assert [batch async for batch in batches] == []
        since = await logs.read(LogQuery("svc", "fn", since=datetime.now(UTC)))
        assert since == []


@async_test
async def test_follow_gives_a_line_stored_before_it_looks_for_new_ones(tmp_path: Path) -> None:
    """The line can reach the store between the first batch and the follower's first look back
    (a slow read under load): it is new all the same."""
    async with logbook(tmp_path, flush_seconds=0.01) as (_, writer, logs):
        for n in range(3):
            writer.write("svc", "fn", "c1", "w1", "stdout", f"old {n}")
        await writer.wait_flushed(5)
        logs.stopping = lambda: False
        batches = await logs.stream(LogQuery("svc", "fn", tail=1), follow=True)
        assert [r.text for r in await anext(batches)] == ["old 2"]
        writer.write("svc", "fn", "c2", "w1", "stdout", "new")
        await writer.wait_flushed(5)
        assert [r.text for r in await asyncio.wait_for(anext(batches), 10)] == ["new"]
        await batches.aclose()
