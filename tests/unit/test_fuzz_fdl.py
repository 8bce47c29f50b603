"""Hypothesis over FDL: generated flows, valid and broken, through parse → validate → engine.

- A valid flow runs in the engine with a virtual clock (``engine_harness``: its invariants are
  checked after every decision) while a worker succeeds or fails its tasks as drawn: no crash.
- A broken one (unknown fields, values of the wrong kind, a goto to nowhere, several at once) is
  refused with InvalidDefinition naming, for every broken step, the step and the field — all of
  them in one answer, model problems and whole-flow problems together.
- Any text at all gives a Flow or InvalidDefinition, nothing else.

``FNFLOW_FUZZ_SCALE`` multiplies the number of cases (``tests/fuzzing.py``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fnflow.errors import InvalidDefinition
from fnflow.fdl import parse_flow
from tests.fuzzing import examples
from tests.unit.engine_harness import Harness

ARN = "acs:fc:::services/svc/functions/fn"
CONDITIONS = ["$.n > 1", "$.flag", '$.s == "x"', "!($.n <= 0) && $.flag", "$local.a != null || $.n == 2"]
FUZZ = settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


class Names:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"s{self.n}"


def _mapping(data: st.DataObject) -> list[dict[str, Any]]:
    sources = st.sampled_from(["$.n", "$input.s", "$local.a", "$.items[0]", 7, "text", {"k": [1, None]}])
    return data.draw(
        st.lists(
            st.builds(lambda t, s: {"target": t, "source": s}, st.sampled_from("abc"), sources), max_size=2
        )
    )


def _steps(data: st.DataObject, names: Names, depth: int) -> list[dict[str, Any]]:
    count = data.draw(st.integers(1, 4 if depth == 0 else 2))
    steps = [_step(data, names, depth) for _ in range(count)]
    for step in steps[:-1]:  # a succeed or fail step in the middle leaves the rest unreachable
        if step["type"] in ("succeed", "fail"):
            step["type"] = "pass"
            step.pop("error", None)
            step.pop("cause", None)
    siblings = [s["name"] for s in steps]
    for step in steps:  # gotos only to siblings, as FDL requires
        if step["type"] == "choice":
            for rule in step["choices"]:
                if data.draw(st.booleans()):
                    rule["goto"] = data.draw(st.sampled_from(siblings))
    return steps


def _step(data: st.DataObject, names: Names, depth: int) -> dict[str, Any]:
    kinds = ["pass", "task", "wait", "succeed", "fail", "choice"] + (
        ["parallel", "foreach"] if depth < 2 else []
    )
    kind = data.draw(st.sampled_from(kinds))
    step: dict[str, Any] = {"type": kind, "name": names()}
    if data.draw(st.booleans()):
        step["inputMappings"] = _mapping(data)
    if kind == "task":
        step["resourceArn"] = ARN
        step["pattern"] = data.draw(st.sampled_from(["requestResponse", "sync", "waitForCallback"]))
        if data.draw(st.booleans()):
            step["retry"] = [{"errors": ["FC.Unknown", "E"], "intervalSeconds": 1, "maxAttempts": 2}]
    elif kind == "wait":
        step["duration"] = data.draw(st.integers(0, 30))
    elif kind == "fail":
        step["error"], step["cause"] = "Boom", "drawn"
    elif kind == "choice":
        step["choices"] = [
            {"condition": data.draw(st.sampled_from(CONDITIONS))} for _ in range(data.draw(st.integers(1, 2)))
        ]
        if depth < 2 and data.draw(st.booleans()):
            step["choices"][0]["steps"] = _steps(data, names, depth + 1)
        if data.draw(st.booleans()):
            step["default"] = {"steps": _steps(data, names, depth + 1)} if depth < 2 else {}
    elif kind == "parallel":
        step["branches"] = [
            {"steps": _steps(data, names, depth + 1)} for _ in range(data.draw(st.integers(1, 2)))
        ]
    elif kind == "foreach":
        step["iterationMapping"] = {"collection": "$.items", "item": "it"}
        step["steps"] = _steps(data, names, depth + 1)
    return step


def flow(data: st.DataObject) -> dict[str, Any]:
    return {"version": "v1", "type": "flow", "steps": _steps(data, Names(), 0)}


def _all_steps(steps: list[dict[str, Any]], path: str = "steps") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for i, step in enumerate(steps):
        here = f"{path}[{i}]"
        found.append((here, step))
        for key, value in step.items():
            if key == "branches":
                for k, branch in enumerate(value):
                    found += _all_steps(branch.get("steps", []), f"{here}.branches[{k}].steps")
            elif key == "steps":
                found += _all_steps(value, f"{here}.steps")
            elif key == "choices":
                for k, rule in enumerate(value):
                    found += _all_steps(rule.get("steps", []), f"{here}.choices[{k}].steps")
            elif key == "default" and isinstance(value, dict):
                found += _all_steps(value.get("steps", []), f"{here}.default.steps")
    return found


def _break(data: st.DataObject, step: dict[str, Any]) -> str:
    """Make ``step`` invalid; the field the problem must name."""
    how = data.draw(st.sampled_from(["unknown", "end", "mappings", "type-field"]))
    if how == "unknown":
        step["bogus"] = 1
        return "bogus"
    if how == "end" or step["type"] in ("succeed", "fail", "parallel", "foreach", "choice"):
        step["end"] = {"not": "a boolean"} if step["type"] not in ("succeed", "fail") else True
        return "end"
    if how == "mappings":
        step["inputMappings"] = [{"target": "", "source": "$."}]
        return "inputMappings"
    field = {"task": "resourceArn", "wait": "duration", "pass": "inputMappings"}[step["type"]]
    step[field] = {"task": [], "wait": "soon", "pass": "not a list"}[step["type"]]
    return field


@FUZZ
@given(st.data())
def test_valid_generated_flows_run_in_the_engine(data: st.DataObject) -> None:
    document = flow(data)
    parsed = parse_flow(yaml.safe_dump(document))
    assert len(parsed.steps) == len(document["steps"])
    run_input = data.draw(
        st.fixed_dictionaries(
            {"n": st.integers(-2, 3), "flag": st.booleans(), "s": st.sampled_from(["x", "y"])},
            optional={"items": st.lists(st.integers(), max_size=3)},
        )
    )
    harness = Harness(document, run_input)

    def worker(task: Any, now: Any) -> dict[str, Any] | tuple[str, str]:
        return data.draw(st.sampled_from([{"ok": True}, {}, ("E", "drawn"), ("FC.Unknown", "x")]))

    harness.drive(worker, 200, must_finish=False)  # a goto loop may never end; its invariants hold
    json.dumps(harness.output)


@FUZZ
@given(st.data())
def test_every_broken_step_is_named_with_its_field_in_one_answer(data: st.DataObject) -> None:
    document = flow(data)
    steps = _all_steps(document["steps"])
    chosen = data.draw(st.lists(st.sampled_from(range(len(steps))), min_size=1, max_size=3, unique=True))
    expected: set[tuple[str, str, str]] = set()  # (path of the step, its name, the field)
    for index in chosen:
        path, step = steps[index]
        if any(path.startswith(f"{steps[other][0]}.") for other in chosen if other != index):
            continue  # inside another broken step: that one's problems may stand for it
        expected.add((path, step["name"], _break(data, step)))
    top_choices = [
        s for s in document["steps"] if s["type"] == "choice" and "bogus" not in s and "end" not in s
    ]
    if top_choices and data.draw(st.booleans()):  # and a whole-flow problem in a step that is fine
        top_choices[0]["choices"][0]["goto"] = "nowhere"
        index = document["steps"].index(top_choices[0])
        expected.add((f"steps[{index}]", top_choices[0]["name"], "goto"))
    try:
        parse_flow(yaml.safe_dump(document))
    except InvalidDefinition as e:
        problems = e.problems
    else:
        raise AssertionError(f"accepted a broken flow: {document}")
    for path, name, field in expected:
        named = [p for p in problems if p.path.startswith(path) and p.step == name]
        assert named, f"no problem names step {name!r} ({path}, {field}): {[str(p) for p in problems]}"
        assert any(p.field for p in named), [str(p) for p in named]
    for problem in problems:
        assert problem.message and problem.path is not None
        if re.match(r"steps\[\d+\]\.", problem.path):
            assert problem.step, f"a problem inside a step that does not name it: {problem}"


@settings(max_examples=examples(300), deadline=None, derandomize=True)
@given(st.one_of(st.text(max_size=300), st.from_regex(r"(version: v1\n)?(type: flow\n)?steps:[\s\S]{0,120}")))
def test_any_text_is_a_flow_or_an_invalid_definition(text: str) -> None:
    try:
        parse_flow(text)
    except InvalidDefinition as e:
        assert e.problems and all(p.message for p in e.problems)
