"""A decision of this process on an execution its last decision left running is made on the row
that decision wrote, without reading it (``Decider.apply``'s ``known``), and stored only if the
row has not moved on; if another writer came first, the row is read and the event decided on it."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fnflow.app import Fnflow
from fnflow.engine import TimerFired
from fnflow.store.queries.executions import ExecutionQueries
from tests.unit import fnflow_harness

TWO_WAITS = (
    "version: v1\ntype: flow\nsteps:\n"
    "  - {type: wait, name: first, duration: 0.3}\n"
    "  - {type: wait, name: second, duration: 0.3}\n"
    "  - {type: pass, name: done}\n"
)

#: a wait the timer wheel does not fire while a test fires it by hand
LONG_WAIT = "version: v1\ntype: flow\nsteps:\n  - {type: wait, name: long, duration: 600}\n"


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


async def fired_ahead(fnflow: Fnflow, name: str, *, peer: bool) -> tuple[bool, str]:
    """Start ``name``, decide its timer's firing ahead, let a ``peer`` stop it (or not), then apply
    the firing with that decision: (applied, the execution's status then)."""
    runtime = fnflow.runtime
    decider = runtime._decider()
    started, _ = await fnflow.executions.start("long", name, {})
    later = runtime.clock.now() + timedelta(days=1)
    timers = await fnflow.store.read(lambda tx: tx.due_timers(later, 100))
    (timer,) = [t for t in timers if t.execution_id == started.id]
    event, known, now = TimerFired(timer.timer), runtime._running[started.id], runtime.clock.now()
    ahead = decider.decide_ahead(known, event, now)
    assert ahead is not None and ahead.write.execution.id == started.id
    if peer:
        await fnflow.store.write(
            lambda tx: tx.update_execution(started.id, status="Stopped", state=None, error="by a peer")
        )
    outcome = await fnflow.store.write(
        lambda tx: decider.apply(tx, started.id, event, now, known=known, ahead=ahead)
    )
    now_is = await fnflow.store.read(lambda tx: tx.get_execution_by_id(started.id))
    assert now_is is not None
    return outcome.applied, now_is.status


def test_a_decision_made_ahead_is_written_as_made_unless_the_row_moved_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``decide_ahead`` (a step's result decided on the event loop, before its job): while the row
    is as that decision found it, the job writes it without reading the row; after a peer moved
    the row on (stopped the execution), the job reads it and decides the event again on it,
    which leaves it stopped (written as made ahead, it would have brought it back to life)."""

    async def go() -> tuple[list[tuple[bool, str]], list[str], Any]:
        async with fnflow_harness.opened(tmp_path, {"long": LONG_WAIT}) as fnflow:
            reads = locked_reads(monkeypatch)
            written = [
                await fired_ahead(fnflow, "kept", peer=False),
                await fired_ahead(fnflow, "moved", peer=True),
            ]
            moved = await fnflow.store.read(lambda tx: tx.get_execution("long", "moved"))
            return written, reads, moved

    written, reads, moved = asyncio.run(go())
    assert written == [(True, "Succeeded"), (False, "Stopped")]
    assert reads == [moved.id]  # only the row that had moved on was read
    assert (moved.status, moved.error) == ("Stopped", "by a peer")


def test_an_unnamed_start_is_decided_ahead_on_the_flow_as_last_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``start_ahead``: an execution named by its id is decided before its job, on the flow this
    process last read; if the flow changed meanwhile, the job reads it and starts on what it finds."""

    async def go() -> list[Any]:
        async with opened(tmp_path) as fnflow:
            decider = fnflow.runtime._decider()
            made: list[Any] = []
            start_ahead = decider.start_ahead

            def recorded(*args: Any) -> Any:
                made.append(start_ahead(*args))
                return made[-1]

            monkeypatch.setattr(decider, "start_ahead", recorded)
            first, _ = await fnflow.executions.start("waits", None, {})
            await fnflow.flows.update("waits", definition=TWO_WAITS.replace("name: done", "name: changed"))
            second, _ = await fnflow.executions.start("waits", None, {})
            return [made, first, second]

    made, first, second = asyncio.run(go())
    assert made[0] is None  # no start had read the flow yet
    assert made[1] is not None and made[1].write.execution.id != second.id  # decided on the old flow
    assert (first.name, second.name) == (first.id, second.id)
    assert first.definition_hash != second.definition_hash  # the job read the flow and ran the new one
