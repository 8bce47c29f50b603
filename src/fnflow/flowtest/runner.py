"""Running test files: every case of every file, one after another, on one event loop.

session = Session()
result = session.run_paths([Path("examples")], on_case=print)
result.failed, result.coverage
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnflow.flowtest.check import Mismatch, check
from fnflow.flowtest.coverage import FlowCoverage
from fnflow.flowtest.harness import Harness, Run, Template
from fnflow.flowtest.load import Loaded, Problem, TestFileError, case_flow, find_test_files, load_test_file
from fnflow.flowtest.spec import Case


@dataclass
class CaseResult:
    file: Path
    case: Case
    run: Run
    mismatches: list[Mismatch]

    @property
    def passed(self) -> bool:
        return not self.mismatches

    @property
    def id(self) -> str:
        return f"{self.file}::{self.case.name}"

    def to_dict(self) -> dict[str, Any]:
        record = self.run.record
        return {
            "file": str(self.file),
            "name": self.case.name,
            "outcome": "passed" if self.passed else "failed",
            "status": record.status if record else None,
            "virtualSeconds": round(self.run.duration, 6),
            "realSeconds": round(self.run.wall, 4),
            "failures": [m.to_dict() for m in self.mismatches],
        }


@dataclass
class SessionResult:
    cases: list[CaseResult] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)  # test files that could not run
    coverage: dict[Path, FlowCoverage] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    wall: float = 0.0

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.passed]

    @property
    def virtual(self) -> float:
        return sum(c.run.duration for c in self.cases)


async def run_case(
    template: Template,
    loaded: Loaded,
    index: int,
    case: Case,
    coverage: dict[Path, FlowCoverage] | None = None,
) -> CaseResult:
    """Run one case of a loaded file."""
    flows = {name: f.source for name, f in loaded.flows.items()}
    mocks = {**loaded.spec.mocks, **case.mocks}
    harness = Harness(template, flows, mocks, start=case.start(), time_limit=case.timeLimit)
    run = await harness.run(case_flow(loaded, index), case.input, case.executionName)
    if coverage is not None:
        for execution in run.executions:
            flow = loaded.flows.get(execution.record.flow_name)
            if flow is not None:
                path = flow.source.path.resolve()
                entry = coverage.setdefault(path, FlowCoverage(flow.source.path, flow.flow))
                entry.executions.append(execution)
    return CaseResult(loaded.path, case, run, check(run, case.expect))


class Session:
    """Runs test files; one database template for all of them."""

    def __init__(self) -> None:
        self.template = Template()

    def run_paths(
        self,
        paths: list[Path],
        *,
        on_file: Callable[[Path], None] = lambda path: None,
        on_case: Callable[[CaseResult], None] = lambda result: None,
        on_error: Callable[[Problem], None] = lambda problem: None,
    ) -> SessionResult:
        began = time.monotonic()
        files, missing = find_test_files(paths)
        result = SessionResult(errors=list(missing), files=files)
        for problem in missing:
            on_error(problem)
        try:
            asyncio.run(self._run(files, result, on_file, on_case, on_error))
        finally:
            self.template.close()
        result.wall = time.monotonic() - began
        return result

    async def _run(
        self,
        files: list[Path],
        result: SessionResult,
        on_file: Callable[[Path], None],
        on_case: Callable[[CaseResult], None],
        on_error: Callable[[Problem], None],
    ) -> None:
        for path in files:
            try:
                loaded = await asyncio.to_thread(load_test_file, path)
            except TestFileError as e:
                result.errors += e.problems
                for problem in e.problems:
                    on_error(problem)
                continue
            on_file(path)
            for flow in loaded.flows.values():  # a flow no case runs shows as 0%
                result.coverage.setdefault(
                    flow.source.path.resolve(), FlowCoverage(flow.source.path, flow.flow)
                )
            for index, case in enumerate(loaded.spec.cases):
                case_result = await run_case(self.template, loaded, index, case, result.coverage)
                result.cases.append(case_result)
                on_case(case_result)
