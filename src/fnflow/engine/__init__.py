"""The FDL engine: a pure interpreter from (program, state, event, env) to (state, history, commands).

It imports nothing that does I/O, reads no clock and draws no random numbers; the runtime
passes all of that in through ``Env``. That is what makes virtual-time tests, replay and
crash recovery straightforward.
"""

from fnflow.engine.interpreter import FLOW_TIMEOUT, RUNTIME_ERROR, TASK_TIMEOUT, decide, redrive, start
from fnflow.engine.program import Program, compile_flow
from fnflow.engine.state import ExecState, Status
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

__all__ = [
    "FLOW_TIMEOUT",
    "RUNTIME_ERROR",
    "TASK_TIMEOUT",
    "CancelTask",
    "CancelTimer",
    "Command",
    "Decision",
    "Env",
    "Event",
    "ExecState",
    "HistoryEvent",
    "Program",
    "ScheduleTask",
    "StartTimer",
    "Status",
    "StopRequested",
    "TaskFailed",
    "TaskSubmitted",
    "TaskSucceeded",
    "TimerFired",
    "compile_flow",
    "decide",
    "redrive",
    "start",
]
