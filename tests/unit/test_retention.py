"""The retention sweeper removes what each purge says is past its time, a chunk per transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from fnflow.retention import Sweeper
from fnflow.store import CallRecord, Tx, open_store
from tests.contract.factories import at
from tests.contract.test_calls import call
from tests.unit.functions_harness import async_test

DAY = 86_400.0
NOW = at(30 * DAY)


def finished(call_id: str, days_ago: float) -> CallRecord:
    when = (30 - days_ago) * DAY
    return replace(call(call_id, status="Succeeded", run=when), finished_at=at(when))


@async_test
async def test_a_sweep_removes_every_call_past_its_retention_in_chunks(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db'}")
    try:
        old = [finished(f"old-{n}", days_ago=8 + n) for n in range(5)]
        await store.write(lambda tx: tx.insert_calls([*old, finished("recent", days_ago=6)]))
        chunks: list[int] = []

        def purge(tx: Tx, now: datetime, limit: int) -> int:
            removed = tx.purge_finished_calls(now - timedelta(days=7), limit)
            chunks.append(removed)
            return removed

        sweeper = Sweeper(store, {"finished asynchronous calls": purge}, chunk=2)
        assert await sweeper.sweep(NOW) == {"finished asynchronous calls": 5}
        assert chunks == [2, 2, 1], "one transaction per chunk, until a chunk is not full"
        left = await store.read(lambda tx: tx.list_calls(limit=10))
        assert [c.id for c in left.items] == ["recent"]
        assert await sweeper.sweep(NOW) == {"finished asynchronous calls": 0}
    finally:
        store.close()
