"""SQLite's writer (``fnflow.store.loop_writer``): jobs on the event loop, the COMMIT in a thread,
against a real SQLite file and, for its write lock, a second real connection."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event

from fnflow.store import Store, Tx, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'fnflow.db'}")
    yield opened
    opened.close()


def setting(store: Store, key: str) -> str | None:
    return store.read_sync(lambda tx: tx.get_setting(key))


def test_jobs_run_on_the_event_loop_and_queued_ones_share_a_commit(store: Store) -> None:
    async def main() -> list[int]:
        def job(n: int) -> object:
            def run(tx: Tx) -> int:
                tx.set_setting(f"k{n}", str(n))
                return threading.get_ident()

            return run

        return await asyncio.gather(*(store.write(job(n)) for n in range(20)))

    before = store.write_stats
    threads = asyncio.run(main())
    assert set(threads) == {threading.get_ident()}, "the jobs ran on the loop's thread"
    assert store.write_stats["batches"] - before["batches"] == 1
    assert [setting(store, f"k{n}") for n in range(20)] == [str(n) for n in range(20)]


def test_a_job_that_runs_off_the_loop_commits_with_its_batch_after_the_others(store: Store) -> None:
    """Renewing leases commutes with every other write: it runs in the commit thread, after the
    rest of its batch, and commits with it."""
    order: list[str] = []

    def job(key: str) -> object:
        def run(tx: Tx) -> int:
            order.append(key)
            tx.set_setting(key, tx.get_setting("a") or "unset")
            return threading.get_ident()

        return run

    async def main() -> list[int]:
        return await asyncio.gather(
            store.write(lambda tx: tx.set_setting("a", "A")),
            store.write(job("off"), off_loop=True),
            store.write(job("on")),
        )

    before = store.write_stats
    _, off, on = asyncio.run(main())
    assert on == threading.get_ident() != off, "the one job ran in another thread"
    assert order == ["on", "off"]
    assert store.write_stats["batches"] - before["batches"] == 1
    assert (setting(store, "on"), setting(store, "off")) == ("A", "A")


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_the_commit_thread_runs_under_sched_batch_and_the_loop_keeps_its_policy(store: Store) -> None:
    """The loop wakes the commit thread once a batch: woken, it must not preempt the loop."""

    async def main() -> tuple[int, int]:
        off = await store.write(lambda tx: os.sched_getscheduler(0), off_loop=True)
        return off, os.sched_getscheduler(0)

    assert asyncio.run(main()) == (os.SCHED_BATCH, os.SCHED_OTHER)


def test_a_batch_whose_every_job_may_commit_on_the_loop_commits_there(store: Store) -> None:
    """An accept front's calls: their batch commits on the loop (which has nothing else to do
    meanwhile, and saves two hand-overs); a batch with any other job commits in the thread."""
    committed_in: list[int] = []

    def record(conn: Connection) -> None:
        committed_in.append(threading.get_ident())

    async def main() -> None:
        await asyncio.gather(*(store.write(set_to(f"a{n}"), commit_on_loop=True) for n in range(3)))
        await asyncio.gather(store.write(set_to("b0"), commit_on_loop=True), store.write(set_to("b1")))
        await store.write(set_to("c"))

    event.listen(Engine, "commit", record)
    try:
        asyncio.run(main())
    finally:
        event.remove(Engine, "commit", record)
    loop, *others = committed_in
    assert loop == threading.get_ident() and len(others) == 2 and loop not in others, committed_in
    assert [setting(store, k) for k in ("a0", "a2", "b0", "b1", "c")] == ["1"] * 5


def set_to(key: str) -> Callable[[Tx], None]:
    return lambda tx: tx.set_setting(key, "1")


def test_a_job_off_the_loop_that_fails_fails_alone(store: Store) -> None:
    def fail(tx: Tx) -> None:
        tx.set_setting("failed", "1")
        raise ValueError("no")

    async def main() -> list[object]:
        return await asyncio.gather(
            store.write(lambda tx: tx.set_setting("a", "1")),
            store.write(fail, off_loop=True),
            store.write(lambda tx: tx.set_setting("b", "1"), off_loop=True),
            return_exceptions=True,
        )

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[1], ValueError) and outcomes[0] is None and outcomes[2] is None
    assert [setting(store, k) for k in ("a", "failed", "b")] == ["1", None, "1"]


def test_another_process_holding_the_write_lock_does_not_stop_the_loop(store: Store, tmp_path: Path) -> None:
    """A write waits for the lock in a thread; the loop goes on meanwhile, and the write lands."""
    other = sqlite3.connect(tmp_path / "fnflow.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def main() -> tuple[int, float]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(tick())
        writing = asyncio.create_task(store.write(lambda tx: tx.set_setting("k", "v")))
        await asyncio.sleep(0.3)
        assert not writing.done(), "the lock is another's"
        other.execute("COMMIT")
        began = time.monotonic()
        await asyncio.wait_for(writing, 5)
        ticking.cancel()
        return ticks, time.monotonic() - began

    ticks, after_release = asyncio.run(main())
    assert ticks >= 10, f"the loop stood still while the lock was taken ({ticks} ticks in 0.3 s)"
    assert after_release < 1
    assert setting(store, "k") == "v"


def test_a_thread_writes_in_turn_with_the_loop(store: Store) -> None:
    async def main() -> None:
        def from_thread() -> None:
            for n in range(50):
                store.write_sync(lambda tx, n=n: tx.set_setting(f"t{n}", str(n)))

        thread = asyncio.create_task(asyncio.to_thread(from_thread))
        for n in range(50):
            await store.write(lambda tx, n=n: tx.set_setting(f"l{n}", str(n)))
        await thread

    asyncio.run(main())
    assert [setting(store, f"t{n}") for n in (0, 49)] == ["0", "49"]
    assert [setting(store, f"l{n}") for n in (0, 49)] == ["0", "49"]


def test_a_synchronous_write_on_a_loop_with_writes_in_flight_is_refused(store: Store) -> None:
    """It could wait for a batch that only this loop can finish."""

    async def main() -> None:
        pending = store.write_soon(lambda tx: tx.set_setting("a", "1"))
        with pytest.raises(RuntimeError, match="await write"):
            store.write_sync(lambda tx: tx.set_setting("b", "1"))
        await pending

    asyncio.run(main())
    assert (setting(store, "a"), setting(store, "b")) == ("1", None)


def test_a_loop_that_goes_away_while_waiting_for_the_lock_leaves_the_store_usable(
    store: Store, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "fnflow.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def abandoned() -> None:
        writing = asyncio.create_task(store.write(lambda tx: tx.set_setting("gone", "1")))
        await asyncio.sleep(0.2)
        writing.cancel()  # as asyncio.run's end cancels what is left

    asyncio.run(abandoned())
    other.execute("COMMIT")

    async def later() -> None:
        await asyncio.wait_for(store.write(lambda tx: tx.set_setting("later", "1")), 5)

    asyncio.run(later())
    assert setting(store, "later") == "1"
    store.write_sync(lambda tx: tx.set_setting("sync", "1"))
    assert setting(store, "sync") == "1"


def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    closed = open_store(f"sqlite:///{tmp_path / 'closed.db'}")
    closed.write_sync(lambda tx: tx.set_setting("k", "v"))
    closed.close()
    with pytest.raises(RuntimeError, match="closed"):
        closed.write_sync(lambda tx: tx.set_setting("k", "w"))

    async def main() -> None:
        await closed.write(lambda tx: tx.set_setting("k", "w"))

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(main())
