"""A stop racing the start of an asynchronous call, on a real SQLite store with real functions.

The dispatcher calls a function as soon as its Running mark is queued for the store, before it
commits (``fnflow.asyncq.dispatcher``). These tests hold the store's writer still so that a stop
and a start are queued in a known order, and check that a call stopped before it started never
runs, and that one stopped after it started is cancelled.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fnflow.asyncq.dispatcher import Dispatcher
from fnflow.asyncq.service import CallService, Submission
from fnflow.asyncq.targets import TargetPolicy
from fnflow.functions.config import AsyncPolicy, FunctionConfig
from fnflow.functions.pool import FunctionPool
from fnflow.functions.service import FunctionService
from fnflow.functions.spec import InvocationResult
from fnflow.leasing import LeaseKeeper
from fnflow.store import Store, open_store
from tests.unit.functions_harness import async_test


@asynccontextmanager
async def calls_on_sqlite(
    tmp_path: Path, names: tuple[str, ...] = ("fn",), *, max_held: int = 10_000
) -> AsyncIterator[tuple[Store, CallService]]:
    """Functions ``names`` of service ``svc``, one instance each: a call's body (its id) is
    appended to ran.log, then the function waits ``?seconds``."""
    store = open_store(f"sqlite:///{tmp_path / 'db'}")
    assert store.ordered_writes
    pool = FunctionPool()
    functions = FunctionService(store, pool, tmp_path)
    ran = tmp_path / "ran.log"
    command = f"sh -c 'cat >> {ran}; echo >> {ran}; sleep ${{Http_Query#seconds=}}'"
    for name in names:
        await functions.deploy(
            FunctionConfig("svc", name, runtime="command", command=command, max_instances=1), None
        )
    keeper = LeaseKeeper(store, "me", 30)
    dispatcher = Dispatcher(store, functions, keeper, max_held=max_held)
    calls = CallService(store, functions, dispatcher, targets=TargetPolicy())
    await dispatcher.open(recover=False)
    try:
        yield store, calls
    finally:
        await dispatcher.close()
        await pool.close()
        store.close()


def ran(tmp_path: Path) -> list[str]:
    path = tmp_path / "ran.log"
    return path.read_text().split() if path.exists() else []


async def status(calls: CallService, call_id: str) -> tuple[str, int]:
    record, _ = await calls.get(call_id)
    return record.status, record.attempts


async def until(calls: CallService, call_id: str, wanted: set[str]) -> None:
    for _ in range(400):
        if (await status(calls, call_id))[0] in wanted:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"call {call_id} is {await status(calls, call_id)}, not one of {wanted}")


def hold_writer(store: Store) -> threading.Event:
    """Keep the writer busy until the returned event is set: jobs queued meanwhile wait, in order."""
    gate, holding = threading.Event(), threading.Event()

    def job(_: object) -> None:
        holding.set()
        gate.wait(10)

    threading.Thread(target=store.write_sync, args=(job,), daemon=True).start()  # the event loop runs on
    assert holding.wait(5)
    return gate


@async_test
async def test_a_stop_queued_before_the_start_keeps_the_call_from_running(tmp_path: Path) -> None:
    async with calls_on_sqlite(tmp_path) as (store, calls):
        await calls.submit(Submission("svc", "fn", b"first", query="seconds=0.5", call_id="first"))
        await until(calls, "first", {"Running"})
        await calls.submit(Submission("svc", "fn", b"second", query="seconds=0", call_id="second"))
        gate = hold_writer(store)  # "first" cannot settle, "second" cannot be marked Running
        stop = asyncio.ensure_future(calls.stop("second"))
        await asyncio.sleep(1.5)  # "first" ends; its instance is free for "second" meanwhile
        gate.set()
        assert await stop == "Stopped"
        await until(calls, "first", {"Succeeded"})
        assert await status(calls, "second") == ("Stopped", 0)
        await asyncio.sleep(0.3)
        assert ran(tmp_path) == ["first"], "a call stopped before it started ran"


@async_test
async def test_a_stop_queued_after_the_start_cancels_the_running_call(tmp_path: Path) -> None:
    async with calls_on_sqlite(tmp_path) as (store, calls):
        gate = hold_writer(store)
        accepted = asyncio.ensure_future(
            calls.submit(Submission("svc", "fn", b"only", query="seconds=30", call_id="only"))
        )
        await asyncio.sleep(0.2)
        gate.set()
        await accepted
        for _ in range(200):  # the function is called before its Running mark commits
            if ran(tmp_path):
                break
            await asyncio.sleep(0.025)
        assert ran(tmp_path) == ["only"]
        assert await calls.stop("only") in ("Stopping", "Stopped")
        await until(calls, "only", {"Stopped"})
        assert (await status(calls, "only"))[1] == 1


@async_test
async def test_a_destination_call_runs_once_though_claims_run_meanwhile(tmp_path: Path) -> None:
    """A call's destination call is stored held by the process that starts it: claims made while
    it waits for its function's instance (here, every 5 ms) must not take it a second time."""
    store = open_store(f"sqlite:///{tmp_path / 'db'}")
    pool = FunctionPool()
    functions = FunctionService(store, pool, tmp_path)
    ran = tmp_path / "ran.log"
    command = f"sh -c 'cat >> {ran}; echo >> {ran}; sleep 0.3'"
    for name, policy in (("fn", AsyncPolicy(on_success="dest")), ("dest", AsyncPolicy())):
        config = FunctionConfig("svc", name, runtime="command", command=command, async_policy=policy)
        await functions.deploy(replace(config, max_instances=1), None)
    dispatcher = Dispatcher(store, functions, LeaseKeeper(store, "me", 30))
    calls = CallService(store, functions, dispatcher, targets=TargetPolicy())
    await dispatcher.open(recover=False)

    async def claims() -> None:
        while True:
            dispatcher.unclaimed()
            await asyncio.sleep(0.005)

    claiming = asyncio.create_task(claims())
    try:
        for n in range(3):  # the destination's one instance is busy for 0.9 s
            await calls.submit(Submission("svc", "dest", b"busy", call_id=f"busy-{n}"))
        await calls.submit(Submission("svc", "fn", b"source", call_id="source"))
        await until(calls, "source", {"Succeeded"})
        await asyncio.sleep(1.5)  # the destination call has run by now, and any second run too
        lines = ran.read_text().splitlines()
        assert sorted(lines)[:4] == ["busy", "busy", "busy", "source"], lines
        assert len(lines) == 5, f"the destination call ran {len(lines) - 4} times"
    finally:
        claiming.cancel()
        await dispatcher.close()
        await pool.close()
        store.close()


@async_test
async def test_an_attempt_that_fails_unexpectedly_lets_go_of_its_call_and_the_next_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with calls_on_sqlite(tmp_path) as (_, calls):
        functions = calls.dispatcher._functions
        invoke = functions.invoke

        async def broken(*args: Any, request_id: str, **kwargs: Any) -> InvocationResult:
            if request_id == "bad":
                raise RuntimeError("the pool broke")
            return await invoke(*args, request_id=request_id, **kwargs)

        functions.invoke = broken  # type: ignore[method-assign]
        await calls.submit(Submission("svc", "fn", b"bad", query="seconds=0", call_id="bad"))
        await calls.submit(Submission("svc", "fn", b"good", query="seconds=0", call_id="good"))
        await until(calls, "good", {"Succeeded"})
        assert "bad" not in calls.dispatcher._held, "its lease must run out, so that it runs again"
        assert "asynchronous call bad could not be settled" in caplog.text
