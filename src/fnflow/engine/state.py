"""The serializable state of one execution: a flat table of frames, one per running scope.

A *sequence frame* runs a list of steps (the flow, a parallel branch, a foreach iteration, a
choice branch) and owns its ``local``; a *step frame* is the step currently running in a
sequence. Frames point to their parent by id, so the whole tree is one JSON document that is
loaded, advanced by one event and stored again in one transaction.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

JsonObject = dict[str, Any]


class Status(StrEnum):
    """Execution statuses, as FnF names them."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    STOPPED = "Stopped"

    @property
    def finished(self) -> bool:
        return self is not Status.RUNNING


class SeqFrame(BaseModel):
    kind: Literal["seq"] = "seq"
    parent: int | None  # the step frame that runs this sequence; None for the flow itself
    slot: int = 0  # branch or iteration index within the parent
    seq: str
    input: JsonObject
    local: JsonObject = {}
    index: int = 0  # the step being run, or the next one to run
    current: int | None = None  # frame id of the step running now
    entered_event: int = 0


class StepFrame(BaseModel):
    parent: int  # the sequence frame
    seq: str
    index: int
    input: JsonObject
    entered_event: int  # the StepEntered event id


class TaskFrame(StepFrame):
    kind: Literal["task"] = "task"
    attempt: int = 0
    retries: list[int] = []  # retries used, per retry policy
    activity: int | None = None  # the running attempt (its TaskScheduled event id); None while backing off
    timer: int | None = None  # the attempt's timeout timer, or the back-off timer


class WaitFrame(StepFrame):
    kind: Literal["wait"] = "wait"
    timer: int


class ChoiceFrame(StepFrame):
    kind: Literal["choice"] = "choice"
    child: int
    goto: str | None = None


class ParallelFrame(StepFrame):
    kind: Literal["parallel"] = "parallel"
    children: list[int | None]  # running branch frames; None once a branch is done
    results: list[JsonObject | None]


class ForeachFrame(StepFrame):
    kind: Literal["foreach"] = "foreach"
    items: list[Any]
    next: int = 0  # the next iteration to start
    running: dict[int, int] = {}  # iteration index -> its sequence frame
    results: list[JsonObject | None]


Frame = Annotated[
    SeqFrame | TaskFrame | WaitFrame | ChoiceFrame | ParallelFrame | ForeachFrame,
    Field(discriminator="kind"),
]
AnyStepFrame = TaskFrame | WaitFrame | ChoiceFrame | ParallelFrame | ForeachFrame


class ExecState(BaseModel):
    """Everything the engine needs to continue an execution."""

    flow_name: str
    execution_name: str
    status: Status = Status.RUNNING
    input: JsonObject  # the execution input, before the flow's inputMappings
    output: JsonObject | None = None
    error: str | None = None
    cause: str | None = None
    next_event: int = 1
    next_id: int = 1  # frames and timers
    frames: dict[int, Frame] = {}
    activities: dict[int, int] = {}  # activity id -> task frame
    timers: dict[int, int] = {}  # timer id -> frame (0 = the flow's own timeout)
