"""The queue gauges of ``/metrics`` count the calls waiting in the store, read off the event loop:
rendering runs on the loop, and counting 100,000 waiting calls there stalled it 60 ms a scrape."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from fnflow.api.app import create_app
from fnflow.app import Fnflow
from fnflow.config import Settings
from fnflow.functions.naming import metric_name
from fnflow.store import CallRecord
from fnflow.store.queries.calls import CallQueries
from tests.unit.test_records import call


def waiting(function: str, queue: str) -> CallRecord:
    """A call accepted now that runs in an hour (so that nothing claims it while the test looks)."""
    now = datetime.now(UTC)
    later = {"created_at": now, "run_at": now + timedelta(hours=1), "expires_at": now + timedelta(days=1)}
    return call(id=str(uuid.uuid4()), service="svc", function=function, queue=queue, **later)


def test_metrics_count_waiting_calls_per_queue_and_function_without_reading_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted_on: list[int] = []
    count = CallQueries.pending_calls

    def pending_calls(self: CallQueries) -> list[tuple[str, str, str, int]]:
        counted_on.append(threading.get_ident())
        return count(self)

    monkeypatch.setattr(CallQueries, "pending_calls", pending_calls)

    async def scrape_twice() -> tuple[str, str]:
        fnflow = Fnflow(Settings(db=f"sqlite:///{tmp_path}/fnflow.db", data_dir=tmp_path))
        await fnflow.open()
        try:
            calls = [waiting("a", "") for _ in range(3)]
            calls += [waiting("b", "slow") for _ in range(2)]
            await fnflow.store.write(lambda tx: tx.insert_calls(calls))
            transport = httpx.ASGITransport(app=create_app(fnflow))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                text = (await client.get("/metrics")).text
                await fnflow.store.write(lambda tx: tx.insert_calls([waiting("a", "")]))
                again = (await client.get("/metrics")).text
        finally:
            await fnflow.close()
        return text, again

    text, again = asyncio.run(scrape_twice())
    gauge = 'queue_worker_pending_messages{{function_name="{}",queue_name="{}"}} {}'
    assert gauge.format(metric_name("svc", "a"), "default", "3.0") in text
    assert gauge.format(metric_name("svc", "b"), "slow", "2.0") in text
    assert gauge.format(metric_name("svc", "a"), "default", "4.0") in again  # read at each scrape
    assert counted_on and threading.get_ident() not in counted_on
