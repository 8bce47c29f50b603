"""FDL text in, a validated ``Flow`` out, or InvalidDefinition listing every problem found.

The steps: read the text (``loader``), build the model (pydantic errors rewritten by ``problems``),
and the whole-flow checks (``checks``) on it, or on what ``salvage`` keeps of it when it is not
valid. Problems are collected, not raised one at a time, and
come back sorted by line so they read like a compiler's output.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from fnflow.errors import DefinitionProblem, InvalidDefinition
from fnflow.fdl.arn import ResourceTarget, parse_resource_arn
from fnflow.fdl.checks import check_flow, step_lists
from fnflow.fdl.loader import load_document
from fnflow.fdl.location import Positions, problem_at, sorted_by_line
from fnflow.fdl.model import Flow, TaskStep
from fnflow.fdl.problems import validation_problems
from fnflow.fdl.salvage import salvage


def definition_hash(text: str) -> str:
    """The sha256 (hex) of the exact definition text: executions pin the definition they started with."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _shape_problems(data: Any, positions: Positions) -> list[DefinitionProblem]:
    """Problems with the document as a whole, before any field is looked at."""
    if data is None:
        return [problem_at(positions, (), "the definition is empty; expected version, type and steps")]
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the single value {data!r}"
        message = f"a flow definition must be a mapping with version, type and steps, not {kind}"
        return [problem_at(positions, (), message)]
    if data.get("Type") == "StateMachine" and "type" not in data:
        message = (
            "the CloudFlow dialect (Type: StateMachine) is not supported; "
            "write FDL: version: v1, type: flow, steps"
        )
        return [problem_at(positions, ("Type",), message)]
    return []


def validate_flow(data: Any, positions: Positions, *, expected_name: str | None = None) -> Flow:
    """Validate a loaded document; raises InvalidDefinition with every problem, sorted by line."""
    problems = _shape_problems(data, positions)
    if problems:
        raise InvalidDefinition(problems)
    name = data.get("name")
    if expected_name is not None and isinstance(name, str) and name != expected_name:
        message = f"name {name!r} does not match the flow name {expected_name!r}"
        problems.append(problem_at(positions, ("name",), message))
    try:
        flow = Flow.model_validate(data)
    except ValidationError as e:
        problems += validation_problems(e, data, positions)
        salvaged = salvage(data)
        if salvaged is not None:  # and what the whole-flow checks find, in the same answer
            problems += check_flow(salvaged[0], positions, partial=salvaged[1])
    else:
        problems += check_flow(flow, positions)
    if problems:
        raise InvalidDefinition(sorted_by_line(problems))
    return flow


def parse_flow(text: str, expected_name: str | None = None) -> Flow:
    """Parse and validate FDL text (YAML or JSON); raises InvalidDefinition."""
    data, positions = load_document(text)
    return validate_flow(data, positions, expected_name=expected_name)


@dataclass(frozen=True)
class PlacedTarget:
    """What a task step calls, and how to report a problem with it (its step, field and line)."""

    step: str
    target: ResourceTarget
    pattern: str
    problem: Callable[[str], DefinitionProblem]


def task_targets(text: str) -> list[PlacedTarget]:
    """The targets of every task step of valid FDL text, for the checks that need the world (does the
    queue exist?), which the caller makes."""
    data, positions = load_document(text)
    flow = validate_flow(data, positions)
    placed = []
    for steps in step_lists(flow):
        for p in steps:
            if isinstance(p.step, TaskStep):
                problem = functools.partial(problem_at, positions, (*p.loc, "resourceArn"), step=p.step.name)
                target = parse_resource_arn(p.step.resourceArn)
                placed.append(PlacedTarget(p.step.name, target, p.step.pattern, problem))
    return placed
