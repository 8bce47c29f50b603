"""The FDL interpreter: ``start`` and ``decide`` are pure functions of (program, state, event, env).

One call advances an execution as far as it can go without waiting: it runs pass, choice and
succeed steps, enters branches and iterations, and stops where a task, a wait or a timer is
outstanding. It returns the new state, the history events to append and the commands (tasks
to run, timers to set or cancel) — the runtime commits all three in one transaction.

Data rules (spec/fdl.md §1.3): a step's input is built from its parent's ``$input`` and
``$local`` by ``inputMappings`` (default: input merged with local); its output is built from
its own ``$input`` and ``$local`` by ``outputMappings`` (default: ``$local``, but empty for
parallel and foreach) and merged into the parent's local.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

from fnflow.engine.program import Program, child_id
from fnflow.engine.state import (
    AnyStepFrame,
    ChoiceFrame,
    ExecState,
    ForeachFrame,
    JsonObject,
    ParallelFrame,
    SeqFrame,
    Status,
    TaskFrame,
    WaitFrame,
)
from fnflow.engine.types import (
    CancelTask,
    CancelTimer,
    Command,
    Decision,
    Env,
    Event,
    HistoryEvent,
    ScheduleTask,
    StartTimer,
    StopRequested,
    TaskFailed,
    TaskSubmitted,
    TaskSucceeded,
    TimerFired,
)
from fnflow.fdl.expr import Path
from fnflow.fdl.model import (
    MAX_WAIT_SECONDS,
    ChoiceStep,
    FailStep,
    ForeachStep,
    Mapping,
    ParallelStep,
    PassStep,
    StepModel,
    SucceedStep,
    TaskStep,
    WaitStep,
)
from fnflow.fdl.timestamps import parse_timestamp

RUNTIME_ERROR = "FnF.RuntimeError"
TASK_TIMEOUT = "FnF.TaskTimeout"
FLOW_TIMEOUT = "FnF.Timeout"
_END = "\x00end"  # jump marker: the enclosing sequence ends after this step
_FLOW_TIMER_FRAME = 0


def start(
    program: Program,
    flow_name: str,
    execution_name: str,
    input: JsonObject,
    env: Env,
    started_by: JsonObject | None = None,
) -> Decision:
    """Begin an execution and run it up to its first wait; ``started_by`` (the parent execution of a
    child) goes into the ExecutionStarted event."""
    state = ExecState(flow_name=flow_name, execution_name=execution_name, input=input)
    return _Run(program, state, env).run(lambda run: run.begin(started_by))


def decide(program: Program, state: ExecState, event: Event, env: Env) -> Decision:
    """Apply one event to an execution and run it up to its next wait.

    ``state`` is advanced in place and returned in the decision (the runtime loads a fresh
    one per event, so copying it here would be wasted work); keep a copy if you need the old one.
    """
    if state.status.finished:
        return Decision(state, [], [], applied=False)
    run = _Run(program, state, env)
    if isinstance(event, TaskSucceeded):
        return run.run(lambda r: r.on_task_succeeded(event))
    if isinstance(event, TaskFailed):
        return run.run(lambda r: r.on_task_failed(event))
    if isinstance(event, TaskSubmitted):
        return run.run(lambda r: r.on_task_submitted(event))
    if isinstance(event, TimerFired):
        return run.run(lambda r: r.on_timer_fired(event))
    if isinstance(event, StopRequested):
        return run.run(lambda r: r.on_stop(event))
    raise TypeError(f"unknown engine event {event!r}")


def redrive(
    program: Program,
    state: ExecState,
    env: Env,
    *,
    next_event: int,
    timers_at: dict[int, datetime],
    detail: JsonObject,
    event: str = "ExecutionRedriven",
    fresh: bool = False,
) -> Decision:
    """Continue an execution that failed or timed out, from ``state`` — the state it had just before
    the decision that ended it (see ``rebuild``) — as Step Functions' RedriveExecution does.

    Its history goes on at ``next_event`` with an ``ExecutionRedriven`` event (``detail``). Every task
    attempt that was outstanding runs again (a new attempt, a new token); the timers the end cancelled
    are armed again for when they were due (``timers_at``; at once if that has passed), but the flow's
    own timeout, which starts over.

    A reset (``event="ExecutionReset"``, ``fresh``) is the same from a state rebuilt at an earlier
    step, in a new execution: there the outstanding tasks start over at their first attempt.
    """
    if state.status.finished:
        raise ValueError("only the state of a running execution can be redriven")
    state.next_event = max(state.next_event, next_event)
    return _Run(program, state, env).run(lambda run: run.on_redrive(timers_at, detail, event, fresh))


class _Ended(Exception):
    """The execution reached a final status; unwinds the interpreter."""


class _Stale(Exception):
    """The event refers to something no longer outstanding."""


@dataclass
class _Completed:
    """A step that finished: its input, its ``$local``, where to go next."""

    input: JsonObject
    local: Any
    jump: str | None
    entered: int
    output: JsonObject | None = None  # precomputed output (a caught error's errorMappings)
    detail: JsonObject = field(default_factory=dict)
    retry_count: int = 0  # $context.step.retryCount for the outputMappings of a task


class _Run:
    def __init__(self, program: Program, state: ExecState, env: Env) -> None:
        self.program = program
        self.state = state
        self.env = env
        self.events: list[HistoryEvent] = []
        self.commands: list[Command] = []
        self.steps_run = 0

    def run(self, action: Any) -> Decision:
        try:
            action(self)
        except _Ended:
            pass
        except _Stale:
            return Decision(self.state, [], [], applied=False)
        return Decision(self.state, self.events, self.commands)

    # --- bookkeeping -------------------------------------------------------------------------------

    def _new_id(self) -> int:
        self.state.next_id += 1
        return self.state.next_id - 1

    def _emit(self, type_: str, step: str = "", detail: JsonObject | None = None, schedule: int = 0) -> int:
        event_id = self.state.next_event
        self.state.next_event += 1
        self.events.append(HistoryEvent(event_id, type_, self.env.now, step, detail or {}, schedule))
        return event_id

    def _start_timer(self, frame_id: int, seconds: float) -> int:
        timer = self._new_id()
        self.state.timers[timer] = frame_id
        self.commands.append(StartTimer(timer, self.env.now + timedelta(seconds=seconds)))
        return timer

    def _cancel_timer(self, timer: int | None) -> None:
        if timer is not None and self.state.timers.pop(timer, None) is not None:
            self.commands.append(CancelTimer(timer))

    def _size(self, value: Any) -> int:
        """Bytes of ``value`` as compact UTF-8 JSON. Raises ValueError when it is no JSON text at all:
        NaN or Infinity, or a lone surrogate (``json.loads('"\\ud800"')``) that UTF-8 cannot hold."""
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())

    def _data_problem(self, what: str, value: Any) -> str | None:
        """Why ``value`` cannot be kept in the execution (not JSON text, or too big), or None."""
        try:
            size = self._size(value)
        except ValueError as e:
            return f"{what} is not valid JSON text ({e})"
        if size > self.env.max_data_bytes:
            return f"{what} is {size} bytes, over the limit of {self.env.max_data_bytes} bytes"
        return None

    def _check_size(self, step: str, what: str, value: Any) -> None:
        problem = self._data_problem(f"the {what} of step {step!r}", value)
        if problem is not None:
            self._fail_step(step, RUNTIME_ERROR, problem)

    def _context(self, step: str, retry_count: int = 0, token: str | None = None) -> JsonObject:
        context: JsonObject = {
            "execution": {"name": self.state.execution_name, "input": self.state.input},
            "flow": {"name": self.state.flow_name},
            "step": {"name": step, "retryCount": retry_count},
        }
        if token is not None:
            context["task"] = {"token": token}
        return context

    @staticmethod
    def _map(mappings: list[Mapping], scope: JsonObject) -> JsonObject:
        return {m.target: m.compiled.evaluate(scope) for m in mappings}

    def _step_input(self, sf: SeqFrame, step: StepModel, context: JsonObject) -> JsonObject:
        if step.inputMappings:
            value = self._map(step.inputMappings, {"input": sf.input, "local": sf.local, "context": context})
        else:
            value = {**sf.input, **sf.local}
        self._check_size(step.name, "input", value)
        return value

    # --- ending ------------------------------------------------------------------------------------

    def _finish(self, status: Status, event: str, detail: JsonObject) -> NoReturn:
        state = self.state
        state.status = status
        self._emit(event, detail=detail)
        for activity, frame_id in state.activities.items():
            frame = state.frames[frame_id]
            step = self.program.step(frame.seq, frame.index)
            assert isinstance(step, TaskStep)
            self.commands.append(CancelTask(activity, step.resourceArn))
        for timer in state.timers:
            self.commands.append(CancelTimer(timer))
        state.activities.clear()
        state.timers.clear()
        state.frames.clear()
        raise _Ended

    def _fail(self, error: str, cause: str) -> NoReturn:
        self.state.error, self.state.cause = error, cause
        self._finish(Status.FAILED, "ExecutionFailed", {"error": error, "cause": cause})

    def _fail_step(self, step: str, error: str, cause: str, schedule: int = 0) -> NoReturn:
        self._emit("StepFailed", step, {"error": error, "cause": cause}, schedule)
        self._fail(error, cause)

    def _succeed(self, flow_input: JsonObject, local: JsonObject) -> NoReturn:
        flow = self.program.flow
        output = local
        if flow.outputMappings:
            output = self._map(
                flow.outputMappings, {"input": flow_input, "local": local, "context": self._context("")}
            )
        problem = self._data_problem("the flow output", output)
        if problem is not None:
            self._fail(RUNTIME_ERROR, problem)
        self.state.output = output
        self._finish(Status.SUCCEEDED, "ExecutionSucceeded", {"output": output})

    # --- sequences ---------------------------------------------------------------------------------

    def begin(self, started_by: JsonObject | None) -> None:
        state, flow = self.state, self.program.flow
        detail = {"input": state.input, **({"startedBy": started_by} if started_by else {})}
        started = self._emit("ExecutionStarted", detail=detail)
        if flow.timeoutSeconds:
            self._start_timer(_FLOW_TIMER_FRAME, flow.timeoutSeconds)
        flow_input = state.input
        if flow.inputMappings:
            flow_input = self._map(flow.inputMappings, {"input": state.input, "context": self._context("")})
        root = self._new_id()
        state.frames[root] = SeqFrame(parent=None, seq="", input=flow_input, entered_event=started)
        self._resume_seq(root)

    def _resume_seq(self, sf_id: int) -> None:
        local = self._run_seq(sf_id)
        if local is not None:
            self._seq_done(sf_id, local)

    def _run_seq(self, sf_id: int) -> JsonObject | None:
        """Run steps until one blocks (None) or the sequence ends (its local)."""
        sf = self.state.frames[sf_id]
        assert isinstance(sf, SeqFrame)
        steps = self.program.seq(sf.seq).steps
        while sf.index < len(steps):
            step = steps[sf.index]
            completed = self._enter_step(sf_id, sf, step)
            if completed is None:
                return None
            self._finish_step(sf, step, completed)
        return sf.local

    def _finish_step(self, sf: SeqFrame, step: StepModel, done: _Completed) -> None:
        output = done.output
        if output is None:
            if step.outputMappings:
                context = self._context(step.name, done.retry_count)
                scope = {"input": done.input, "local": done.local, "context": context}
                output = self._map(step.outputMappings, scope)
            elif isinstance(step, ParallelStep | ForeachStep):
                output = {}
            else:
                output = done.local
            self._check_size(step.name, "output", output)
        self._emit("StepExited", step.name, {"output": output, **done.detail}, done.entered)
        sf.local = {**sf.local, **output}
        sf.current = None
        seq = self.program.seq(sf.seq)
        if done.jump == _END or (done.jump is None and getattr(step, "end", False)):
            sf.index = len(seq.steps)
        elif done.jump is not None:
            sf.index = seq.position(done.jump)
        else:
            sf.index += 1

    def _seq_done(self, sf_id: int, local: JsonObject) -> None:
        """A sequence that was waiting has ended: hand its local to the step that runs it."""
        state = self.state
        sf = state.frames.pop(sf_id)
        assert isinstance(sf, SeqFrame)
        if sf.parent is None:
            self._succeed(sf.input, local)
            return
        parent_id = sf.parent
        parent = state.frames[parent_id]
        if isinstance(parent, ChoiceFrame):
            self._step_done(parent_id, _Completed(parent.input, local, parent.goto, parent.entered_event))
        elif isinstance(parent, ParallelFrame):
            self._branch_done(parent, sf.slot, local)
            if all(c is None for c in parent.children):
                self._step_done(
                    parent_id, _Completed(parent.input, parent.results, None, parent.entered_event)
                )
        elif isinstance(parent, ForeachFrame):
            del parent.running[sf.slot]
            self._iteration_done(parent, sf.slot, local)
            if self._foreach_fill(parent_id, parent):
                self._step_done(
                    parent_id, _Completed(parent.input, parent.results, None, parent.entered_event)
                )
        else:  # pragma: no cover - frames are built only by this module
            raise AssertionError(f"sequence frame under a {parent.kind} frame")

    def _step_done(self, frame_id: int, done: _Completed) -> None:
        """A step that was waiting has finished: continue its sequence."""
        frame = self.state.frames.pop(frame_id)
        assert not isinstance(frame, SeqFrame)
        sf = self.state.frames[frame.parent]
        assert isinstance(sf, SeqFrame)
        self._finish_step(sf, self.program.step(frame.seq, frame.index), done)
        self._resume_seq(frame.parent)

    def _block(self, sf: SeqFrame, frame: AnyStepFrame) -> None:
        frame_id = self._new_id()
        self.state.frames[frame_id] = frame
        sf.current = frame_id

    # --- entering steps ----------------------------------------------------------------------------

    def _enter_step(self, sf_id: int, sf: SeqFrame, step: StepModel) -> _Completed | None:
        self.steps_run += 1
        if self.steps_run > self.env.max_steps_per_decision:
            self._fail(
                RUNTIME_ERROR,
                f"more than {self.env.max_steps_per_decision} steps ran without waiting; "
                f"does a goto loop lack a wait or task step? (at step {step.name!r})",
            )
        if self.state.next_event > self.env.max_events:
            self._fail(
                RUNTIME_ERROR,
                f"the execution history exceeds {self.env.max_events} events "
                f"(at step {step.name!r}); split the work into child flows",
            )
        if isinstance(step, TaskStep):
            self._enter_task(sf_id, sf, step)
            return None
        if isinstance(step, PassStep | SucceedStep):
            value = self._step_input(sf, step, self._context(step.name))
            entered = self._emit("StepEntered", step.name, {"input": value})
            return _Completed(value, {}, _END if isinstance(step, SucceedStep) else None, entered)
        if isinstance(step, FailStep):
            value = self._step_input(sf, step, self._context(step.name))
            entered = self._emit("StepEntered", step.name, {"input": value})
            self._fail_step(step.name, step.error or "", step.cause or "", entered)
        if isinstance(step, WaitStep):
            return self._enter_wait(sf_id, sf, step)
        if isinstance(step, ChoiceStep):
            return self._enter_choice(sf_id, sf, step)
        if isinstance(step, ParallelStep):
            return self._enter_parallel(sf_id, sf, step)
        if isinstance(step, ForeachStep):
            return self._enter_foreach(sf_id, sf, step)
        raise AssertionError(f"unknown step type {step!r}")  # pragma: no cover

    def _enter_wait(self, sf_id: int, sf: SeqFrame, step: WaitStep) -> _Completed | None:
        value = self._step_input(sf, step, self._context(step.name))
        entered = self._emit("StepEntered", step.name, {"input": value})
        seconds = self._wait_seconds(step, value, entered)
        if seconds <= 0:
            return _Completed(value, {}, None, entered)
        frame = WaitFrame(
            parent=sf_id, seq=sf.seq, index=sf.index, input=value, entered_event=entered, timer=0
        )
        self._block(sf, frame)
        assert sf.current is not None
        frame.timer = self._start_timer(sf.current, seconds)
        return None

    def _wait_seconds(self, step: WaitStep, value: JsonObject, entered: int) -> float:
        scope = {"input": value}
        if step.duration is not None:
            duration = step.duration.evaluate(scope) if isinstance(step.duration, Path) else step.duration
            if isinstance(duration, str):
                with contextlib.suppress(ValueError):
                    duration = float(duration)
            if (
                not isinstance(duration, int | float)
                or isinstance(duration, bool)
                or not 0 <= duration <= MAX_WAIT_SECONDS
            ):
                self._fail_step(
                    step.name,
                    RUNTIME_ERROR,
                    f"wait duration {step.duration} is {duration!r}; expected "
                    f"a number of seconds between 0 and {MAX_WAIT_SECONDS}",
                    entered,
                )
            return float(duration)
        stamp = step.timestamp.evaluate(scope) if isinstance(step.timestamp, Path) else step.timestamp
        try:
            fire_at = parse_timestamp(stamp) if isinstance(stamp, str) else None
        except ValueError:
            fire_at = None
        if fire_at is None:
            self._fail_step(
                step.name,
                RUNTIME_ERROR,
                f"wait timestamp {step.timestamp} is {stamp!r}; expected an "
                "RFC 3339 timestamp such as 2019-05-02T15:04:05Z",
                entered,
            )
        assert fire_at is not None
        seconds = (fire_at - self.env.now).total_seconds()
        if seconds > MAX_WAIT_SECONDS:
            self._fail_step(
                step.name, RUNTIME_ERROR, f"wait timestamp {stamp} is more than two days away", entered
            )
        return seconds

    def _enter_choice(self, sf_id: int, sf: SeqFrame, step: ChoiceStep) -> _Completed | None:
        value = self._step_input(sf, step, self._context(step.name))
        entered = self._emit("StepEntered", step.name, {"input": value})
        chosen: tuple[str, Any] | None = None
        for k, rule in enumerate(step.choices):
            if rule.condition.evaluate(value):
                chosen = (f"c{k}", rule)
                break
        if chosen is None and step.default is not None:
            chosen = ("d", step.default)
        if chosen is None:
            return _Completed(value, {}, None, entered)
        part, branch = chosen
        if not branch.steps:
            return _Completed(value, {}, branch.goto, entered)
        frame = ChoiceFrame(
            parent=sf_id,
            seq=sf.seq,
            index=sf.index,
            input=value,
            entered_event=entered,
            child=0,
            goto=branch.goto,
        )
        self._block(sf, frame)
        assert sf.current is not None
        frame.child = self._new_seq(sf.current, child_id(sf.seq, sf.index, part), value, 0, entered)
        local = self._run_seq(frame.child)
        if local is None:
            return None
        del self.state.frames[frame.child], self.state.frames[sf.current]
        return _Completed(value, local, branch.goto, entered)

    def _new_seq(self, parent: int, seq: str, value: JsonObject, slot: int, entered: int) -> int:
        sf_id = self._new_id()
        self.state.frames[sf_id] = SeqFrame(
            parent=parent, slot=slot, seq=seq, input=value, entered_event=entered
        )
        return sf_id

    def _enter_parallel(self, sf_id: int, sf: SeqFrame, step: ParallelStep) -> _Completed | None:
        value = self._step_input(sf, step, self._context(step.name))
        entered = self._emit("StepEntered", step.name, {"input": value})
        n = len(step.branches)
        frame = ParallelFrame(
            parent=sf_id,
            seq=sf.seq,
            index=sf.index,
            input=value,
            entered_event=entered,
            children=[None] * n,
            results=[None] * n,
        )
        self._block(sf, frame)
        frame_id = sf.current
        assert frame_id is not None
        for k in range(n):
            branch_entered = self._emit("BranchEntered", step.name, {"index": k}, entered)
            child = self._new_seq(frame_id, child_id(sf.seq, sf.index, f"b{k}"), value, k, branch_entered)
            frame.children[k] = child
            local = self._run_seq(child)
            if local is not None:
                del self.state.frames[child]
                self._branch_done(frame, k, local)
        if any(c is not None for c in frame.children):
            return None
        del self.state.frames[frame_id]
        return _Completed(value, frame.results, None, entered)

    def _branch_done(self, frame: ParallelFrame, k: int, local: JsonObject) -> None:
        frame.children[k] = None
        frame.results[k] = local
        step = self.program.step(frame.seq, frame.index)
        self._emit("BranchExited", step.name, {"index": k, "output": local}, frame.entered_event)

    def _enter_foreach(self, sf_id: int, sf: SeqFrame, step: ForeachStep) -> _Completed | None:
        value = self._step_input(sf, step, self._context(step.name))
        entered = self._emit("StepEntered", step.name, {"input": value})
        items = step.iterationMapping.collection.evaluate({"input": value})
        if not isinstance(items, list):
            self._fail_step(
                step.name,
                RUNTIME_ERROR,
                f"iterationMapping.collection {step.iterationMapping.collection}"
                f" is {json.dumps(items)[:100]}, not an array",
                entered,
            )
        frame = ForeachFrame(
            parent=sf_id,
            seq=sf.seq,
            index=sf.index,
            input=value,
            entered_event=entered,
            items=items,
            results=[None] * len(items),
        )
        self._block(sf, frame)
        frame_id = sf.current
        assert frame_id is not None
        if not self._foreach_fill(frame_id, frame):
            return None
        del self.state.frames[frame_id]
        return _Completed(value, frame.results, None, entered)

    def _foreach_fill(self, frame_id: int, frame: ForeachFrame) -> bool:
        """Start iterations up to maxConcurrency; True when every iteration has finished."""
        step = self.program.step(frame.seq, frame.index)
        assert isinstance(step, ForeachStep)
        mapping = step.iterationMapping
        while frame.next < len(frame.items) and len(frame.running) < step.maxConcurrency:
            i = frame.next
            frame.next += 1
            value = {**frame.input, mapping.item: frame.items[i]}
            if mapping.index:
                value[mapping.index] = i
            entered = self._emit("IterationEntered", step.name, {"index": i}, frame.entered_event)
            child = self._new_seq(frame_id, child_id(frame.seq, frame.index, "e"), value, i, entered)
            frame.running[i] = child
            local = self._run_seq(child)
            if local is not None:
                del self.state.frames[child], frame.running[i]
                self._iteration_done(frame, i, local)
        return frame.next >= len(frame.items) and not frame.running

    def _iteration_done(self, frame: ForeachFrame, i: int, local: JsonObject) -> None:
        frame.results[i] = local
        step = self.program.step(frame.seq, frame.index)
        self._emit("IterationExited", step.name, {"index": i, "output": local}, frame.entered_event)

    # --- tasks -------------------------------------------------------------------------------------

    def _enter_task(self, sf_id: int, sf: SeqFrame, step: TaskStep) -> None:
        frame = TaskFrame(
            parent=sf_id, seq=sf.seq, index=sf.index, input={}, entered_event=0, retries=[0] * len(step.retry)
        )
        # The first attempt's id is the event right after StepEntered; its token goes into the input.
        frame.input = self._attempt_input(sf, step, frame, self.state.next_event + 1)
        frame.entered_event = self._emit("StepEntered", step.name, {"input": frame.input})
        self._block(sf, frame)
        assert sf.current is not None
        self._schedule_attempt(sf.current, frame, step, sf)

    def _attempt_input(self, sf: SeqFrame, step: TaskStep, frame: TaskFrame, activity: int) -> JsonObject:
        context = self._context(step.name, sum(frame.retries), self.env.token(activity))
        return self._step_input(sf, step, context)

    def _schedule_attempt(
        self, frame_id: int, frame: TaskFrame, step: TaskStep, sf: SeqFrame | None = None, fresh: bool = False
    ) -> None:
        activity = self.state.next_event
        if frame.attempt > 0 or fresh:  # a retry (or a reset): the token, and so the input, is new
            parent = sf or self.state.frames[frame.parent]
            assert isinstance(parent, SeqFrame)
            frame.input = self._attempt_input(parent, step, frame, activity)
        frame.attempt += 1
        params = {k: v.evaluate({"input": frame.input}) for k, v in step.serviceParams.items()}
        detail = {
            "resourceArn": step.resourceArn,
            "pattern": step.pattern,
            "attempt": frame.attempt,
            "input": frame.input,
        }
        if params:
            detail["serviceParams"] = params
        scheduled = self._emit("TaskScheduled", step.name, detail, frame.entered_event)
        assert scheduled == activity
        frame.activity = activity
        self.state.activities[activity] = frame_id
        frame.timer = self._start_timer(frame_id, step.timeoutSeconds) if step.timeoutSeconds else None
        self.commands.append(
            ScheduleTask(
                activity,
                step.name,
                step.resourceArn,
                step.pattern,
                frame.input,
                params,
                step.timeoutSeconds,
                self.env.token(activity),
                frame.attempt,
            )
        )

    def _task_frame(self, activity: int) -> tuple[int, TaskFrame, TaskStep]:
        frame_id = self.state.activities.get(activity)
        if frame_id is None:
            raise _Stale
        frame = self.state.frames[frame_id]
        assert isinstance(frame, TaskFrame)
        step = self.program.step(frame.seq, frame.index)
        assert isinstance(step, TaskStep)
        return frame_id, frame, step

    def _end_attempt(self, frame: TaskFrame, step: TaskStep, started_at: datetime | None) -> int:
        activity = frame.activity
        assert activity is not None
        self._task_started(step, activity, started_at)
        del self.state.activities[activity]
        frame.activity = None
        self._cancel_timer(frame.timer)
        frame.timer = None
        return activity

    def on_task_succeeded(self, event: TaskSucceeded) -> None:
        frame_id, frame, step = self._task_frame(event.activity)
        activity = self._end_attempt(frame, step, event.started_at)
        output = event.output
        problem = None
        if not isinstance(output, dict):
            problem = f"the task output must be a JSON object, got {json.dumps(output)[:200]}"
        else:
            problem = self._data_problem("the task output", output)
        if problem is not None:
            failed = {"error": RUNTIME_ERROR, "cause": problem, **event.detail}
            self._emit("TaskFailed", step.name, failed, activity)
            self._task_error(frame_id, frame, step, RUNTIME_ERROR, problem)
            return
        self._emit("TaskSucceeded", step.name, {"output": output, **event.detail}, activity)
        done = _Completed(frame.input, output, None, frame.entered_event, retry_count=sum(frame.retries))
        self._step_done(frame_id, done)

    def on_task_failed(self, event: TaskFailed) -> None:
        frame_id, frame, step = self._task_frame(event.activity)
        activity = self._end_attempt(frame, step, event.started_at)
        detail = {"error": event.error, "cause": event.cause, **event.detail}
        self._emit("TaskFailed", step.name, detail, activity)
        self._task_error(frame_id, frame, step, event.error, event.cause)

    def on_task_submitted(self, event: TaskSubmitted) -> None:
        _, _, step = self._task_frame(event.activity)
        self._task_started(step, event.activity, event.started_at)
        self._emit("TaskSubmitted", step.name, dict(event.detail), event.activity)

    def _task_started(self, step: TaskStep, activity: int, started_at: datetime | None) -> None:
        """Record when a worker picked the attempt up, with that time rather than now."""
        if started_at is not None:
            self.events.append(
                HistoryEvent(self.state.next_event, "TaskStarted", started_at, step.name, {}, activity)
            )
            self.state.next_event += 1

    def _task_error(self, frame_id: int, frame: TaskFrame, step: TaskStep, error: str, cause: str) -> None:
        policy_index = step.retry_policy(error)
        if policy_index is not None and frame.retries[policy_index] < step.retry[policy_index].maxAttempts:
            frame.retries[policy_index] += 1
            delay = step.retry[policy_index].delay(frame.retries[policy_index])
            if delay > 0:
                frame.timer = self._start_timer(frame_id, delay)
            else:
                self._schedule_attempt(frame_id, frame, step)
            return
        catch = step.catch_policy(error)
        if catch is None:
            self._fail_step(step.name, error, cause, frame.entered_event)
            return
        local = {"error": error, "cause": cause}
        output: JsonObject = {}
        if step.errorMappings:
            scope = {
                "input": frame.input,
                "local": local,
                "context": self._context(step.name, sum(frame.retries)),
            }
            output = self._map(step.errorMappings, scope)
        detail = {**local, "retryCount": sum(frame.retries), "goto": catch.goto}
        self._step_done(
            frame_id, _Completed(frame.input, local, catch.goto, frame.entered_event, output, detail)
        )

    # --- timers and stop ---------------------------------------------------------------------------

    def on_timer_fired(self, event: TimerFired) -> None:
        frame_id = self.state.timers.pop(event.timer, None)
        if frame_id is None:
            raise _Stale
        if frame_id == _FLOW_TIMER_FRAME:
            cause = f"the execution did not finish within {self.program.flow.timeoutSeconds:g} seconds"
            self.state.error, self.state.cause = FLOW_TIMEOUT, cause
            self._finish(Status.TIMED_OUT, "ExecutionTimedOut", {"error": FLOW_TIMEOUT, "cause": cause})
        frame = self.state.frames[frame_id]
        if isinstance(frame, WaitFrame):
            self._step_done(frame_id, _Completed(frame.input, {}, None, frame.entered_event))
            return
        assert isinstance(frame, TaskFrame)
        frame.timer = None
        step = self.program.step(frame.seq, frame.index)
        assert isinstance(step, TaskStep)
        if frame.activity is None:  # back-off is over
            self._schedule_attempt(frame_id, frame, step)
            return
        activity = frame.activity
        cause = f"the task did not finish within {step.timeoutSeconds:g} seconds"
        self._end_attempt(frame, step, None)
        self.commands.append(CancelTask(activity, step.resourceArn))
        self._emit("TaskTimedOut", step.name, {"error": TASK_TIMEOUT, "cause": cause}, activity)
        self._task_error(frame_id, frame, step, TASK_TIMEOUT, cause)

    def on_redrive(self, timers_at: dict[int, datetime], detail: JsonObject, event: str, fresh: bool) -> None:
        state = self.state
        self._emit(event, detail=detail)
        for timer, frame_id in sorted(state.timers.items()):
            frame = state.frames.get(frame_id)
            if frame_id == _FLOW_TIMER_FRAME:
                seconds = self.program.flow.timeoutSeconds or 0
                self.commands.append(StartTimer(timer, self.env.now + timedelta(seconds=seconds)))
            elif isinstance(frame, TaskFrame) and frame.activity is not None:
                del state.timers[timer]  # the timeout of an attempt that runs again: it gets its own
                frame.timer = None
            else:
                due = timers_at.get(timer, self.env.now)
                self.commands.append(StartTimer(timer, max(due, self.env.now)))
        for activity, frame_id in sorted(state.activities.items()):
            frame = state.frames[frame_id]
            assert isinstance(frame, TaskFrame)
            step = self.program.step(frame.seq, frame.index)
            assert isinstance(step, TaskStep)
            del state.activities[activity]
            frame.activity = None
            if fresh:
                frame.attempt, frame.retries = 0, [0] * len(step.retry)
            self._schedule_attempt(frame_id, frame, step, fresh=fresh)

    def on_stop(self, event: StopRequested) -> None:
        self.state.error, self.state.cause = event.error or None, event.cause or None
        self._finish(Status.STOPPED, "ExecutionStopped", {"error": event.error, "cause": event.cause})
