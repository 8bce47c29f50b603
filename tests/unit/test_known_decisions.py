"""A decision of this process on an execution its last decision left running is made on the row
that decision wrote, without reading it (``Decider.apply``'s ``known``), and stored only if the
row has not moved on; if another writer came first, the row is read and the event decided on it."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from fnflow.app import Fnflow
from fnflow.store.queries.executions import ExecutionQueries
from tests.unit import fnflow_harness

TWO_WAITS = (
    "version: v1\ntype: flow\nsteps:\n"
    "  - {type: wait, name: first, duration: 0.3}\n"
    "  - {type: wait, name: second, duration: 0.3}\n"
    "  - {type: pass, name: done}\n"
)


def opened(tmp_path: Path) -> AbstractAsyncContextManager[Fnflow]:
    return fnflow_harness.opened(tmp_path, {"waits": TWO_WAITS})


def locked_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The executions read ``FOR UPDATE`` (to decide on them) from now on."""
    read: list[str] = []
    get = ExecutionQueries.get_execution_by_id

    def counted(self: ExecutionQueries, execution_id: str, *, lock: bool = False) -> Any:
        if lock:
            read.append(execution_id)
        return get(self, execution_id, lock=lock)

    monkeypatch.setattr(ExecutionQueries, "get_execution_by_id", counted)
    return read


async def ended(fnflow: Fnflow, name: str) -> Any:
    record, _, _ = await fnflow.executions.described("waits", name, wait=10)
    return record


def test_decisions_after_this_process_own_are_made_without_reading_the_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def go() -> tuple[Any, list[str], list[str]]:
        async with opened(tmp_path) as fnflow:
            reads = locked_reads(monkeypatch)
            await fnflow.executions.start("waits", "e", {})
            record = await ended(fnflow, "e")
            events = await fnflow.store.read(lambda tx: tx.history(record.id, limit=100).items)
            return record, reads, [e.type for e in events]

    record, reads, types = asyncio.run(go())
    assert record.status == "Succeeded"
    assert reads == []  # the two timers' decisions were made on the rows the decisions before wrote
    assert types.count("StepExited") == 3 and types[-1] == "ExecutionSucceeded"


def test_a_row_another_writer_moved_on_is_read_and_decided_on_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer ended the execution while its first wait ran: the timer's decision, made on the row
    this process wrote before, finds the row moved on, reads it, and leaves the execution as the
    peer left it (written on the stale row, it would have brought it back to life)."""

    async def go() -> tuple[Any, list[str]]:
        async with opened(tmp_path) as fnflow:
            started, _ = await fnflow.executions.start("waits", "e", {})
            reads = locked_reads(monkeypatch)
            await fnflow.store.write(
                lambda tx: tx.update_execution(started.id, status="Stopped", state=None, error="by a peer")
            )
            await asyncio.sleep(1.0)  # both timers would have fired by now
            record = await fnflow.store.read(lambda tx: tx.get_execution_by_id(started.id))
            return record, reads

    record, reads = asyncio.run(go())
    assert record.status == "Stopped" and record.error == "by a peer"
    assert reads == [record.id]  # read once, when the known row had moved on
