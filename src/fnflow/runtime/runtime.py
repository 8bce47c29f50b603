"""The runtime drives executions: it applies events through the engine and does what follows.

Every change goes through ``_commit``: a write job (see ``decisions``) that the store commits
atomically, followed — only after the commit — by the in-process wake-ups: tasks handed to
the task runner, timers pushed to the timer wheel, waiters of finished executions released.
Nothing sleeps in a polling loop; periodic work (lease renewal, sweeping for tasks whose
lease expired) runs on long intervals as a safety net.

On a store several processes share, a busy process (running as many tasks as its parallelism)
leaves new tasks to whichever process claims them first, and says so on ``TASKS``; a finished
execution is announced on ``FINISHED``, so a long-poll waiting on another process returns.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fnflow.background import Background
from fnflow.clock import RANDOM_IDS, SYSTEM_CLOCK, Clock, Ids
from fnflow.engine import Event, StopRequested, TaskFailed, TaskSucceeded, TimerFired
from fnflow.errors import ExecutionNotFound, TaskAlreadyCompleted
from fnflow.integrations import After, Integrations, Parent
from fnflow.leasing import Claimer, LeaseKeeper
from fnflow.metrics import Metrics
from fnflow.runtime.decisions import FINISHED, TASKS, Decided, Decider, NameRule, Outcome
from fnflow.runtime.ends import Ends
from fnflow.runtime.programs import ProgramCache
from fnflow.runtime.tasks import TaskRunner
from fnflow.runtime.timers import TimerWheel
from fnflow.runtime.tokens import TaskTokens
from fnflow.store import ExecutionRecord, Store, TaskRecord, TimerRecord, Tx
from fnflow.store.leases import TASKS as TASK_LEASES
from fnflow.store.writer import Ahead

log = logging.getLogger(__name__)
RUNNING_KEPT = 1000  # running executions whose last row this process keeps (``Runtime._running``)


class Runtime:
    def __init__(
        self,
        store: Store,
        keeper: LeaseKeeper,
        integrations: Integrations,
        *,
        parallelism: int = 64,
        max_data_bytes: int = 32 * 1024,
        max_events: int = 5000,
        metrics: Metrics | None = None,
        clock: Clock = SYSTEM_CLOCK,
        ids: Ids = RANDOM_IDS,
    ) -> None:
        self.store = store
        self.clock = clock
        self._ids = ids
        self.node_id = keeper.owner
        self._keeper = keeper
        self._limits = {"max_data_bytes": max_data_bytes, "max_events": max_events}
        self.metrics = metrics or Metrics()
        # SQLite: this process runs everything, so it takes all it schedules (the runner queues it).
        self._hold_limit = parallelism if store.shared else 1_000_000_000
        self._claimer = Claimer(
            self._claim,
            lambda: self._hold_limit - len(self.tasks.held),
            period=keeper.lease_seconds / 3,
            what="tasks",
            clock=clock,
        )
        self._integrations = integrations
        self.tasks = TaskRunner(
            integrations,
            self._complete_task,
            parallelism=parallelism,
            metrics=self.metrics,
            on_free=self._claimer.freed,
        )
        keeper.keep(TASK_LEASES, lambda: self.tasks.held)
        self._giving = Background()
        self._unlisten: Callable[[], None] = lambda: None
        self.timers = TimerWheel(
            self._load_timers, self._fire_timer, on_late=self.metrics.timer_lateness.observe, clock=clock
        )
        self.ends = Ends(clock)  # what long-polls wait on (``ends.py``)
        # Running executions as this process's last decisions left them (``Outcome.running``), the
        # newest RUNNING_KEPT: the next decision on one is made without reading it (``Decider.apply``).
        self._running: OrderedDict[str, ExecutionRecord] = OrderedDict()
        self._watchers: dict[str, set[asyncio.Event]] = {}  # executions someone follows step by step
        self._background: list[asyncio.Task[None]] = []
        self.decider: Decider | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    async def open(self) -> None:
        secret = await self.store.write(
            lambda tx: tx.setting_or_create("task_token_key", lambda: secrets.token_hex(32))
        )
        self.decider = Decider(
            ProgramCache(),
            TaskTokens(bytes.fromhex(secret)),
            self._integrations,
            self.node_id,
            self._keeper.lease_seconds,
            **self._limits,
            take_tasks=lambda: len(self.tasks.held) < self._hold_limit,
            ids=self._ids,
        )
        if not self.store.shared:
            freed = await self.store.write(lambda tx: tx.expire_foreign(TASK_LEASES, self.node_id))
            if freed:
                log.info("recovered %d task(s) left running by a previous process", freed)
        self._unlisten = self.store.listen([FINISHED, TASKS], self._heard)
        await self._claimer.claim()
        self._background = [
            asyncio.create_task(self.timers.run(), name="timer wheel"),
            asyncio.create_task(self._claimer.run(), name="task claims"),
        ]

    async def close(self) -> None:
        self._hold_limit = 0  # take nothing more: new tasks are left to other processes
        self._unlisten()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.tasks.close()
        await self._giving.drain()
        # Give the held tasks back, so other processes (or the next start) run them at once.
        await self.store.write(self._release)

    def _release(self, tx: Tx, keys: list[tuple[str, int]] | None = None) -> None:
        """Give back the tasks of ``keys`` (all if None), and tell the other processes."""
        if tx.release(TASK_LEASES, self.node_id, keys):
            tx.notify(TASKS, "")

    @property
    def tokens(self) -> TaskTokens:
        assert self.decider is not None, "the runtime is not open"
        return self.decider.tokens

    def _now(self) -> datetime:
        return self.clock.now()

    # --- the one way changes are made --------------------------------------------------------------

    async def _commit(self, job: Callable[[Tx], Outcome], ahead: Decided | None = None) -> Outcome:
        """Commit ``job``; with ``ahead``, the decision it writes first, made already (the writer
        may send it with others: ``writer.Ahead``)."""
        return await self._applied(self.store.write(job if ahead is None else Ahead(job, ahead.write)))

    async def _applied(self, committing: Awaitable[Outcome]) -> Outcome:
        outcome = await committing
        if outcome.applied:
            self._after(outcome)
        return outcome

    async def commit(self, job: Callable[[Tx], Outcome]) -> Outcome:
        """Commit a decision job of another adapter (the scheduler's: a tick and the execution it
        starts, in one transaction) and do here what follows it: run its tasks, arm its timers."""
        return await self._commit(job)

    def _after(self, outcome: Outcome) -> None:
        surplus = []
        for task in outcome.tasks:
            if task.lease_owner != self.node_id:
                self._claimer.wanted()
            elif len(self.tasks.held) < self._hold_limit:
                self.tasks.submit(task)
            else:  # decided in the same batch as others that took the room
                surplus.append((task.execution_id, task.activity))
        if surplus and self._hold_limit:
            self._giving.spawn(self._give_back(surplus))
        self.timers.discard(outcome.cancelled_timers)
        self.timers.add(outcome.timers)
        if (started := outcome.execution) is not None:
            self.metrics.executions_started.labels(outcome.flow_name).inc()
            if started.status == "Running":
                self.ends.started(started)
        if outcome.running is not None:
            self._running[outcome.execution_id] = outcome.running
            self._running.move_to_end(outcome.execution_id)
            if len(self._running) > RUNNING_KEPT:
                self._running.popitem(last=False)
        else:
            self._running.pop(outcome.execution_id, None)
        if outcome.finished:
            self.metrics.executions_finished.labels(outcome.flow_name, outcome.status).inc()
            self.ends.ended(outcome.execution_id, outcome.ended)
        if self._watchers and (watching := self._watchers.get(outcome.execution_id)):
            for watcher in watching:
                watcher.set()
        for action in outcome.after:
            action()
        for nested in outcome.nested:
            self._after(nested)

    def _decider(self) -> Decider:
        assert self.decider is not None, "the runtime is not open"
        return self.decider

    # --- executions --------------------------------------------------------------------------------

    async def start_execution(
        self,
        flow_name: str,
        name: str | None,
        input: dict[str, Any],
        *,
        rule: NameRule = NameRule.SAME_INPUT,
        mode: str | None = None,
        parent: Parent | None = None,
        callback_token: str | None = None,
        version: int | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """Start (or find, as ``rule`` says for a name in use); returns (record, created). A child
        names its ``parent`` task attempt; ``callback_token`` is a task to settle at the end;
        ``version`` the flow version to run (None: the current one)."""
        decider = self._decider()
        now = self._now()
        plain = (name, mode, parent, callback_token, version) == (None,) * 5
        ahead = decider.start_ahead(flow_name, input, now) if plain else None

        def job(tx: Tx) -> Outcome:
            return decider.start(
                tx,
                flow_name,
                name,
                input,
                now,
                rule=rule,
                mode=mode,
                parent=parent,
                callback_token=callback_token,
                version=version,
                ahead=ahead,
            )

        outcome = await self._commit(job, ahead)
        assert outcome.execution is not None
        return outcome.execution, outcome.applied

    async def apply(self, execution_id: str, event: Event) -> Outcome:
        decider = self._decider()
        return await self._commit(lambda tx: decider.apply(tx, execution_id, event, self._now()))

    async def _complete_task(self, execution_id: str, event: Event, activity: int) -> None:
        decider, known, now = self._decider(), self._running.get(execution_id), self._now()
        ahead = decider.decide_ahead(known, event, now, completes=activity)

        def job(tx: Tx) -> Outcome:
            return decider.apply(tx, execution_id, event, now, completes=activity, known=known, ahead=ahead)

        with self.ends.completing(execution_id):
            await self._commit(job, ahead)

    async def redrive(self, execution_id: str) -> Outcome:
        """Continue a Failed or TimedOut execution from where it ended (see ``Decider.redrive``)."""
        decider = self._decider()
        return await self._commit(lambda tx: decider.redrive(tx, execution_id, self._now()))

    async def reset(
        self, execution_id: str, step: str, *, name: str | None = None, input: dict[str, Any] | None = None
    ) -> ExecutionRecord:
        """A new execution from task step ``step`` of this one (see ``Decider.reset``)."""
        decider = self._decider()
        now = self._now()
        outcome = await self._commit(
            lambda tx: decider.reset(tx, execution_id, step, now, name=name, input=input)
        )
        assert outcome.execution is not None
        return outcome.execution

    async def stop(self, execution: ExecutionRecord, error: str, cause: str) -> None:
        await self.apply(execution.id, StopRequested(error, cause))

    async def report(
        self, token: str, *, output: Any = None, error: str | None = None, cause: str = ""
    ) -> int:
        """ReportTaskSucceeded (``error`` None) or ReportTaskFailed for a task token; returns the id of
        the history event that records it."""
        ref = self.tokens.parse(token)
        event: Event = (
            TaskSucceeded(ref.activity, output) if error is None else TaskFailed(ref.activity, error, cause)
        )
        decider = self._decider()

        def job(tx: Tx) -> Outcome:
            if tx.get_execution_by_id(ref.execution_id) is None:
                raise ExecutionNotFound("the execution of this task token no longer exists")
            # A report settles the attempt: drop its task row if the function is still queued.
            tx.delete_task(ref.execution_id, ref.activity)
            return decider.apply(tx, ref.execution_id, event, self._now())

        outcome = await self._commit(job)
        if not outcome.applied:
            raise TaskAlreadyCompleted(
                "the task of this token has already completed, timed out or was stopped"
            )
        assert outcome.first_event is not None  # an applied result is recorded in the history
        return outcome.first_event

    def settle(self, tx: Tx, execution_id: str, activity: int, event: Event) -> After | None:
        """In a transaction of another adapter (a finished call, a child's end): apply a task
        attempt's result to its execution; what to do after the commit."""
        tx.delete_task(execution_id, activity)
        outcome = self._decider().apply(tx, execution_id, event, self._now())
        return (lambda: self._after(outcome)) if outcome.applied else None

    def stop_children(self, tx: Tx, execution_id: str, activity: int, why: str) -> After | None:
        """In the transaction that gives a task attempt up: stop the child execution it started."""
        stopped = self._decider().stop_children(tx, execution_id, self._now(), activity=activity, cause=why)
        if not stopped:
            return None

        def after() -> None:
            for outcome in stopped:
                self._after(outcome)

        return after

    def starts_children(self, record: ExecutionRecord) -> bool:
        """Whether the execution may have child executions (its flow has task steps that start them,
        or its program is not at hand)."""
        program = self._decider().programs.peek(record.definition_hash)
        return program is None or program.starts_flows

    async def wait_changed(self, execution_id: str, timeout: float) -> None:
        """Return when a decision of this process changes the execution, or after ``timeout`` seconds
        (decisions of other processes are seen then)."""
        watcher = asyncio.Event()
        self._watchers.setdefault(execution_id, set()).add(watcher)
        try:
            await self.clock.wait(watcher, timeout)
        finally:
            watching = self._watchers[execution_id]
            watching.discard(watcher)
            if not watching:
                del self._watchers[execution_id]

    # --- timers and leases -------------------------------------------------------------------------

    async def _load_timers(self, until: datetime) -> list[TimerRecord]:
        return await self.store.read(lambda tx: tx.due_timers(until, 100_000))

    def _fire_timer(self, timer: TimerRecord) -> Awaitable[Outcome]:
        """Queue the timer's decision now (so the timers due together share a commit, and none
        waits for the event loop to get round to a task first); the result is awaited later."""
        decider, known = self._decider(), self._running.get(timer.execution_id)

        def job(tx: Tx) -> Outcome:
            if not tx.delete_timer(timer.execution_id, timer.timer):
                return Outcome(timer.execution_id, "", applied=False)
            return decider.apply(tx, timer.execution_id, TimerFired(timer.timer), self._now(), known=known)

        return self._applied(self.store.write_soon(job))

    async def _give_back(self, keys: list[tuple[str, int]]) -> None:
        """Leave tasks this process has no room for to any process (a peer, or itself later)."""
        try:
            await self.store.write(functools.partial(self._release, keys=keys))
        except Exception:
            log.exception("could not give back %d task(s); they run here when their lease ends", len(keys))
        self._claimer.wanted()

    def _heard(self, channel: str, payload: str) -> None:
        """A wake-up from another process (on the event loop)."""
        if channel == FINISHED:
            self.ends.heard(payload)
        else:
            self._claimer.wanted()

    async def _claim(self, limit: int) -> int:
        """Lease tasks nobody holds (scheduled by a busy peer, or left by a crash) and run them."""
        claimed = await self.store.write(functools.partial(self._claim_batch, limit=limit))
        for task in claimed:
            self.tasks.submit(task)
        return len(claimed)

    def _claim_batch(self, tx: Tx, limit: int) -> list[TaskRecord]:
        return tx.claim_tasks(self.node_id, self._now(), self._keeper.until(), limit)
