"""Joined write jobs (``fnflow.asyncq.joined``) on every backend: items join one job only where
the writer runs jobs on the event loop; a writer thread could start a job while the loop adds to it."""

from __future__ import annotations

import asyncio

from fnflow.asyncq.joined import Joiner
from fnflow.store import Store, Tx


def test_items_join_a_job_only_where_jobs_run_on_the_loop(store: Store) -> None:
    written: list[list[str]] = []
    done: list[list[str]] = []

    def run(tx: Tx, keys: list[str], alone: bool) -> None:
        for key in keys:
            tx.set_setting(key, "joined")
        written.append(list(keys))

    async def join_three() -> None:
        joiner: Joiner[str, None] = Joiner(store, run, lambda keys, _: done.append(list(keys)))
        serials = [joiner.join(key) for key in ("a", "b", "c")]
        assert (len(set(serials)) == 1) is store.writes_on_loop
        await asyncio.gather(*joiner.pending)

    asyncio.run(join_three())
    assert sorted(done) == sorted(written)
    assert sorted(key for keys in written for key in keys) == ["a", "b", "c"]
    assert len(written) == (1 if store.writes_on_loop else 3)
    assert store.read_sync(lambda tx: [tx.get_setting(k) for k in "abc"]) == ["joined"] * 3
