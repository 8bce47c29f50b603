"""A start decides on the flow as this process last read it (``Decider.flows``), and writes only
while the flow is still that one: changed since — by this process or another — it reads the flow
again and decides on what it finds, as if it had never kept it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from fnflow.app import Fnflow
from fnflow.errors import FlowNotFound, WrongExecutionMode
from fnflow.runtime.programs import Recent
from fnflow.store.queries.flows import FlowQueries
from tests.unit import fnflow_harness

PASS_A = "version: v1\ntype: flow\nsteps:\n  - {type: pass, name: a}\n"
PASS_B = "version: v1\ntype: flow\nsteps:\n  - {type: pass, name: b}\n"


def flow_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The flows read from now on."""
    read: list[str] = []
    get = FlowQueries.get_flow

    def counted(self: FlowQueries, name: str) -> Any:
        read.append(name)
        return get(self, name)

    monkeypatch.setattr(FlowQueries, "get_flow", counted)
    return read


def run(tmp_path: Path, test: Callable[[Fnflow], Awaitable[None]]) -> None:
    async def go() -> None:
        async with fnflow_harness.opened(tmp_path, {"f": PASS_A}) as fnflow:
            await test(fnflow)

    asyncio.run(go())


async def steps(fnflow: Fnflow, name: str) -> list[str]:
    record, _, _ = await fnflow.executions.described("f", name, wait=10)
    events = await fnflow.store.read(lambda tx: tx.history(record.id, limit=100).items)
    return [e.step for e in events if e.type == "StepEntered"]


def test_starts_after_the_first_do_not_read_the_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def test(fnflow: Fnflow) -> None:
        reads = flow_reads(monkeypatch)
        for name in ("e1", "e2", "e3"):
            await fnflow.executions.start("f", name, {})
        assert reads == ["f"]
        assert [await steps(fnflow, name) for name in ("e1", "e2", "e3")] == [["a"]] * 3

    run(tmp_path, test)


def test_a_start_after_the_flow_changed_runs_the_new_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def test(fnflow: Fnflow) -> None:
        await fnflow.executions.start("f", "before", {})
        await fnflow.flows.update("f", definition=PASS_B)
        reads = flow_reads(monkeypatch)
        await fnflow.executions.start("f", "after", {})
        await fnflow.executions.start("f", "later", {})
        assert reads == ["f"]  # once the first start saw the change
        assert [await steps(fnflow, n) for n in ("before", "after", "later")] == [["a"], ["b"], ["b"]]

    run(tmp_path, test)


def test_a_flow_deleted_is_not_found_and_one_made_again_is_run(tmp_path: Path) -> None:
    async def test(fnflow: Fnflow) -> None:
        await fnflow.executions.start("f", "before", {})
        await steps(fnflow, "before")
        await fnflow.flows.delete("f")
        with pytest.raises(FlowNotFound):
            await fnflow.executions.start("f", "while-gone", {})
        await fnflow.flows.put("f", PASS_B)  # revision 1, as the first one was
        await fnflow.executions.start("f", "again", {})
        assert await steps(fnflow, "again") == ["b"]

    run(tmp_path, test)


def test_a_named_start_is_not_answered_with_its_execution_once_the_flow_changed_mode(tmp_path: Path) -> None:
    async def test(fnflow: Fnflow) -> None:
        await fnflow.executions.start("f", "e", {}, mode="Standard")
        await steps(fnflow, "e")
        await fnflow.flows.put("f", PASS_A, execution_mode="Express")
        with pytest.raises(WrongExecutionMode):  # as it was before flows were kept
            await fnflow.executions.start("f", "e", {}, mode="Standard")

    run(tmp_path, test)


def test_a_start_goes_by_the_mode_the_flow_has_now(tmp_path: Path) -> None:
    async def test(fnflow: Fnflow) -> None:
        await fnflow.executions.start("f", "standard", {}, mode="Standard")
        await fnflow.flows.put("f", PASS_A, execution_mode="Express")
        with pytest.raises(WrongExecutionMode):
            await fnflow.executions.start("f", "refused", {}, mode="Standard")
        await fnflow.flows.put("f", PASS_A, execution_mode="Standard")
        created, _ = await fnflow.executions.start("f", "standard-again", {}, mode="Standard")
        assert created.name == "standard-again"

    run(tmp_path, test)


def test_the_flows_kept_are_the_ones_used_last() -> None:
    kept: Recent[str] = Recent(2)
    kept.put("a", "A")
    kept.put("b", "B")
    assert kept.get("a") == "A"  # a is now the one used last
    kept.put("c", "C")
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == ("A", None, "C")
    kept.drop("a")
    assert kept.get("a") is None
