"""Concurrency limits across processes: ``Store.cluster_slots`` (advisory locks on PostgreSQL).

A store of one process has none (its function pool's own admission is the whole limit). Advisory
locks are per database, not per schema, so each test uses function names of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

import fnflow.store.slots as slots_module
from fnflow.store import Store
from fnflow.store.slots import AdvisorySlots


def shared(store: Store) -> AdvisorySlots:
    slots = store.cluster_slots()
    if slots is None:
        pytest.skip("only a store shared by several processes has cluster-wide slots")
    return slots


@contextlib.asynccontextmanager
async def opened(*all_slots: AdvisorySlots) -> AsyncIterator[None]:
    for slots in all_slots:
        slots.open()
    try:
        yield
    finally:
        for slots in all_slots:
            await slots.close()


def name() -> str:
    return f"svc/fn-{uuid.uuid4().hex[:12]}"


def test_only_a_shared_store_has_cluster_slots(store: Store) -> None:
    assert (store.cluster_slots() is not None) == store.shared


def test_a_limit_holds_across_processes_and_within_one(store: Store, open_again: Callable[[], Store]) -> None:
    a, b = shared(store), shared(open_again())
    fn = name()

    async def main() -> None:
        async with opened(a, b):
            first = await a.acquire(fn, 3, 1)
            second = await a.acquire(fn, 3, 1)
            third = await b.acquire(fn, 3, 1)
            assert first and second and third
            assert await b.acquire(fn, 3, 0.2) is None, "a fourth holder in the cluster"
            assert await a.acquire(fn, 3, 0.2) is None, "a session must not take its own slot again"
            assert await b.acquire(name(), 1, 0.2) is not None, "another function has slots of its own"
            first()
            assert await b.acquire(fn, 3, 1) is not None, "a slot given back is free for any process"

    asyncio.run(main())


def test_a_waiter_is_woken_by_the_release_not_by_polling(
    store: Store, open_again: Callable[[], Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slots_module, "RECHECK", 60.0)  # polling would take a minute: only the word wakes it
    a, b = shared(store), shared(open_again())
    fn = name()

    async def main() -> None:
        async with opened(a, b):
            release = await a.acquire(fn, 1, 1)
            assert release is not None
            waiting = asyncio.create_task(b.acquire(fn, 1, 90))
            await asyncio.sleep(0.1)
            assert not waiting.done()
            released_at = time.monotonic()
            release()
            assert await waiting is not None
            waited = time.monotonic() - released_at
            assert waited < 45, f"the waiter took {waited:.2f}s: it polled instead of hearing the release"

    asyncio.run(main())


def test_a_dead_holder_frees_its_slots(store: Store, open_again: Callable[[], Store]) -> None:
    a, b = shared(store), shared(open_again())
    fn = name()

    async def main() -> None:
        a.open()
        b.open()
        try:
            assert await a.acquire(fn, 1, 1) is not None
            assert await b.acquire(fn, 1, 0.2) is None
            await a.close()  # its session ends, as when its process is killed
            assert await b.acquire(fn, 1, 2) is not None
        finally:
            await b.close()

    asyncio.run(main())


def test_a_cancelled_waiter_leaves_no_slot_taken(store: Store, open_again: Callable[[], Store]) -> None:
    a, b = shared(store), shared(open_again())
    fn = name()

    async def main() -> None:
        async with opened(a, b):
            for _ in range(20):  # cancel at many points, some while the lock is being taken
                attempt = asyncio.create_task(a.acquire(fn, 1, 1))
                await asyncio.sleep(0.001 * _)
                attempt.cancel()
                done = await asyncio.gather(attempt, return_exceptions=True)
                release = done[0]
                if callable(release):
                    release()
            await asyncio.sleep(0.2)  # give-backs run in tasks of their own
            assert await b.acquire(fn, 1, 1) is not None, "a cancelled acquire kept its slot"

    asyncio.run(main())
