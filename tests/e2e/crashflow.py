"""What the flow of ``fixtures/crash`` must produce, and the history every run of it must show,
however often the processes running it were killed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).parent / "fixtures" / "crash"
FACTORS = [1, 2, 3]


def expected(x: int) -> dict[str, Any]:
    """The output of the flow ``crash`` for ``{"x": x, "factors": FACTORS}``."""
    square = x * x
    return {
        "x": x,
        "square": square,
        "sums": [square + 1, "marked"],
        "products": [square * f for f in FACTORS],
    }


def check_history(events: list[dict[str, Any]]) -> None:
    """Contiguous events, every step exited once, every task settled once, one start and one end."""
    ids = [e["eventId"] for e in events]
    assert ids == list(range(1, len(ids) + 1)), "event ids must be contiguous"
    exited = Counter(e["scheduleEventId"] for e in events if e["type"] in ("StepExited", "StepFailed"))
    assert all(n == 1 for n in exited.values()), f"a step exited twice: {exited}"
    entered = [e["eventId"] for e in events if e["type"] == "StepEntered"]
    assert sorted(exited) == entered, "every step that was entered exited exactly once"
    settled = Counter(
        e["scheduleEventId"] for e in events if e["type"] in ("TaskSucceeded", "TaskFailed", "TaskTimedOut")
    )
    scheduled = [e["eventId"] for e in events if e["type"] == "TaskScheduled"]
    assert sorted(settled) == scheduled and all(n == 1 for n in settled.values()), "each task settled once"
    types = [e["type"] for e in events]
    assert types.count("ExecutionStarted") == types.count("ExecutionSucceeded") == 1
