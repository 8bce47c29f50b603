"""The in-process test runtime: fnflow's own engine, runtime and store, on virtual time.

A case runs in a SQLite database of its own (a copy of one migrated once per session), on a
``Runtime`` like a server's, with a ``VirtualClock``: the clock stands still while anything can
still happen (a decision being committed, a task answering, a timer firing), and when nothing
can, it jumps to the next thing that will — the earliest stored timer (a wait, a retry's back-off,
a timeout) or the earliest answer of a mock with a ``delay``. So waits, back-offs and timeouts take
no real time and a run repeats exactly.

What task steps call is replaced by ``MockIntegration``s that answer from the case's mocks; child
flows that are not mocked run for real in the same runtime. Nothing else of fnflow is stood in
for: the decisions, their transactions, the history and the timers are the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnflow.clock import CountingIds, VirtualClock
from fnflow.engine import FLOW_TIMEOUT, RUNTIME_ERROR, Event, TaskFailed, TaskSubmitted, TaskSucceeded
from fnflow.engine.state import ExecState, TaskFrame
from fnflow.errors import FnflowError
from fnflow.fdl.arn import FlowTarget, FunctionTarget, QueueTarget, ResourceTarget, TopicTarget
from fnflow.flowtest.spec import Mock
from fnflow.integrations import Integrations, Task
from fnflow.integrations.flow import FlowIntegration
from fnflow.leasing import LeaseKeeper
from fnflow.runtime import Runtime
from fnflow.services.flows import FlowService
from fnflow.store import ExecutionRecord, HistoryRecord, Store, Tx, open_store

#: the error of an attempt that had no mock (the case fails anyway, naming the step)
UNMOCKED = "FnF.TestUnmocked"
#: real seconds a case may take before it is stopped (a safety net; virtual time has its own limit)
WALL_LIMIT = 120.0
#: a fixed key, so task tokens are the same from run to run
TOKEN_KEY = "66" * 32


class Template:
    """One migrated database per session; each case gets a copy (a copy costs less than migrating)."""

    def __init__(self) -> None:
        self._dir: Path | None = None

    def _make(self) -> Path:
        if self._dir is None:
            try:  # memory-backed where there is one: a case's database never needs to reach a disk
                self._dir = Path(tempfile.mkdtemp(prefix="fnflow-test-", dir="/dev/shm"))
            except OSError:
                self._dir = Path(tempfile.mkdtemp(prefix="fnflow-test-"))
            store = open_store(f"sqlite:///{self._dir / 'template.db'}", synchronous="normal")
            try:
                store.write_sync(lambda tx: tx.set_setting("task_token_key", TOKEN_KEY))
                store.forget_overwritten()  # everything into the main file, so a copy of it is whole
            finally:
                store.close()
        return self._dir

    def open(self, name: str) -> Store:
        directory = self._make()
        target = directory / f"{name}.db"
        shutil.copyfile(directory / "template.db", target)
        return open_store(f"sqlite:///{target}", synchronous="normal")

    def discard(self, name: str) -> None:
        if self._dir is not None:
            for suffix in ("", "-wal", "-shm"):
                (self._dir / f"{name}.db{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@dataclass(frozen=True)
class FlowSource:
    """A flow the case deploys: its name, file and FDL text."""

    name: str
    path: Path
    text: str


@dataclass
class Execution:
    """An execution the case ran (the one under test, or a child), with its history."""

    record: ExecutionRecord
    history: list[HistoryRecord]

    @property
    def events(self) -> list[tuple[HistoryRecord, dict[str, Any]]]:
        return [(e, json.loads(e.detail)) for e in self.history]


@dataclass
class Run:
    """What a case did."""

    execution: Execution | None
    executions: list[Execution]  # every execution, children included
    problems: list[str]  # why the run itself went wrong (no mock, never ends, …)
    duration: float  # virtual seconds
    wall: float  # real seconds
    calls: Counter[str] = field(default_factory=Counter)  # task step -> attempts answered by mocks

    @property
    def record(self) -> ExecutionRecord | None:
        return self.execution.record if self.execution else None


class Mocks:
    """The mocks of one case, and which of them each call takes: the n-th call of a step answers
    the n-th item of its sequence (the last one repeats)."""

    def __init__(self, mocks: dict[str, list[Mock]]) -> None:
        self._sequences = {
            key: [item for item in sequence for _ in range(item.times)] for key, sequence in mocks.items()
        }
        self.calls: Counter[str] = Counter()

    def has(self, task: Task) -> bool:
        return task.command.step in self._sequences or task.command.resource_arn in self._sequences

    def take(self, task: Task) -> Mock | None:
        step = task.command.step
        sequence = self._sequences.get(step) or self._sequences.get(task.command.resource_arn)
        if not sequence:
            return None
        n = self.calls[step]
        self.calls[step] += 1
        return sequence[min(n, len(sequence) - 1)]


def _child_event(activity: int, mock: Mock, target: FlowTarget) -> Event:
    """The event a child flow's end would bring its parent's step (as ``decisions.end_event``)."""
    status = mock.status or ("Failed" if mock.error else "Succeeded")
    where = f"execution of flow {target.flow!r}"
    if status == "Succeeded":
        return TaskSucceeded(activity, mock.result if mock.result is not None else {})
    if status == "TimedOut":
        return TaskFailed(activity, FLOW_TIMEOUT, mock.cause or f"{where} timed out")
    how = "was stopped" if status == "Stopped" else "failed"
    return TaskFailed(activity, mock.error or RUNTIME_ERROR, mock.cause or f"{where} {how}")


class MockIntegration:
    """Answers the attempts of one kind of task step from the case's mocks."""

    def __init__(self, kind: str, harness: Harness) -> None:
        self.kind = kind
        self._harness = harness

    async def submit(self, task: Task) -> Event:
        harness, command = self._harness, task.command
        mock = harness.mocks.take(task)
        if mock is None:
            return harness.unmocked(task)
        if mock.hang:
            if command.pattern == "requestResponse":
                await asyncio.Event().wait()  # never answers; the runtime cancels it at the end
            return TaskSubmitted(task.activity)
        if isinstance(task.target, FlowTarget):
            event = _child_event(task.activity, mock, task.target)
            if command.pattern == "requestResponse" and isinstance(event, TaskSucceeded):
                started = {"Name": f"{command.step}-child", "FlowName": task.target.flow, "Status": "Running"}
                event = TaskSucceeded(task.activity, mock.result if mock.result is not None else started)
        elif mock.error is not None:
            event = TaskFailed(task.activity, mock.error, mock.cause)
        else:
            event = TaskSucceeded(task.activity, mock.result if mock.result is not None else {})
        if command.pattern == "requestResponse":
            await harness.sleep(mock.delay)
            return event
        # sync and waitForCallback: handed over now, the result is reported with the task token later
        harness.later(mock.delay, command.token, event)
        return TaskSubmitted(task.activity)

    def cancel(self, tx: Tx, execution_id: str, activity: int, now: Any) -> None:
        return None

    async def check(self, target: ResourceTarget, pattern: str) -> str | None:
        return None


