"""A flow compiled for execution: every step list gets a stable id, every step a location.

Execution state refers to steps by (sequence id, index), never by object, so it serializes
and survives a restart. Sequence ids are paths: ``""`` is the flow's own step list,
``"2/b0"`` the first branch of the parallel step at index 2, ``"2/c1"`` the steps of the
second choice rule, ``"2/d"`` the choice default, ``"2/e"`` a foreach body. Nesting chains
them: ``"2/b0/1/e"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from fnflow.fdl.arn import FlowTarget, parse_resource_arn
from fnflow.fdl.model import ChoiceStep, Flow, ForeachStep, ParallelStep, StepModel, TaskStep


@dataclass(frozen=True)
class Sequence:
    id: str
    steps: list[StepModel]
    positions: dict[str, int] = field(default_factory=dict)  # step name -> index

    def position(self, name: str) -> int:
        return self.positions[name]


def child_id(seq: str, index: int, part: str) -> str:
    return f"{seq}/{index}/{part}" if seq else f"{index}/{part}"


@dataclass(frozen=True)
class Program:
    flow: Flow
    sequences: dict[str, Sequence]

    def seq(self, seq_id: str) -> Sequence:
        return self.sequences[seq_id]

    def step(self, seq_id: str, index: int) -> StepModel:
        return self.sequences[seq_id].steps[index]

    @cached_property
    def starts_flows(self) -> bool:
        """Whether a task step of it starts executions of flows (its executions may have children)."""
        return any(
            isinstance(step, TaskStep) and isinstance(parse_resource_arn(step.resourceArn), FlowTarget)
            for sequence in self.sequences.values()
            for step in sequence.steps
        )


def compile_flow(flow: Flow) -> Program:
    """Index every step list of a validated flow."""
    sequences: dict[str, Sequence] = {}

    def add(seq_id: str, steps: list[StepModel]) -> None:
        sequences[seq_id] = Sequence(seq_id, steps, {s.name: i for i, s in enumerate(steps)})
        for i, step in enumerate(steps):
            if isinstance(step, ParallelStep):
                for k, branch in enumerate(step.branches):
                    add(child_id(seq_id, i, f"b{k}"), branch.steps)
            elif isinstance(step, ForeachStep):
                add(child_id(seq_id, i, "e"), step.steps)
            elif isinstance(step, ChoiceStep):
                for k, rule in enumerate(step.choices):
                    add(child_id(seq_id, i, f"c{k}"), rule.steps)
                if step.default is not None:
                    add(child_id(seq_id, i, "d"), step.default.steps)

    add("", flow.steps)
    return Program(flow, sequences)
