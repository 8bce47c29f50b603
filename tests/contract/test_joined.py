"""Joined write jobs (``fnflow.asyncq.joined``) on every backend: items join one job only where
the writer runs jobs on the event loop; a writer thread could start a job while the loop adds to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fnflow.asyncq.joined import Joiner
from fnflow.store import Store, Tx


def writing(written: list[list[str]]) -> Callable[[Tx, list[str], bool], int]:
    """A job's run: each item a setting's key, and what it wrote noted in ``written``."""

    def run(tx: Tx, keys: list[str], alone: bool) -> int:
        for key in keys:
            tx.set_setting(key, "joined")
        written.append(list(keys))
        return len(keys)

    return run


def test_items_join_a_job_only_where_jobs_run_on_the_loop(store: Store) -> None:
    written: list[list[str]] = []
    done: list[list[str]] = []

    async def join_three() -> None:
        joiner: Joiner[str, int] = Joiner(store, writing(written), lambda keys, _: done.append(list(keys)))
        serials = [joiner.join(key) for key in ("a", "b", "c")]
        assert (len(set(serials)) == 1) is store.writes_on_loop
        await asyncio.gather(*joiner.pending)

    asyncio.run(join_three())
    assert sorted(done) == sorted(written)
    assert sorted(key for keys in written for key in keys) == ["a", "b", "c"]
    assert len(written) == (1 if store.writes_on_loop else 3)
    assert store.read_sync(lambda tx: [tx.get_setting(k) for k in "abc"]) == ["joined"] * 3


def test_a_job_holds_its_item_however_soon_a_writer_thread_starts_it(store: Store) -> None:
    """A writer thread may start a job the moment it is queued, before the loop goes on: the race
    is made certain here by waiting, after queueing, until the job has run (where jobs run on the
    loop they cannot run before the loop goes on, so there is nothing to wait for)."""
    written: list[list[str]] = []
    done: list[list[str]] = []
    queue_job = store.write_soon

    def queued_and_started(job: Callable[[Tx], int]) -> asyncio.Future[int]:
        outcome = queue_job(job)
        deadline = time.monotonic() + 10
        while not store.writes_on_loop and not written and time.monotonic() < deadline:
            time.sleep(0.001)
        return outcome

    async def join_one() -> None:
        joiner: Joiner[str, int] = Joiner(store, writing(written), lambda keys, _: done.append(list(keys)))
        joiner.join("a")
        outcome = await asyncio.gather(*joiner.pending)
        assert outcome == [1]

    store.write_soon = queued_and_started  # type: ignore[method-assign]
    try:
        asyncio.run(join_one())
    finally:
        del store.write_soon
    assert written == [["a"]]
    assert done == [["a"]]
    assert store.read_sync(lambda tx: tx.get_setting("a")) == "joined"
