"""Which parts of a flow the cases exercised: its steps, each choice's branches (the default too),
each catch handler and each retry policy — read from the histories the runs recorded.

Which branch a choice took is not in its history; it is found as the engine found it, by
evaluating the step's conditions on the input its StepEntered event recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnflow.fdl import ChoiceStep, Flow, TaskStep
from fnflow.fdl.checks import step_lists
from fnflow.flowtest.harness import Execution


@dataclass(frozen=True)
class Item:
    key: str  # "step X", "choice X → when …", "catch X[0]", "retry X[1]"
    kind: str  # step | branch | catch | retry


def items(flow: Flow) -> list[Item]:
    """Everything of ``flow`` that cases can exercise, in the order it is written."""
    found: list[Item] = []
    for steps in step_lists(flow):
        for p in steps:
            step = p.step
            found.append(Item(f"step {step.name}", "step"))
            if isinstance(step, ChoiceStep):
                for k, rule in enumerate(step.choices):
                    found.append(Item(f"choice {step.name} → [{k}] {rule.condition}", "branch"))
                if step.default is not None:
                    found.append(Item(f"choice {step.name} → default", "branch"))
            if isinstance(step, TaskStep):
                for k, catch in enumerate(step.catch):
                    found.append(Item(f"catch {step.name}[{k}] {', '.join(catch.errors)}", "catch"))
                for k, retry in enumerate(step.retry):
                    found.append(Item(f"retry {step.name}[{k}] {', '.join(retry.errors)}", "retry"))
    return found


def covered(flow: Flow, executions: list[Execution]) -> set[str]:
    """The keys of ``items(flow)`` that these executions (of ``flow``) exercised."""
    by_name = {p.step.name: p.step for steps in step_lists(flow) for p in steps}
    keys = {item.key for item in items(flow)}
    hit: set[str] = set()
    for execution in executions:
        last_error: dict[str, str] = {}
        for event in execution.history:
            step = by_name.get(event.step)
            if step is None:
                continue
            detail: dict[str, Any] = json.loads(event.detail)
            if event.type == "StepEntered":
                hit.add(f"step {step.name}")
                if isinstance(step, ChoiceStep):
                    hit.add(_branch(step, detail.get("input")))
            elif isinstance(step, TaskStep):
                if event.type in ("TaskFailed", "TaskTimedOut"):
                    last_error[step.name] = str(detail.get("error", ""))
                elif event.type == "TaskScheduled" and detail.get("attempt", 1) > 1:
                    k = step.retry_policy(last_error.get(step.name, ""))
                    if k is not None:
                        hit.add(f"retry {step.name}[{k}] {', '.join(step.retry[k].errors)}")
                elif event.type == "StepExited" and "goto" in detail and "error" in detail:
                    catch = step.catch_policy(str(detail["error"]))
                    if catch is not None:
                        k = step.catch.index(catch)
                        hit.add(f"catch {step.name}[{k}] {', '.join(catch.errors)}")
    return hit & keys


def _branch(step: ChoiceStep, value: Any) -> str:
    for k, rule in enumerate(step.choices):
        if rule.condition.evaluate(value):
            return f"choice {step.name} → [{k}] {rule.condition}"
    return f"choice {step.name} → default"


@dataclass
class FlowCoverage:
    path: Path
    flow: Flow
    executions: list[Execution] = field(default_factory=list)

    def report(self) -> tuple[list[Item], set[str]]:
        return items(self.flow), covered(self.flow, self.executions)

    def percent(self) -> float:
        all_items, hit = self.report()
        return 100.0 * len(hit) / len(all_items) if all_items else 100.0

    def to_dict(self) -> dict[str, Any]:
        all_items, hit = self.report()
        return {
            "flow": str(self.path),
            "items": len(all_items),
            "covered": len(hit),
            "percent": round(self.percent(), 1),
            "missing": [i.key for i in all_items if i.key not in hit],
        }


def total_percent(flows: list[FlowCoverage]) -> float:
    counted = [f.report() for f in flows]
    total = sum(len(all_items) for all_items, _ in counted)
    hit = sum(len(h) for _, h in counted)
    return 100.0 * hit / total if total else 100.0
