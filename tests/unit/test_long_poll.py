"""A long-poll (``GET …/executions/{name}?wait=``) reads the execution before its wait and after it,
and no more: an end that comes between the first read and the wait is remembered by the runtime,
not read for again (on PostgreSQL each read is a hop to a reader thread and a round trip)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from fnflow.app import Fnflow
from fnflow.config import Settings
from fnflow.runtime import runtime as runtime_module
from fnflow.runtime.decisions import FINISHED

WAIT_ONE_SECOND = "version: v1\ntype: flow\nsteps:\n  - {type: wait, name: w, duration: 1}\n"


@asynccontextmanager
async def opened(tmp_path: Path) -> AsyncIterator[Fnflow]:
    fnflow = Fnflow(Settings(db=f"sqlite:///{tmp_path}/fnflow.db", data_dir=tmp_path))
    await fnflow.open()
    try:
        await fnflow.flows.put("w", WAIT_ONE_SECOND, "")
        yield fnflow
    finally:
        await fnflow.close()


def counting_reads(fnflow: Fnflow, monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """Every point read of the store from now on, listed as it is made."""
    reads: list[Callable[..., Any]] = []
    read_point = fnflow.store.read_point

    async def counted(fn: Callable[..., Any]) -> Any:
        reads.append(fn)
        return await read_point(fn)

    monkeypatch.setattr(fnflow.store, "read_point", counted)
    return reads


def test_a_long_poll_reads_before_and_after_its_wait_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def go() -> tuple[str, int, float]:
        async with opened(tmp_path) as fnflow:
            await fnflow.executions.start("w", "e", {})
            reads = counting_reads(fnflow, monkeypatch)
            began = time.monotonic()
            record, _, _ = await fnflow.executions.described("w", "e", wait=30)
            return record.status, len(reads), time.monotonic() - began

    status, reads, waited = asyncio.run(go())
    assert status == "Succeeded" and waited < 10
    assert reads == 2


@pytest.mark.parametrize("where", ["here", "announced by another process"])
def test_an_end_between_the_read_and_the_wait_is_not_waited_for(tmp_path: Path, where: str) -> None:
    async def go() -> float:
        async with opened(tmp_path) as fnflow:
            runtime = fnflow.runtime
            record, _ = await fnflow.executions.start("w", "e", {})
            assert record.status == "Running"  # the caller's read
            if where == "here":
                while (await fnflow.executions.describe("w", "e")).status == "Running":
                    await asyncio.sleep(0.05)
            else:
                runtime._heard(FINISHED, record.id)  # a peer's end, as its listener hears it
            began = time.monotonic()
            await runtime.wait_finished(record.id, 30)
            return time.monotonic() - began

    assert asyncio.run(go()) < 1


def test_only_the_last_ends_are_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "FINISHED_KEPT", 3)

    async def go() -> float:
        async with opened(tmp_path) as fnflow:
            for n in range(5):
                fnflow.runtime._heard(FINISHED, f"id-{n}")
            began = time.monotonic()
            await fnflow.runtime.wait_finished("id-4", 30)  # remembered: at once
            assert time.monotonic() - began < 1
            began = time.monotonic()
            await fnflow.runtime.wait_finished("id-0", 0.3)  # forgotten: waits its time out
            return time.monotonic() - began

    assert asyncio.run(go()) >= 0.3
