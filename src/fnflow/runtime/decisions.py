"""Engine decisions inside a write transaction: load, decide, store — all or nothing.

These functions run on the store's writer (see ``fnflow.store.writer``) and never await. Each
returns an ``Outcome`` that tells the runtime, after the commit, which tasks to run, which
timers to arm and whether an execution has finished.

A decision may cause decisions on other executions in the same transaction: an execution that
ends reports its end to the task step waiting for it (a ``sync`` child's parent, or whoever passed
a ``CallbackFnFTaskToken``), and one that is stopped or times out stops its running children.
Those outcomes travel in ``Outcome.nested``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from fnflow import engine
from fnflow.clock import RANDOM_IDS, Ids
from fnflow.engine import (
    FLOW_TIMEOUT,
    RUNTIME_ERROR,
    Decision,
    Env,
    Event,
    ExecState,
    Program,
    Status,
    StopRequested,
    rebuild,
)
from fnflow.engine.state import SeqFrame, TaskFrame
from fnflow.errors import (
    Conflict,
    ExecutionAlreadyExists,
    FlowNotFound,
    InvalidArgument,
    NotFound,
    WrongExecutionMode,
)
from fnflow.fdl import TaskStep
from fnflow.integrations import After, Integrations, Parent, task_payload
from fnflow.runtime.programs import ProgramCache, Recent
from fnflow.runtime.tokens import TaskTokens
from fnflow.store import (
    DecisionWrite,
    ExecutionRecord,
    FlowRecord,
    HistoryRecord,
    TaskRecord,
    TimerRecord,
    Tx,
)

#: Channels other processes on a shared store listen on (``Store.listen``).
FINISHED = "fnflow_finished"  # payload: the execution id (wakes long-polls on every node)
TASKS = "fnflow_tasks"  # tasks nobody holds are waiting to be claimed


class NameRule(StrEnum):
    """What a start does with a name the flow already has an execution of."""

    SAME_INPUT = "same-input"  # fnflow's: that execution if the input is the same, else Conflict
    WHILE_RUNNING = "while-running"  # FnF's: that execution while it runs, ExecutionAlreadyExists after


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Outcome:
    execution_id: str
    status: str
    applied: bool = True
    tasks: list[TaskRecord] = field(default_factory=list)
    timers: list[TimerRecord] = field(default_factory=list)
    cancelled_timers: list[tuple[str, int]] = field(default_factory=list)
    execution: ExecutionRecord | None = None  # set by ``start``: the new (or existing) execution
    ended: ExecutionRecord | None = None  # the execution as this decision ended it, if it did
    # the execution as this decision left it running (its row, version included): what the next
    # decision of this process may be made on without reading it (``Decider.apply``'s ``known``)
    running: ExecutionRecord | None = None
    flow_name: str = ""
    first_event: int | None = None  # the id of the first history event this decision added
    after: list[After] = field(default_factory=list)  # what integrations do once it is committed
    nested: list[Outcome] = field(default_factory=list)  # decisions it caused on other executions

    @property
    def finished(self) -> bool:
        return self.applied and self.status != "Running"


@dataclass(frozen=True)
class Decided:
    """A decision made and turned into what it writes, not written yet (``Decider.decide_ahead``)."""

    record: ExecutionRecord  # the execution as the decision was made on it
    decision: Decision
    write: DecisionWrite
    outcome: Outcome  # filled in when it is written
    cancelled_tasks: list[engine.CancelTask]
    now: datetime


class _MovedOn(Exception):
    """The row of an execution decided on without reading it has moved on (nothing was written)."""


class _FlowChanged(Exception):
    """The flow a start was decided on, as read before, has changed since (nothing was written)."""


#: How deeply child executions may nest: a flow that (indirectly) starts itself stops here.
MAX_DEPTH = 16


def end_event(record: ExecutionRecord, activity: int) -> Event:
    """What an execution's end means for the task step that waits for it (FnF's sub-flow semantics)."""
    if record.status == "Succeeded":
        return engine.TaskSucceeded(activity, json.loads(record.output) if record.output else {})
    where = f"execution {record.name!r} of flow {record.flow_name!r}"
    if record.status == "TimedOut":
        return engine.TaskFailed(activity, FLOW_TIMEOUT, record.cause or f"{where} timed out")
    how = "was stopped" if record.status == "Stopped" else "failed"
    return engine.TaskFailed(activity, record.error or RUNTIME_ERROR, record.cause or f"{where} {how}")


@dataclass
class Decider:
    """Runs the engine against stored executions; shared by every write path."""

    programs: ProgramCache
    tokens: TaskTokens
    integrations: Integrations
    node_id: str
    lease_seconds: float = 60.0
    max_data_bytes: int = 32 * 1024
    max_events: int = 5000
    #: whether this process takes the tasks it schedules (False: it is busy, they wait for any node)
    take_tasks: Callable[[], bool] = lambda: True
    #: where new execution ids come from
    ids: Ids = RANDOM_IDS
    #: the flows' records as starts last read them, definitions included (so as many as compiled
    #: programs are kept): a start decided on one writes only while the flow is still that one,
    #: and reads it again if not (that read was one of the nine round trips of a 3-step execution
    #: on PostgreSQL: bench/README.md, eighteenth round)
    flows: Recent[FlowRecord] = field(default_factory=lambda: Recent(256), init=False)

    def _env(self, now: datetime, flow_name: str, execution_id: str) -> Env:
        return Env(
            now=now,
            token=lambda activity: self.tokens.mint(flow_name, execution_id, activity),
            max_data_bytes=self.max_data_bytes,
            max_events=self.max_events,
        )

    def start(
        self,
        tx: Tx,
        flow_name: str,
        name: str | None,
        input: dict[str, Any],
        now: datetime,
        *,
        rule: NameRule = NameRule.SAME_INPUT,
        mode: str | None = None,
        parent: Parent | None = None,
        callback_token: str | None = None,
        version: int | None = None,
        ahead: Decided | None = None,
    ) -> Outcome:
        """Create an execution and run it to its first wait.

        A name the flow has an execution of goes by ``rule`` (``applied`` is False when that
        execution is returned). With ``mode``, the flow must have that execution mode. A child
        names its ``parent`` task attempt; ``callback_token`` is a task to settle when it ends.
        ``version``: the flow version to run (None: the flow's current one). ``ahead``: the
        decision of a start with none of these, made already (``start_ahead``).
        """
        if ahead is not None:
            try:
                return self._write(tx, ahead)
            except _FlowChanged:
                self.flows.drop(flow_name)
        start = functools.partial(
            self._start,
            tx,
            name=name,
            input=input,
            now=now,
            rule=rule,
            mode=mode,
            parent=parent,
            callback_token=callback_token,
            version=version,
        )
        known = self.flows.get(flow_name)
        if known is not None:
            try:
                return start(known, read=False)
            except (_FlowChanged, WrongExecutionMode):  # the mode may be the flow's old one
                self.flows.drop(flow_name)
        flow = tx.get_flow(flow_name)
        if flow is None:
            raise FlowNotFound(f"flow {flow_name!r} does not exist")
        self.flows.put(flow_name, flow)
        return start(flow, read=True)

    def _start(
        self,
        tx: Tx,
        flow: FlowRecord,
        *,
        read: bool,
        name: str | None,
        input: dict[str, Any],
        now: datetime,
        rule: NameRule,
        mode: str | None,
        parent: Parent | None,
        callback_token: str | None,
        version: int | None,
    ) -> Outcome:
        """``start`` on ``flow``, ``read`` in this transaction or earlier (then ``_FlowChanged``
        if it has changed since, and nothing written)."""
        flow_name = flow.name
        earlier = None if read else (flow_name, flow.id, flow.revision)  # checked as it is written
        if mode is not None and flow.execution_mode != mode:
            raise WrongExecutionMode(
                f"flow {flow_name!r} runs in {flow.execution_mode} mode, not {mode}"
                + (": start it with StartSyncExecution" if flow.execution_mode == "Express" else "")
            )
        if name is not None:
            existing = tx.get_execution(flow_name, name)
            if existing is not None:
                if earlier is not None and not tx.flow_is(*earlier):
                    raise _FlowChanged  # (deleted, say) before it answers with what that name has
                theirs = (existing.parent_id, existing.parent_activity)
                if parent is not None and theirs != (parent.execution_id, parent.activity):
                    raise Conflict(
                        f"execution {name!r} of flow {flow_name!r} exists, started by someone else"
                    )
                if rule is NameRule.WHILE_RUNNING and existing.status != "Running":
                    raise ExecutionAlreadyExists(
                        f"execution {name!r} of flow {flow_name!r} already exists and has ended"
                    )
                if rule is NameRule.SAME_INPUT and json.loads(existing.input) != input:
                    raise Conflict(
                        f"execution {name!r} of flow {flow_name!r} already exists with a different input"
                    )
                return Outcome(existing.id, existing.status, applied=False, execution=existing)
        depth, started_by = 0, None
        if parent is not None:
            above = tx.get_execution_by_id(parent.execution_id)
            if above is None:
                raise NotFound("the parent execution no longer exists")
            depth = above.depth + 1
            if depth > MAX_DEPTH:
                raise InvalidArgument(
                    f"child executions nest at most {MAX_DEPTH} deep: does flow {flow_name!r} start itself?"
                )
            started_by = {"flowName": above.flow_name, "name": above.name}
            callback_token = parent.token
        if callback_token is not None:
            self.tokens.parse(callback_token)  # InvalidArgument if it is not one of ours
        digest, text = flow.definition_hash, flow.definition
        if version is not None and version != flow.version:
            chosen = tx.get_flow_version(flow_name, version)
            if chosen is None:
                raise NotFound(f"flow {flow_name!r} has no version {version}")
            digest, text = chosen.definition_hash, chosen.definition
        return self._write(
            tx,
            self._begin(
                flow_name,
                name,
                digest,
                flow.version if version is None else version,
                text,
                input,
                now,
                flow=earlier,
                parent=parent,
                depth=depth,
                started_by=started_by,
                callback_token=callback_token,
            ),
        )

    def start_ahead(self, flow_name: str, input: dict[str, Any], now: datetime) -> Decided | None:
        """``start``'s decision on a new execution named by its id, made before its transaction on
        the flow as a start here last read it (see ``decide_ahead``; ``start`` writes it only while
        the flow is still that one). None if no start here has read the flow yet."""
        flow = self.flows.get(flow_name)
        if flow is None:
            return None
        earlier = (flow_name, flow.id, flow.revision)
        return self._begin(
            flow_name, None, flow.definition_hash, flow.version, flow.definition, input, now, flow=earlier
        )

    def _begin(
        self,
        flow_name: str,
        name: str | None,
        digest: str,
        flow_version: int,
        definition: str,
        input: dict[str, Any],
        now: datetime,
        *,
        flow: tuple[str, str, int] | None,
        parent: Parent | None = None,
        depth: int = 0,
        started_by: dict[str, Any] | None = None,
        callback_token: str | None = None,
    ) -> Decided:
        """The first decision of a new execution (named by its id if ``name`` is None) of
        ``definition``, ready to be written."""
        execution_id = self.ids.uuid()
        record = ExecutionRecord(
            id=execution_id,
            flow_name=flow_name,
            name=name or execution_id,
            status="Running",
            definition_hash=digest,
            flow_version=flow_version,
            input=dumps(input),
            started_at=now,
            parent_id=parent.execution_id if parent else None,
            parent_activity=parent.activity if parent else None,
            depth=depth,
            callback_token=callback_token,
        )
        program = self.programs.get(digest, lambda: definition)
        env = self._env(now, flow_name, execution_id)
        decision = engine.start(program, flow_name, record.name, input, env, started_by)
        return self._prepare(record, decision, now, new=True, flow=flow)

    def apply(
        self,
        tx: Tx,
        execution_id: str,
        event: Event,
        now: datetime,
        *,
        completes: int | None = None,
        known: ExecutionRecord | None = None,
        ahead: Decided | None = None,
    ) -> Outcome:
        """Apply one event; ``completes`` names the task row this result settles (stale if it is gone).

        ``known``: the execution as this process's last decision on it left it (``Outcome.running``).
        The decision is then made on it without reading the row, and stored only if the row still
        has its version (every write of an execution moves it on); if another decision came
        first, the row is read, locked, and the event decided again on it. ``ahead``: that
        decision, made already (``decide_ahead``)."""
        try:
            if ahead is not None:
                return self._write(tx, ahead)
            if known is not None and known.state is not None:
                outcome = self._decide(tx, known, event, now, unread=True, settles=completes)
                if outcome is not None:
                    return outcome
        except _MovedOn:
            completes = None  # the write that found the row moved on settled the task
        if completes is not None and not tx.delete_task(execution_id, completes):
            return Outcome(execution_id, "", applied=False)
        record = tx.get_execution_by_id(execution_id, lock=True)
        if record is None or record.state is None:
            return Outcome(execution_id, record.status if record else "", applied=False)
        outcome = self._decide(tx, record, event, now, unread=False)
        assert outcome is not None, "a locked row cannot have moved on"
        return outcome

    def decide_ahead(
        self, known: ExecutionRecord | None, event: Event, now: datetime, *, completes: int | None = None
    ) -> Decided | None:
        """``apply``'s decision on ``known``, made before its transaction, outside the writer (on
        PostgreSQL the writer thread waits for the GIL where the event loop has it to spare, and a
        batch of such decisions goes out in one round trip: bench/README.md, twentieth round).
        None if it cannot be made there: nothing is known of the execution, its program is not
        compiled yet, or the event does not apply to it."""
        if known is None or known.state is None:
            return None
        program = self.programs.peek(known.definition_hash)
        if program is None:
            return None
        return self._decided(known, program, event, now, unread=True, settles=completes)

    def _decide(
        self,
        tx: Tx,
        record: ExecutionRecord,
        event: Event,
        now: datetime,
        *,
        unread: bool,
        settles: int | None = None,
    ) -> Outcome | None:
        """Decide ``event`` on ``record`` and store it (settling task ``settles`` with it). On a
        record not read in this transaction (``unread``): None, and nothing written, if the event
        does not apply to it; ``_MovedOn`` if the row has moved on since."""
        decided = self._decided(record, self._program(tx, record), event, now, unread=unread, settles=settles)
        if decided is None:
            return None if unread else Outcome(record.id, record.status, applied=False)
        return self._write(tx, decided)

    def _decided(
        self,
        record: ExecutionRecord,
        program: Program,
        event: Event,
        now: datetime,
        *,
        unread: bool,
        settles: int | None,
    ) -> Decided | None:
        """``event`` decided on ``record``, ready to be written; None if it does not apply."""
        state = ExecState.model_validate_json(record.state or "")
        decision = engine.decide(program, state, event, self._env(now, record.flow_name, record.id))
        if not decision.applied:
            return None
        return self._prepare(record, decision, now, unread=unread, settles=settles)

    def redrive(self, tx: Tx, execution_id: str, now: datetime) -> Outcome:
        """Continue a Failed or TimedOut execution from where it ended (``engine.redrive``): its state
        then is rebuilt by running the engine over its history again."""
        record = tx.get_execution_by_id(execution_id, lock=True)
        if record is None:
            raise NotFound("the execution no longer exists")
        if record.status not in ("Failed", "TimedOut"):
            raise Conflict(
                f"execution {record.name!r} is {record.status}: "
                "only a Failed or TimedOut execution can be redriven"
            )
        history = tx.history(record.id, limit=1_000_000).items
        program = self._program(tx, record)
        recorded = _recorded(history)
        try:
            rebuilt = rebuild.before_end(
                program,
                record.flow_name,
                record.name,
                json.loads(record.input),
                recorded,
                lambda at: self._env(at, record.flow_name, execution_id),
            )
        except (rebuild.HistoryMismatch, ValueError) as e:
            raise Conflict(f"execution {record.name!r} cannot be redriven: {e}") from None
        ended_by = rebuilt.ended_by
        cause = ended_by
        if cause is not None and cause.type == "TaskStarted":
            cause = next(
                (
                    e
                    for e in recorded
                    if e.schedule_event_id == cause.schedule_event_id and e.type != "TaskStarted"
                ),
                cause,
            )
        if cause is None or cause.type == "TaskSucceeded":
            raise Conflict(
                f"execution {record.name!r} cannot be redriven: it ended at a fail step or on a data error "
                "after its last task succeeded, and would end the same way"
            )
        redriven = sum(1 for e in recorded if e.type == "ExecutionRedriven") + 1
        detail: dict[str, Any] = {"redriveCount": redriven, "previousStatus": record.status}
        if ended_by is not None:
            detail["fromEvent"] = ended_by.event_id
            if ended_by.step:
                detail["fromStep"] = ended_by.step
        decision = engine.redrive(
            program,
            rebuilt.state,
            self._env(now, record.flow_name, execution_id),
            next_event=recorded[-1].event_id + 1,
            timers_at=rebuilt.timers_at,
            detail=detail,
        )
        return self._write(tx, self._prepare(record, decision, now))

    def reset(
        self,
        tx: Tx,
        execution_id: str,
        step: str,
        now: datetime,
        *,
        name: str | None = None,
        input: dict[str, Any] | None = None,
    ) -> Outcome:
        """Start a new execution of the same pinned definition from task step ``step`` of this one,
        with the state it had there (as Temporal's reset does): its history up to there is copied,
        an ``ExecutionReset`` event says where it came from, and the step runs again. ``input``
        is merged over the ``$input`` of the steps around ``step``. The original is left as it is."""
        record = tx.get_execution_by_id(execution_id)
        if record is None:
            raise NotFound("the execution no longer exists")
        program = self._program(tx, record)
        found = [s for sequence in program.sequences.values() for s in sequence.steps if s.name == step]
        if not found:
            raise InvalidArgument(f"flow {record.flow_name!r} has no step {step!r}")
        if not isinstance(found[0], TaskStep):
            raise InvalidArgument(
                f"step {step!r} is a {found[0].type} step: an execution is reset to a task step"
            )
        history = tx.history(record.id, limit=1_000_000).items
        recorded = _recorded(history)
        try:
            rebuilt, upto = rebuild.at_step(
                program,
                record.flow_name,
                record.name,
                json.loads(record.input),
                recorded,
                lambda at: self._env(at, record.flow_name, execution_id),
                step,
            )
        except rebuild.HistoryMismatch as e:
            raise Conflict(f"execution {record.name!r} cannot be reset: {e}") from None
        except ValueError as e:
            raise InvalidArgument(f"execution {record.name!r} cannot be reset: {e}") from None
        new_id = self.ids.uuid()
        new_name = name or f"{record.name}-reset-{new_id[:8]}"
        if tx.get_execution(record.flow_name, new_name) is not None:
            raise ExecutionAlreadyExists(
                f"execution {new_name!r} of flow {record.flow_name!r} already exists"
            )
        state = rebuilt.state
        state.execution_name = new_name
        if input:
            for frame in list(state.frames.values()):
                if isinstance(frame, TaskFrame) and program.step(frame.seq, frame.index).name == step:
                    around = state.frames[frame.parent]
                    assert isinstance(around, SeqFrame)
                    around.input = {**around.input, **input}
        copied = ExecutionRecord(
            id=new_id,
            flow_name=record.flow_name,
            name=new_name,
            status="Running",
            definition_hash=record.definition_hash,
            input=record.input,
            started_at=now,
        )
        tx.insert_execution(copied)
        tx.append_history(new_id, list(history[:upto]))
        detail: dict[str, Any] = {
            "resetFrom": {"flowName": record.flow_name, "name": record.name},
            "toStep": step,
            "fromEvent": recorded[upto - 1].event_id if upto else 0,
        }
        if input:
            detail["input"] = input
        decision = engine.redrive(
            program,
            state,
            self._env(now, record.flow_name, new_id),
            next_event=recorded[upto - 1].event_id + 1 if upto else 1,
            timers_at=rebuilt.timers_at,
            detail=detail,
            event="ExecutionReset",
            fresh=True,
        )
        outcome = self._write(tx, self._prepare(copied, decision, now))
        outcome.execution = tx.get_execution_by_id(new_id)
        return outcome

    def _program(self, tx: Tx, record: ExecutionRecord) -> Program:
        """The compiled definition an execution runs (read from the store the first time)."""
        digest = record.definition_hash
        return self.programs.get(digest, lambda: tx.get_definition(digest) or "")

    def _prepare(
        self,
        record: ExecutionRecord,
        decision: Decision,
        now: datetime,
        *,
        new: bool = False,
        unread: bool = False,
        settles: int | None = None,
        flow: tuple[str, str, int] | None = None,
    ) -> Decided:
        """What a decision writes as one unit (``Tx.write_decision``), made without the
        transaction (see ``decide_ahead``): the execution's new state, its events, its tasks and
        timers, the task it ``settles``. A ``new`` execution is inserted as the decision leaves it.
        A decision on a record not read in the transaction it is written in (``unread``) is
        written only if the row still has its version. A new execution decided on a ``flow``
        (name, id, revision) read before that transaction is written only while the flow is
        still that one."""
        state = decision.state
        finished = state.status.finished
        decided = replace(
            record,
            status=state.status.value,
            state=None if finished else state.model_dump_json(),
            output=dumps(state.output) if state.output is not None else None,
            error=state.error,
            cause=state.cause,
            stopped_at=now if finished else None,
        )
        outcome = Outcome(record.id, state.status.value, flow_name=record.flow_name)
        owner: str | None = None
        lease_until: datetime | None = None
        if self.take_tasks():
            owner, lease_until = self.node_id, now + timedelta(seconds=self.lease_seconds)
        commands = decision.commands
        # Work started and cancelled within this one decision (a sibling branch failed) is never stored.
        cancelled_tasks = [c for c in commands if isinstance(c, engine.CancelTask)]
        cancelled_activities = {c.activity for c in cancelled_tasks}
        cancelled_timers = [c.timer for c in commands if isinstance(c, engine.CancelTimer)]
        for command in commands:
            if isinstance(command, engine.ScheduleTask) and command.activity not in cancelled_activities:
                payload = task_payload(record.flow_name, state.execution_name, command)
                outcome.tasks.append(
                    TaskRecord(
                        record.id,
                        command.activity,
                        self.integrations.of(command.resource_arn).kind,
                        dumps(payload),
                        now,
                        owner,
                        lease_until,
                    )
                )
            elif isinstance(command, engine.StartTimer) and command.timer not in cancelled_timers:
                outcome.timers.append(TimerRecord(record.id, command.timer, command.fire_at))
        write = DecisionWrite(
            decided,
            new=new,
            flow=flow,
            version=record.version if unread else None,
            settles=settles,
            history=[
                HistoryRecord(e.event_id, e.type, e.step, e.time, dumps(e.detail), e.schedule_event_id)
                for e in decision.events
            ],
            tasks=outcome.tasks,
            timers=outcome.timers,
            cancelled_tasks=sorted(cancelled_activities),
            cancelled_timers=cancelled_timers,
        )
        if finished:
            write.notices.append((FINISHED, record.id))
        if outcome.tasks and owner is None:
            write.notices.append((TASKS, ""))
        return Decided(record, decision, write, outcome, cancelled_tasks, now)

    def _write(self, tx: Tx, prepared: Decided) -> Outcome:
        """Write what ``_prepare`` made; the outcome. Settling a task that is gone writes nothing:
        the result was stale (not applied). ``_MovedOn`` if an ``unread`` record's row has moved
        on, ``_FlowChanged`` if the flow has (nothing written, bar the settled task)."""
        record, decision, write, now = prepared.record, prepared.decision, prepared.write, prepared.now
        decided, new, unread = write.execution, write.new, write.version is not None
        state = decision.state
        finished = state.status.finished
        # a fresh outcome each time: a batch that lost a race is written again
        outcome = replace(prepared.outcome, after=[], nested=[])
        written = tx.write_decision(write)
        if not written.settled:
            return Outcome(record.id, "", applied=False)
        if not written.current:
            raise _FlowChanged
        if new and not written.stored:
            raise Conflict(f"execution {record.name!r} of flow {record.flow_name!r} already exists")
        if unread and not written.stored:
            raise _MovedOn  # only a row not read here can have moved on
        if new:
            outcome.execution = decided
        if decision.events:
            outcome.first_event = decision.events[0].event_id
        written_row = decided if new else replace(decided, version=record.version + 1)
        if finished:
            outcome.ended = written_row
            if record.callback_token is not None or state.status in (Status.STOPPED, Status.TIMED_OUT):
                self._ended(tx, decided, outcome, now)
        else:
            outcome.running = written_row
        outcome.cancelled_timers = [(record.id, timer) for timer in write.cancelled_timers]
        for command in prepared.cancelled_tasks:
            integration = self.integrations.of(command.resource_arn)
            if (after := integration.cancel(tx, record.id, command.activity, now)) is not None:
                outcome.after.append(after)
        return outcome

    def _ended(self, tx: Tx, record: ExecutionRecord, outcome: Outcome, now: datetime) -> None:
        """An execution just ended: settle the task that waits for its end, stop its children."""
        ended = record
        if ended.callback_token is not None:
            ref = self.tokens.parse(ended.callback_token)
            tx.delete_task(ref.execution_id, ref.activity)  # the end settles the attempt, as a report does
            reported = self.apply(tx, ref.execution_id, end_event(ended, ref.activity), now)
            if reported.applied:
                outcome.nested.append(reported)
        if ended.status in ("Stopped", "TimedOut"):
            why = f"its parent execution {ended.name!r} of flow {ended.flow_name!r} ended {ended.status}"
            outcome.nested += self.stop_children(tx, ended.id, now, cause=why)

    def stop_children(
        self, tx: Tx, parent_id: str, now: datetime, *, activity: int | None = None, cause: str
    ) -> list[Outcome]:
        """Stop the running children of an execution (only the one a task attempt started, if given)."""
        stopped = []
        for child in tx.children(parent_id, running=True, activity=activity):
            outcome = self.apply(tx, child.id, StopRequested("", cause), now)
            if outcome.applied:
                stopped.append(outcome)
        return stopped


def _recorded(history: list[HistoryRecord]) -> list[rebuild.Recorded]:
    """An execution's stored history as the engine's rebuild reads it."""
    return [
        rebuild.Recorded(e.event_id, e.type, e.step, e.time, json.loads(e.detail), e.schedule_event_id)
        for e in history
    ]
