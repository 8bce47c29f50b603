"""What a template makes, before its code is read: the plan, functions with where their code is,
the outputs and the warnings (pure values; ``fnflow.compat.alibaba.ros.code`` reads the code)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from fnflow.compat.alibaba.ros.problems import TemplateProblem
from fnflow.functions.config import FunctionConfig
from fnflow.services.stackplan import (
    PlannedFlow,
    PlannedFunction,
    PlannedQueue,
    PlannedSchedule,
    PlannedSubscription,
    PlannedTopic,
    PlannedTrigger,
    StackPlan,
)


@dataclass(frozen=True)
class CodeSource:
    """Where a function's code is: exactly one of the three."""

    uri: str = ""  # CodeUri: a folder, a file or a .zip, relative to the template's folder
    source: str = ""  # ROS Code.SourceCode: the text of one file, named after the handler's module
    zip_file: str = ""  # ROS Code.ZipFile: the base64 of a zip


@dataclass(frozen=True)
class FunctionDraft:
    config: FunctionConfig
    code: CodeSource
    logical_id: str
    at: TemplateProblem  # where it is written (its message empty): for what is wrong with its code
    handler_at: TemplateProblem
    service: str = ""  # the logical id of its service in the template ("" if not there)


@dataclass(frozen=True)
class Output:
    name: str
    value: Any
    description: str = ""


@dataclass
class Draft:
    functions: list[FunctionDraft] = field(default_factory=list)
    triggers: list[PlannedTrigger] = field(default_factory=list)
    queues: list[PlannedQueue] = field(default_factory=list)
    topics: list[PlannedTopic] = field(default_factory=list)
    subscriptions: list[PlannedSubscription] = field(default_factory=list)
    flows: list[PlannedFlow] = field(default_factory=list)
    schedules: list[PlannedSchedule] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    warnings: list[TemplateProblem] = field(default_factory=list)
    description: str = ""

    def plan(self, code: dict[str, bytes]) -> StackPlan:
        """The plan, with each function's code package (by logical id)."""
        return StackPlan(
            functions=tuple(
                PlannedFunction(f.config, code[f.logical_id], f.logical_id) for f in self.functions
            ),
            triggers=tuple(self.triggers),
            queues=tuple(self.queues),
            topics=tuple(self.topics),
            subscriptions=tuple(self.subscriptions),
            flows=tuple(self.flows),
            schedules=tuple(self.schedules),
        )

    def with_role(self, logical_id: str, role: str) -> None:
        self.functions = [
            replace(f, config=replace(f.config, role=role)) if f.logical_id == logical_id else f
            for f in self.functions
        ]