class FlowTargets(MockIntegration):
    """Child flows: mocked if the case mocks the step, else run for real when the case knows the flow."""

    def __init__(self, harness: Harness, real: FlowIntegration) -> None:
        super().__init__("flow", harness)
        self._real = real

    async def submit(self, task: Task) -> Event:
        harness = self._harness
        target = task.target
        assert isinstance(target, FlowTarget)
        if harness.mocks.has(task) or target.flow not in harness.flows:
            return await super().submit(task)
        harness.mocks.calls[task.command.step] += 1
        return await self._real.submit(task)

    def cancel(self, tx: Tx, execution_id: str, activity: int, now: Any) -> Any:
        return self._real.cancel(tx, execution_id, activity, now)


class Harness:
    """Runs one case: deploy the flows, start the execution, drive virtual time until it ends."""

    def __init__(
        self,
        template: Template,
        flows: dict[str, FlowSource],
        mocks: dict[str, list[Mock]],
        *,
        start: Any,
        time_limit: float,
        wall_limit: float = WALL_LIMIT,
    ) -> None:
        self._template = template
        self.flows = flows
        self.mocks = Mocks(mocks)
        self.clock = VirtualClock(start)
        self._time_limit = time_limit
        self._wall_limit = wall_limit
        self._due: Counter[float] = Counter()  # virtual deadlines of mock answers not given yet
        self._reports: set[asyncio.Task[None]] = set()
        self.problems: list[str] = []
        self._store: Store | None = None
        self._runtime: Runtime | None = None

    # --- what the mocks use --------------------------------------------------------------------------

    def unmocked(self, task: Task) -> Event:
        message = (
            f"step {task.command.step!r} calls {task.command.resource_arn} and has no mock: add one under "
            f"mocks (by the step's name or its resourceArn), e.g. {task.command.step}: {{result: {{}}}}"
        )
        if message not in self.problems:
            self.problems.append(message)
        return TaskFailed(task.activity, UNMOCKED, message)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        deadline = self.clock.elapsed + seconds
        self._due[deadline] += 1
        try:
            await self.clock.sleep(seconds)
        finally:
            self._due[deadline] -= 1
            if self._due[deadline] <= 0:
                del self._due[deadline]

    def later(self, seconds: float, token: str, event: Event) -> None:
        """Report ``event`` for the task of ``token`` after ``seconds`` (a callback, a finished call)."""

        async def report() -> None:
            await self.sleep(seconds)
            runtime = self._runtime
            assert runtime is not None
            with contextlib.suppress(FnflowError):  # the step timed out, or the execution ended
                if isinstance(event, TaskSucceeded):
                    await runtime.report(token, output=event.output)
                elif isinstance(event, TaskFailed):
                    await runtime.report(token, error=event.error, cause=event.cause)

        task = asyncio.get_running_loop().create_task(report())
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    # --- running -------------------------------------------------------------------------------------

    async def run(self, flow: str, input: dict[str, Any], name: str | None) -> Run:
        began = time.monotonic()
        slot = f"case-{id(self)}"
        store = self._store = await asyncio.to_thread(self._template.open, slot)
        try:
            return await self._run(store, flow, input, name, began)
        finally:
            await asyncio.to_thread(store.close)
            self._template.discard(slot)

    async def _run(
        self, store: Store, flow: str, input: dict[str, Any], name: str | None, began: float
    ) -> Run:
        integrations = Integrations()
        keeper = LeaseKeeper(store, "fnflow-test", 60.0, clock=self.clock)
        runtime = self._runtime = Runtime(store, keeper, integrations, clock=self.clock, ids=CountingIds())
        for target in (FunctionTarget, QueueTarget, TopicTarget):
            kind = {FunctionTarget: "fc", QueueTarget: "queue", TopicTarget: "topic"}[target]
            integrations.add(target, MockIntegration(kind, self))
        integrations.add(FlowTarget, FlowTargets(self, FlowIntegration(runtime)))
        service = FlowService(store, integrations, clock=self.clock)
        for source in self.flows.values():
            await service.put(source.name, source.text)
        await runtime.open()
        record: ExecutionRecord | None = None
        try:
            record, _ = await runtime.start_execution(flow, name, input)
            await self._drive(store, record.id, began)
        finally:
            for report in list(self._reports):
                report.cancel()
            await asyncio.gather(*self._reports, return_exceptions=True)
            await runtime.close()
        executions = await store.read(lambda tx: _executions(tx, record.id)) if record else []
        main = executions[0] if executions else None
        duration = self.clock.elapsed
        if main is not None and main.record.stopped_at is not None:
            duration = (main.record.stopped_at - main.record.started_at).total_seconds()
        return Run(main, executions, self.problems, duration, time.monotonic() - began, self.mocks.calls)

    async def _drive(self, store: Store, execution_id: str, began: float) -> None:
        stalled = 0
        while True:
            await self._settle(store)
            if self.problems:
                return  # an unmocked step: the case fails, naming it
            record = await store.read(lambda tx: tx.get_execution_by_id(execution_id))
            if record is None or record.status != "Running":
                return
            upcoming = await self._next(store)
            if upcoming is None:
                waiting = await store.read(lambda tx: _waiting_steps(tx, execution_id))
                self.problems.append(
                    "the execution is still Running, but nothing more can happen: "
                    + (f"step(s) {', '.join(waiting)} wait" if waiting else "it waits")
                    + " for an answer that never comes (a mock with hang: true, and no timeoutSeconds)"
                )
                return
            if upcoming > self._time_limit:
                self.problems.append(
                    f"the execution did not end within {self._time_limit:g} virtual seconds (timeLimit); "
                    "does a loop never reach its exit?"
                )
                return
            if time.monotonic() - began > self._wall_limit:
                self.problems.append(f"the case ran for more than {self._wall_limit:g} real seconds")
                return
            if upcoming <= self.clock.elapsed:
                stalled += 1
                if stalled > 3:  # due but not fired: wake what sleeps a moment later
                    upcoming = self.clock.elapsed + 0.001
            else:
                stalled = 0
            self.clock.advance(upcoming)

    async def _next(self, store: Store) -> float | None:
        """Virtual seconds (since the start) when something happens next, or None: never."""
        at = await store.read(lambda tx: tx.next_timer_at())
        candidates = list(self._due)
        if at is not None:
            candidates.append((at - self.clock.now()).total_seconds() + self.clock.elapsed)
        return min(candidates) if candidates else None

    async def _settle(self, store: Store) -> None:
        """Return once nothing is left to run now: no store work in flight, nothing ready on the loop."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)
        quiet = 0
        while quiet < (3 if ready is not None else 20):
            await asyncio.sleep(0)
            if store.busy:
                quiet = 0
                await asyncio.sleep(0.0002)  # real time: the store's threads are working
            elif ready:
                quiet = 0
            else:
                quiet += 1


def _executions(tx: Tx, root: str) -> list[Execution]:
    """The execution and its descendants, with their histories, parents first."""
    found: list[Execution] = []
    todo = [root]
    while todo:
        execution_id = todo.pop(0)
        record = tx.get_execution_by_id(execution_id)
        if record is None:
            continue
        history = tx.history(record.id, limit=100_000).items
        found.append(Execution(record, list(history)))
        todo += [child.id for child in tx.children(record.id)]
    return found


def _waiting_steps(tx: Tx, execution_id: str) -> list[str]:
    record = tx.get_execution_by_id(execution_id)
    if record is None or record.state is None:
        return []
    state = ExecState.model_validate_json(record.state)
    names = []
    for frame in state.frames.values():
        if isinstance(frame, TaskFrame) and frame.activity is not None:
            history = tx.history(execution_id, limit=100_000).items
            step = next((e.step for e in history if e.event_id == frame.activity), None)
            if step:
                names.append(repr(step))
    return names
