"""``fnflow test`` from Python: the same mocks and expectations, written in code.

    from fnflow.testing import FlowTester

    def test_hotel_retries() -> None:
        saga = FlowTester("examples/saga/flow.yaml", mocks={"BuyTrainTicket": {"result": {}}, ...})
        hotel = [{"error": "ErrorNeedsRetry", "times": 2}, {"result": {}}]
        run = saga.run({"order": 1}, mocks={"ReserveHotel": hotel})
        run.expect(status="Succeeded", attempts={"ReserveHotel": 3}, duration=3)
        assert run.steps[-1] == "OrderSucceeded"

Mocks and expectations take the fields of a test file (``fnflow test --schema``); a mistake in
them (a mock for a step the flow does not have) raises ``TestFileError`` at once.
"""

from __future__ import annotations

import asyncio
import atexit
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fnflow.fdl.location import Positions
from fnflow.flowtest.check import Mismatch, attempts, check, steps_entered
from fnflow.flowtest.harness import Run, Template
from fnflow.flowtest.load import Loaded, build
from fnflow.flowtest.runner import run_case
from fnflow.flowtest.spec import DEFAULT_TIME_LIMIT, Case, Expect, TestFile

_template: Template | None = None


def _shared_template() -> Template:
    global _template
    if _template is None:
        _template = Template()
        atexit.register(_template.close)
    return _template


@dataclass
class FlowRun:
    """What one run did; ``expect`` checks it as a test file's ``expect`` would."""

    run: Run

    @property
    def status(self) -> str | None:
        return self.run.record.status if self.run.record else None

    @property
    def output(self) -> dict[str, Any] | None:
        record = self.run.record
        return json.loads(record.output) if record and record.output else None

    @property
    def error(self) -> str | None:
        return self.run.record.error if self.run.record else None

    @property
    def cause(self) -> str | None:
        return self.run.record.cause if self.run.record else None

    @property
    def duration(self) -> float:
        """Virtual seconds from start to end."""
        return self.run.duration

    @property
    def steps(self) -> list[str]:
        """The steps entered, in order."""
        return steps_entered(self.run) if self.run.execution else []

    @property
    def history(self) -> list[dict[str, Any]]:
        """The execution's history events (type, step, detail)."""
        if self.run.execution is None:
            return []
        return [
            {"eventId": e.event_id, "type": e.type, "step": e.step, "detail": json.loads(e.detail)}
            for e in self.run.execution.history
        ]

    @property
    def problems(self) -> list[str]:
        """Why the run went wrong (a step without a mock, a flow that never ends)."""
        return list(self.run.problems)

    def attempts(self, step: str) -> int:
        return attempts(self.run, step) if self.run.execution else 0

    def mismatches(self, **expected: Any) -> list[Mismatch]:
        return check(self.run, Expect.model_validate(expected))

    def expect(self, **expected: Any) -> FlowRun:
        """Raise AssertionError (with the differences) unless the run did all of ``expected``
        (``status``, ``output``, ``outputContains``, ``error``, ``cause``, ``steps``, ``attempts``,
        ``duration``)."""
        found = self.mismatches(**expected)
        if found:
            lines = []
            for m in found:
                lines.append(f"{m.field}: {m.message}")
                lines += [f"  {line}" for line in m.diff.splitlines()]
            raise AssertionError("\n".join(lines))
        return self


class FlowTester:
    """A flow file (with the child flows it starts, and mocks every run gets) to run in-process."""

    __test__ = False

    def __init__(
        self,
        flow: str | Path,
        *,
        name: str | None = None,
        flows: Mapping[str, str | Path] | None = None,
        mocks: Mapping[str, Any] | None = None,
    ) -> None:
        self._flow = str(Path(flow).resolve())
        self._name = name
        self._flows = {k: str(Path(v).resolve()) for k, v in (flows or {}).items()}
        self._mocks = dict(mocks or {})
        self._loaded: Loaded | None = None
        self._check(None)  # mistakes show up here, not at the first run

    def _spec(self, case: dict[str, Any] | None) -> TestFile:
        return TestFile.model_validate(
            {
                "flow": self._flow,
                "flowName": self._name,
                "flows": self._flows,
                "mocks": self._mocks,
                "cases": [case or {"name": "run"}],
            }
        )

    def _check(self, case: dict[str, Any] | None) -> tuple[Loaded, Case]:
        try:
            spec = self._spec(case)
        except ValidationError as e:
            raise ValueError(f"invalid mocks or run options: {e}") from None
        loaded = build(spec, Path(self._flow), Positions({}), Path("/"))
        return loaded, spec.cases[0]

    async def run_async(
        self,
        input: Mapping[str, Any] | None = None,
        *,
        mocks: Mapping[str, Any] | None = None,
        name: str | None = None,
        start_time: str | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> FlowRun:
        case = {
            "name": "run",
            "input": dict(input or {}),
            "mocks": dict(mocks or {}),
            "executionName": name,
            "startTime": start_time,
            "timeLimit": time_limit,
        }
        loaded, spec = self._check(case)
        result = await run_case(_shared_template(), loaded, 0, spec)
        return FlowRun(result.run)

    def run(
        self,
        input: Mapping[str, Any] | None = None,
        *,
        mocks: Mapping[str, Any] | None = None,
        name: str | None = None,
        start_time: str | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> FlowRun:
        """Run the flow once with ``input``; ``mocks`` add to (and win over) the tester's."""
        return asyncio.run(
            self.run_async(input, mocks=mocks, name=name, start_time=start_time, time_limit=time_limit)
        )
