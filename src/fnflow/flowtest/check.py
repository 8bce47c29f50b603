"""Expectations against what a case did: each mismatch as a message with expected and actual."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from fnflow.flowtest.harness import Run
from fnflow.flowtest.spec import Expect

#: virtual durations are compared this closely (timestamps are stored to the microsecond)
DURATION_TOLERANCE = 0.001


@dataclass(frozen=True)
class Mismatch:
    field: str
    message: str
    expected: Any = None
    actual: Any = None
    diff: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"field": self.field, "message": self.message, "expected": self.expected, "actual": self.actual}
        return out | ({"diff": self.diff} if self.diff else {})


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def diff(expected: Any, actual: Any) -> str:
    """A unified diff of two JSON values (the lines that differ, with context)."""
    lines = difflib.unified_diff(
        _pretty(expected).splitlines(), _pretty(actual).splitlines(), "expected", "actual", lineterm=""
    )
    return "\n".join(lines)


def contains(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` has all of ``expected``: mappings key by key (recursively), the rest equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v) for k, v in expected.items()
        )
    return bool(actual == expected)


def _subset_view(actual: Any, expected: Any) -> Any:
    """``actual`` cut down to the keys ``expected`` names (what a subset diff should show)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: _subset_view(actual[k], v) for k, v in expected.items() if k in actual}
    return actual


def steps_entered(run: Run) -> list[str]:
    assert run.execution is not None
    return [e.step for e in run.execution.history if e.type == "StepEntered"]


def attempts(run: Run, step: str) -> int:
    assert run.execution is not None
    return sum(1 for e in run.execution.history if e.type == "TaskScheduled" and e.step == step)


def check(run: Run, expect: Expect) -> list[Mismatch]:
    if run.problems or run.execution is None:
        return [Mismatch("run", problem) for problem in run.problems or ["the execution did not start"]]
    record = run.execution.record
    output = json.loads(record.output) if record.output else None
    found: list[Mismatch] = []
    if expect.status is not None and record.status != expect.status:
        detail = f" ({record.error}: {record.cause})" if record.error else ""
        found.append(
            Mismatch(
                "status",
                f"expected {expect.status}, got {record.status}{detail}",
                expect.status,
                record.status,
            )
        )
    if expect.output is not None and output != expect.output:
        found.append(
            Mismatch("output", "the output differs", expect.output, output, diff(expect.output, output))
        )
    if expect.outputContains is not None and not contains(output, expect.outputContains):
        view = _subset_view(output, expect.outputContains)
        found.append(
            Mismatch(
                "outputContains",
                "the output lacks what was expected",
                expect.outputContains,
                output,
                diff(expect.outputContains, view),
            )
        )
    if expect.error is not None and record.error != expect.error:
        found.append(
            Mismatch(
                "error", f"expected error {expect.error!r}, got {record.error!r}", expect.error, record.error
            )
        )
    if expect.cause is not None and expect.cause not in (record.cause or ""):
        found.append(
            Mismatch(
                "cause", f"expected a cause containing {expect.cause!r}, got {record.cause!r}", expect.cause,
                record.cause,
            )
        )  # fmt: skip
    if expect.steps is not None:
        entered = steps_entered(run)
        if entered != expect.steps:
            found.append(
                Mismatch(
                    "steps", "the steps entered differ", expect.steps, entered, diff(expect.steps, entered)
                )
            )
    for step, count in (expect.attempts or {}).items():
        made = attempts(run, step)
        if made != count:
            found.append(
                Mismatch(
                    f"attempts.{step}", f"expected {count} attempt(s) of {step!r}, got {made}", count, made
                )
            )
    if expect.duration is not None and abs(run.duration - expect.duration) > DURATION_TOLERANCE:
        found.append(
            Mismatch(
                "duration",
                f"expected {expect.duration:g} virtual seconds, took {run.duration:g}",
                expect.duration,
                run.duration,
            )
        )
    return found
