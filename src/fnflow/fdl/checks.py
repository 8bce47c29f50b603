"""Checks that need the whole flow: names, gotos, reachability, ARNs. They run on the valid model,
or on what ``salvage`` keeps of an invalid one (then without reachability).

Each check returns every problem it finds, so one round trip shows the user all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fnflow.errors import DefinitionProblem
from fnflow.fdl.arn import parse_resource_arn
from fnflow.fdl.location import Location, Positions, problem_at
from fnflow.fdl.model import (
    ChoiceStep,
    FailStep,
    Flow,
    ForeachStep,
    ParallelStep,
    StepModel,
    SucceedStep,
    TaskStep,
)

STAND_IN = "_fnflow_stand_in_"  # the names of fnflow.fdl.salvage's stand-ins for nameless steps


@dataclass(frozen=True)
class Placed:
    """A step and where it is written."""

    loc: Location
    step: StepModel


def _nested(step: StepModel, loc: Location) -> Iterator[tuple[Location, list[StepModel]]]:
    """The step lists nested directly in ``step``, with their locations."""
    if isinstance(step, ParallelStep):
        yield from (((*loc, "branches", k, "steps"), b.steps) for k, b in enumerate(step.branches))
    elif isinstance(step, ForeachStep):
        yield (*loc, "steps"), step.steps
    elif isinstance(step, ChoiceStep):
        yield from (((*loc, "choices", k, "steps"), r.steps) for k, r in enumerate(step.choices))
        if step.default is not None:
            yield (*loc, "default", "steps"), step.default.steps


def step_lists(flow: Flow) -> Iterator[list[Placed]]:
    """Every list of steps in the flow, each step with its location."""

    def walk(list_loc: Location, steps: list[StepModel]) -> Iterator[list[Placed]]:
        yield [Placed((*list_loc, i), step) for i, step in enumerate(steps)]
        for i, step in enumerate(steps):
            for child_loc, children in _nested(step, (*list_loc, i)):
                yield from walk(child_loc, children)

    yield from walk(("steps",), flow.steps)


def _gotos(placed: Placed) -> list[tuple[Location, str]]:
    """Every ``goto`` of a step with its location."""
    step, loc = placed.step, placed.loc
    if isinstance(step, TaskStep):
        return [((*loc, "catch", k, "goto"), c.goto) for k, c in enumerate(step.catch)]
    if isinstance(step, ChoiceStep):
        gotos = [((*loc, "choices", k, "goto"), r.goto) for k, r in enumerate(step.choices) if r.goto]
        if step.default is not None and step.default.goto:
            gotos.append(((*loc, "default", "goto"), step.default.goto))
        return gotos
    return []


def _stops(step: StepModel) -> str | None:
    """Why the step never continues to the next one, or None if it can."""
    if isinstance(step, SucceedStep | FailStep):
        return f"is a {step.type} step"
    if step.end:
        return "has end: true"
    if (
        isinstance(step, ChoiceStep)
        and all(r.goto for r in step.choices)
        and step.default
        and step.default.goto
    ):
        return "always jumps with goto (every choice and the default have one)"
    return None


class _Checker:
    def __init__(self, flow: Flow, positions: Positions) -> None:
        self.positions = positions
        self.lists = list(step_lists(flow))
        self.problems: list[DefinitionProblem] = []

    def add(self, loc: Location, message: str, step: str) -> None:
        self.problems.append(problem_at(self.positions, loc, message, step))

    def unique_names(self) -> None:
        placed = sorted(
            (p for steps in self.lists for p in steps), key=lambda p: self.positions.locate(p.loc) or (0, 0)
        )
        first: dict[str, Placed] = {}
        for p in placed:
            if p.step.name.startswith(STAND_IN):  # for a step without a usable name (see salvage)
                continue
            if p.step.name not in first:
                first[p.step.name] = p
                continue
            mark = self.positions.locate((*first[p.step.name].loc, "name"))
            at = f" (first used at line {mark[0]})" if mark else ""
            message = f"duplicate step name {p.step.name!r}: step names must be unique in the whole flow{at}"
            self.add((*p.loc, "name"), message, p.step.name)

    def gotos(self) -> None:
        everywhere = {p.step.name for steps in self.lists for p in steps}
        for steps in self.lists:
            siblings = [p.step.name for p in steps]
            for p in steps:
                for loc, target in _gotos(p):
                    if target in siblings:
                        continue
                    where = "a step outside this list" if target in everywhere else "no step"
                    message = (
                        f"goto {target!r} names {where}; a goto can only jump to a step in the same list as "
                        f"{p.step.name!r} (available: {', '.join(siblings)})"
                    )
                    self.add(loc, message, p.step.name)

    def reachable(self) -> None:
        for steps in filter(None, self.lists):
            index = {p.step.name: i for i, p in reversed(list(enumerate(steps)))}
            seen, todo = {0}, [0]
            while todo:
                i = todo.pop()
                nexts = [index[t] for _, t in _gotos(steps[i]) if t in index]
                if _stops(steps[i].step) is None and i + 1 < len(steps):
                    nexts.append(i + 1)
                todo.extend(n for n in nexts if n not in seen)
                seen.update(nexts)
            for i in sorted(set(range(len(steps))) - seen):
                name, before = steps[i].step.name, steps[i - 1].step
                why = _stops(before) if i - 1 in seen else "is unreachable too"
                message = (
                    f"step {name!r} is unreachable: the step before it, {before.name!r}, {why}, "
                    "and no step that runs jumps to it with goto"
                )
                self.add(steps[i].loc, message, name)

    def tasks(self) -> None:
        for steps in self.lists:
            for p in steps:
                if not isinstance(p.step, TaskStep):
                    continue
                try:
                    parse_resource_arn(p.step.resourceArn)
                except ValueError as e:
                    self.add((*p.loc, "resourceArn"), str(e), p.step.name)
                for k, policy in enumerate(p.step.retry):
                    if policy.maxIntervalSeconds < policy.intervalSeconds:
                        message = (
                            f"maxIntervalSeconds ({policy.maxIntervalSeconds:g}) is less than "
                            f"intervalSeconds ({policy.intervalSeconds:g})"
                        )
                        self.add((*p.loc, "retry", k, "maxIntervalSeconds"), message, p.step.name)


def check_flow(flow: Flow, positions: Positions, *, partial: bool = False) -> list[DefinitionProblem]:
    """Every whole-flow problem of a flow; ``partial``: some steps are stand-ins for invalid ones
    (``fnflow.fdl.salvage``), so reachability, which depends on every step, is not checked."""
    checker = _Checker(flow, positions)
    checker.unique_names()
    checker.gotos()
    if not partial:
        checker.reachable()
    checker.tasks()
    return checker.problems
