"""What can be checked of a flow whose model is not valid: the steps that are, with a stand-in for
each one that is not, so that the whole-flow checks (names, gotos, ARNs) report their problems in
the same answer as the model's, not in a second round once those are fixed.

A step that holds steps (parallel, foreach, choice) is kept when standing in for its broken
children is enough to make it valid, so its own gotos are still checked. A stand-in is a pass
step with the broken step's name (or a made-up one, ``STAND_IN`` and a number, that the checks
skip), so reachability, which depends on what every step does, is left out while any step is one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter, ValidationError

from fnflow.fdl.checks import STAND_IN
from fnflow.fdl.model import Flow, Step, StepModel

_STEP: TypeAdapter[StepModel] = TypeAdapter(Step)


def salvage(data: dict[str, Any]) -> tuple[Flow, bool] | None:
    """(the flow of the valid steps and stand-ins, whether any step is a stand-in); None if the
    document has no list of steps to look at."""
    raw = data.get("steps")
    if not isinstance(raw, list):
        return None
    numbers = itertools.count(1)
    repaired, replaced = _repair_list(raw, numbers)
    steps = [_STEP.validate_python(item) for item in repaired]
    return Flow.model_construct(version="v1", type="flow", steps=steps), replaced


def _repair_list(items: list[Any], numbers: Iterator[int]) -> tuple[list[Any], bool]:
    repaired = [_repair(item, numbers) for item in items]
    return [item for item, _ in repaired], any(replaced for _, replaced in repaired)


def _repair(item: Any, numbers: Iterator[int]) -> tuple[Any, bool]:
    """``item`` if it is a valid step; else it with stand-ins for its broken children if that makes
    it valid; else a stand-in. And whether anything was replaced."""
    if _valid(item):
        return item, False
    if isinstance(item, dict):
        copy = dict(item)
        for key in ("steps", "branches", "choices", "default"):
            copy[key] = _repair_children(key, item.get(key), numbers)
        copy = {k: v for k, v in copy.items() if k in item}
        if _valid(copy):
            return copy, True
    name = item.get("name") if isinstance(item, dict) else None
    stand_in = {"type": "pass", "name": name}
    return (stand_in if _valid(stand_in) else {"type": "pass", "name": f"{STAND_IN}{next(numbers)}"}), True


def _repair_children(key: str, value: Any, numbers: Iterator[int]) -> Any:
    if key == "steps" and isinstance(value, list):
        return _repair_list(value, numbers)[0]
    if key in ("branches", "choices") and isinstance(value, list):
        return [_repair_children("default", holder, numbers) for holder in value]
    if key == "default" and isinstance(value, dict) and isinstance(value.get("steps"), list):
        return {**value, "steps": _repair_list(value["steps"], numbers)[0]}
    return value


def _valid(item: Any) -> bool:
    try:
        _STEP.validate_python(item)
    except ValidationError:
        return False
    return True
