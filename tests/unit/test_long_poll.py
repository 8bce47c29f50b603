"""A long-poll (``GET …/executions/{name}?wait=``) reads the execution only when it must (on
PostgreSQL each read is a hop to a reader thread and a round trip): not before its wait when this
process has just started it; an end that comes between that read and the wait is remembered by
the runtime, not read for again; and an execution this process ends during the wait is handed to
the waiters as it ended — read again only for its parent or children."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from fnflow.app import Fnflow
from fnflow.config import Settings
from fnflow.runtime import ends as ends_module
from fnflow.runtime.decisions import FINISHED
from tests.unit import fnflow_harness

WAIT_ONE_SECOND = "version: v1\ntype: flow\nsteps:\n  - {type: wait, name: w, duration: 1}\n"
#: a child that runs long enough to be long-polled while it runs, however busy the machine
SLOW_CHILD = "version: v1\ntype: flow\nsteps:\n  - {type: wait, name: w, duration: 3}\n"
#: a flow whose execution runs ``w`` as its child
PARENT = (
    "version: v1\ntype: flow\nsteps:\n  - {type: task, name: c, resourceArn: 'acs:fnf:::flow/slow', "
    "pattern: sync, serviceParams: {ExecutionName: child}}\n"
)


def opened(tmp_path: Path) -> AbstractAsyncContextManager[Fnflow]:
    return fnflow_harness.opened(tmp_path, {"w": WAIT_ONE_SECOND, "slow": SLOW_CHILD, "parent": PARENT})


def counting_reads(fnflow: Fnflow, monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """Every point read of the store from now on, listed as it is made."""
    reads: list[Callable[..., Any]] = []
    read_point = fnflow.store.read_point

    async def counted(fn: Callable[..., Any]) -> Any:
        reads.append(fn)
        return await read_point(fn)

    monkeypatch.setattr(fnflow.store, "read_point", counted)
    return reads


@pytest.mark.parametrize("started", ["just now", "a while ago"])
def test_a_long_poll_of_an_execution_this_process_ends_answers_as_a_read_would_with_fewer_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: str
) -> None:
    if started == "a while ago":  # longer than a long-poll trusts the start to be still running
        monkeypatch.setattr(ends_module, "STARTED_TRUSTED", 0.0)

    async def go() -> tuple[Any, Any, int, float]:
        async with opened(tmp_path) as fnflow:
            await fnflow.executions.start("w", "e", {})
            reads = counting_reads(fnflow, monkeypatch)
            began = time.monotonic()
            polled = await fnflow.executions.described("w", "e", wait=30)
            waited, count = time.monotonic() - began, len(reads)
            return polled, await fnflow.executions.described("w", "e"), count, waited

    polled, read, reads, waited = asyncio.run(go())
    assert polled[0].status == "Succeeded" and waited < 10
    assert reads == (0 if started == "just now" else 1)  # and none after the wait
    assert polled == read  # the same record, version included, the same parent and children


@pytest.mark.parametrize("which", ["the parent", "the child"])
def test_a_long_poll_reads_again_for_a_parent_or_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    async def go() -> tuple[Any, int]:
        async with opened(tmp_path) as fnflow:
            await fnflow.executions.start("parent", "p", {})
            flow, name = ("parent", "p") if which == "the parent" else ("slow", "child")
            deadline = time.monotonic() + 10
            while fnflow.runtime.ends.started_here("slow", "child") is None:  # the parent's task starts it
                assert time.monotonic() < deadline, "the child did not start"
                await asyncio.sleep(0.05)
            reads = counting_reads(fnflow, monkeypatch)
            polled = await fnflow.executions.described(flow, name, wait=30)
            return polled, len(reads)

    (record, parent, children), reads = asyncio.run(go())
    assert record.status == "Succeeded" and reads == 1  # after the wait, for the relatives
    if which == "the parent":
        assert [child.status for child in children] == ["Succeeded"] and parent is None
    else:
        assert parent is not None and parent.name == "p" and children == []


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
            await runtime.ends.wait(record.id, 30)
            return time.monotonic() - began

    assert asyncio.run(go()) < 1


def test_only_the_last_ends_are_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ends_module, "FINISHED_KEPT", 3)

    async def go() -> float:
        async with opened(tmp_path) as fnflow:
            for n in range(5):
                fnflow.runtime._heard(FINISHED, f"id-{n}")
            began = time.monotonic()
            await fnflow.runtime.ends.wait("id-4", 30)  # remembered: at once
            assert time.monotonic() - began < 1
            began = time.monotonic()
            await fnflow.runtime.ends.wait("id-0", 0.3)  # forgotten: waits its time out
            return time.monotonic() - began

    assert asyncio.run(go()) >= 0.3


def two_tasks(tmp_path: Path) -> Path:
    """A manifest of a no-op function and a flow ``t`` of two tasks calling it (Fnflow's ``apply``)."""
    root = tmp_path / "app"
    (root / "noop").mkdir(parents=True)
    (root / "noop" / "index.py").write_text("def handler(event, context):\n    return '{}'\n")
    arn = "acs:fc:::services/svc/functions/noop"
    steps = "".join(f"  - {{type: task, name: {n}, resourceArn: '{arn}'}}\n" for n in ("one", "two"))
    (root / "t.yaml").write_text("version: v1\ntype: flow\nsteps:\n" + steps)
    (root / "fnflow.yaml").write_text(
        "functions:\n  - {service: svc, name: noop, handler: index.handler, code: noop}\n"
        "flows:\n  - {name: t, definition: t.yaml}\n"
    )
    return root


@pytest.mark.parametrize("commit", ["ends the execution", "does not end it"])
def test_an_end_announced_while_a_task_result_commits_here_waits_for_that_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, commit: str
) -> None:
    """On PostgreSQL a process hears its own end announced, often before its commit returns: the
    waiters take the execution from the commit, and are woken after it if it did not end it."""

    async def go() -> tuple[str, int, float]:
        settings = Settings(db=f"sqlite:///{tmp_path}/fnflow.db", data_dir=tmp_path / "data")
        fnflow = Fnflow(settings, apply=[two_tasks(tmp_path)])
        await fnflow.open()
        try:
            runtime = fnflow.runtime
            await fnflow.executions.start("t", "warm", {})  # the function's record, read and cached
            await fnflow.executions.described("t", "warm", wait=30)
            record, _ = await fnflow.executions.start("t", "e", {})
            commits = runtime._commit
            last = commit == "ends the execution"
            announced: list[int] = []

            async def announced_first(job: Callable[..., Any], *ahead: Any) -> Any:
                if record.id in runtime.ends._completing and (last or not announced):
                    if not last or len(announced) == 1:  # the second task's result ends it
                        runtime._heard(FINISHED, record.id)
                    announced.append(1)
                return await commits(job, *ahead)

            monkeypatch.setattr(runtime, "_commit", announced_first)
            reads = counting_reads(fnflow, monkeypatch)
            began = time.monotonic()
            polled, _, _ = await fnflow.executions.described("t", "e", wait=30)
            return polled.status, len(reads), time.monotonic() - began
        finally:
            await fnflow.close()

    status, reads, waited = asyncio.run(go())
    assert waited < 10
    if commit == "ends the execution":
        assert (status, reads) == ("Succeeded", 0)  # woken by the commit, with the execution
    else:
        assert reads == 1  # woken once the commit was done, and read: the notice said no more


def test_a_start_is_trusted_until_the_execution_ends_or_for_a_few_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def go() -> list[bool]:
        async with opened(tmp_path) as fnflow:
            runtime = fnflow.runtime
            record, _ = await fnflow.executions.start("w", "e", {})
            seen = [runtime.ends.started_here("w", "e") == record.id]
            await fnflow.executions.described("w", "e", wait=30)
            seen.append(runtime.ends.started_here("w", "e") is None)  # it ended
            await fnflow.executions.start("w", "f", {})
            monkeypatch.setattr(ends_module, "STARTED_TRUSTED", 0.0)
            seen.append(runtime.ends.started_here("w", "f") is None)  # too long ago
            return seen

    assert asyncio.run(go()) == [True, True, True]
