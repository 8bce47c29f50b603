"""Engine: the data model (spec/fdl.md §1.3-1.4) and the non-task step types (§1.6.2-1.6.8)."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from typing import Any

import pytest

from fnflow.engine import RUNTIME_ERROR, CancelTask, CancelTimer, ScheduleTask, StartTimer, Status

try:
    from engine_harness import ARN, T0, Harness
except ImportError:  # pragma: no cover - tests/unit imported as a package
    from tests.unit.engine_harness import ARN, T0, Harness


def fdl(body: str, **top: Any) -> str:
    head = "version: v1\ntype: flow\n" + "".join(f"{k}: {v}\n" for k, v in top.items())
    return head + textwrap.dedent(body)


# --- data model: inputs, locals, outputs -------------------------------------------------------------

DATA_CASES = [
    pytest.param(
        """
        steps:
          - type: pass
            name: consts
            outputMappings:
              - {target: num, source: 100}
              - {target: str, source: hello}
              - {target: slash, source: /}
              - {target: empty, source: ""}
              - {target: arr, source: [A, B, C]}
              - {target: obj, source: {a: b, c: 1}}
              - {target: flag, source: true}
        """,
        {"x": 1},
        {
            "num": 100,
            "str": "hello",
            "slash": "/",
            "empty": "",
            "arr": ["A", "B", "C"],
            "obj": {"a": "b", "c": 1},
            "flag": True,
        },
        id="pass-constants",
    ),
    pytest.param(
        """
        steps:
          - type: pass
            name: first
            outputMappings: [{target: l, source: 2}]
          - type: pass
            name: second
            inputMappings:
              - {target: fromInput, source: $input.a}
              - {target: fromLocal, source: $local.l}
              - {target: nested, source: $input.deep.k}
              - {target: index, source: "$input.list[1]"}
              - {target: missing, source: $input.nope}
              - {target: dollar, source: $.a}
              - {target: whole, source: $input}
            outputMappings: [{target: seen, source: $input}, {target: loc, source: $local}]
        """,
        {"a": 1, "deep": {"k": "v"}, "list": [10, 20]},
        {
            "l": 2,
            "seen": {
                "fromInput": 1,
                "fromLocal": 2,
                "nested": "v",
                "index": 20,
                "missing": None,
                "dollar": 1,
                "whole": {"a": 1, "deep": {"k": "v"}, "list": [10, 20]},
            },
            "loc": {},
        },
        id="pass-input-and-local-mappings",
    ),
    pytest.param(
        """
        steps:
          - type: pass
            name: first
            outputMappings: [{target: b, source: local}, {target: c, source: 3}]
          - type: pass
            name: second
            outputMappings: [{target: seen, source: $input}]
        """,
        {"a": "input", "b": "input"},
        {"b": "local", "c": 3, "seen": {"a": "input", "b": "local", "c": 3}},
        id="default-input-is-input-merged-with-local-local-wins",
    ),
    pytest.param(
        """
        steps:
          - type: pass
            name: nothing
        """,
        {"a": 1},
        {},
        id="default-output-of-pass-is-its-empty-local",
    ),
    pytest.param(
        """
        steps:
          - type: pass
            name: one
            outputMappings: [{target: k, source: 1}, {target: keep, source: kept}]
          - type: pass
            name: two
            outputMappings: [{target: k, source: 2}]
        """,
        {},
        {"k": 2, "keep": "kept"},
        id="later-output-wins-on-key-clash",
    ),
    pytest.param(
        """
        inputMappings:
          - {target: x, source: $input.a}
          - {target: c, source: const}
          - {target: name, source: $context.execution.name}
        outputMappings:
          - {target: flowInput, source: $input}
          - {target: r, source: $local.r}
          - {target: fixed, source: 7}
        steps:
          - type: pass
            name: p
            outputMappings: [{target: r, source: $input}]
        """,
        {"a": 1, "dropped": True},
        {
            "flowInput": {"x": 1, "c": "const", "name": "exec1"},
            "r": {"x": 1, "c": "const", "name": "exec1"},
            "fixed": 7,
        },
        id="flow-input-and-output-mappings",
    ),
    pytest.param(
        """
        steps:
          - type: pass
            name: ctx
            outputMappings:
              - {target: exec, source: $context.execution.name}
              - {target: flow, source: $context.flow.name}
              - {target: step, source: $context.step.name}
              - {target: execInput, source: $context.execution.input}
              - {target: token, source: $context.task.token}
        """,
        {"i": 1},
        {"exec": "exec1", "flow": "flow", "step": "ctx", "execInput": {"i": 1}, "token": None},
        id="context-extensions-and-no-token-outside-tasks",
    ),
]


@pytest.mark.parametrize(("body", "input", "output"), DATA_CASES)
def test_data_model(body: str, input: dict[str, Any], output: dict[str, Any]) -> None:
    h = Harness(fdl(body), input)
    assert h.status is Status.SUCCEEDED
    assert h.output == output
    assert h.last("ExecutionSucceeded").detail == {"output": output}


def test_pass_history_and_step_input_detail() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: pass
            name: a
            outputMappings: [{target: x, source: 1}]
          - type: pass
            name: b
    """),
        {"in": 0},
    )
    assert h.trace() == [
        "ExecutionStarted",
        "StepEntered:a",
        "StepExited:a",
        "StepEntered:b",
        "StepExited:b",
        "ExecutionSucceeded",
    ]
    assert [e.event_id for e in h.history] == [1, 2, 3, 4, 5, 6]
    assert h.last("StepEntered", "b").detail == {"input": {"in": 0, "x": 1}}
    assert h.last("StepExited", "a").detail == {"output": {"x": 1}}
    assert h.last("StepExited", "a").schedule_event_id == 2  # points at its StepEntered
    assert all(e.time == T0 for e in h.history)
    assert h.commands == []


def test_end_on_a_step_ends_the_sequence() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: pass
            name: a
            outputMappings: [{target: a, source: 1}]
            end: true
          - type: pass
            name: never
            outputMappings: [{target: b, source: 1}]
    """),
        checked=False,
    )  # the validator rejects the unreachable steps; the engine must skip them
    assert h.steps() == ["a"]
    assert h.output == {"a": 1}


# --- choice -----------------------------------------------------------------------------------------

CHOICE = fdl("""
    steps:
      - type: choice
        name: pick
        choices:
          - condition: $.n > 1
            steps:
              - type: pass
                name: big
                outputMappings: [{target: r, source: big}]
          - condition: $.n > 0
            steps:
              - type: pass
                name: small
                outputMappings: [{target: r, source: small}]
        default:
          steps:
            - type: pass
              name: other
              outputMappings: [{target: r, source: other}]
      - type: pass
        name: after
        outputMappings: [{target: seen, source: $input.r}]
""")


@pytest.mark.parametrize(
    ("n", "steps", "r"),
    [
        (5, ["pick", "big", "after"], "big"),  # both conditions true: the first wins
        (1, ["pick", "small", "after"], "small"),
        (0, ["pick", "other", "after"], "other"),
        ("x", ["pick", "other", "after"], "other"),  # type mismatch: false
        (None, ["pick", "other", "after"], "other"),  # missing: false
    ],
)
def test_choice_first_true_wins_else_default(n: Any, steps: list[str], r: str) -> None:
    h = Harness(CHOICE, {} if n is None else {"n": n})
    assert h.steps() == steps
    assert h.output == {"r": r, "seen": r}  # branch outputs become the choice's local and default output


def test_choice_without_default_and_no_match_continues_with_next_sibling() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: choice
            name: pick
            choices:
              - condition: $.go == true
                goto: skipped
          - type: pass
            name: next
            outputMappings: [{target: ran, source: next}]
          - type: pass
            name: skipped
            outputMappings: [{target: last, source: true}]
    """),
        {"go": False},
    )
    assert h.steps() == ["pick", "next", "skipped"]
    assert h.last("StepExited", "pick").detail == {"output": {}}
    assert h.output == {"ran": "next", "last": True}


def test_choice_goto_skips_forward_and_branch_steps_run_before_goto() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: choice
            name: pick
            outputMappings: [{target: picked, source: $local.r}]
            choices:
              - condition: $.go == true && $.who == "x"
                steps:
                  - type: pass
                    name: inner
                    outputMappings: [{target: r, source: inner}]
                goto: target
          - type: pass
            name: skipped
            outputMappings: [{target: bad, source: true}]
          - type: pass
            name: target
            outputMappings: [{target: seen, source: $input}]
    """),
        {"go": True, "who": "x"},
    )
    assert h.steps() == ["pick", "inner", "target"]
    assert h.output == {"picked": "inner", "seen": {"go": True, "who": "x", "picked": "inner"}}


def test_choice_end_true_ends_the_sequence() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: choice
            name: pick
            end: true
            choices:
              - condition: "true"
                steps: [{type: pass, name: inner, outputMappings: [{target: r, source: 1}]}]
          - type: pass
            name: never
    """),
        checked=False,
    )  # the validator rejects the unreachable steps; the engine must skip them
    assert h.steps() == ["pick", "inner"]
    assert h.output == {"r": 1}


def test_choice_goto_backward_loop_with_a_task() -> None:
    h = Harness(
        fdl(f"""
        steps:
          - type: task
            name: work
            resourceArn: {ARN}
          - type: choice
            name: check
            choices:
              - condition: $.done == false
                goto: work
          - type: pass
            name: final
            outputMappings: [{{target: rounds, source: $input.round}}]
    """)
    )
    for i in range(1, 4):
        h.succeed("work", {"done": i == 3, "round": i})
    assert h.steps() == ["work", "check", "work", "check", "work", "check", "final"]
    assert h.status is Status.SUCCEEDED
    assert h.output == {"done": True, "round": 3, "rounds": 3}
    assert [t.attempt for t in h.scheduled] == [1, 1, 1]  # a loop re-enters the step: each is a first attempt


def test_choice_branch_that_blocks_resumes_into_the_choice() -> None:
    h = Harness(
        fdl(f"""
        steps:
          - type: choice
            name: pick
            choices:
              - condition: "true"
                steps:
                  - {{type: task, name: t, resourceArn: {ARN}}}
                  - {{type: pass, name: p, outputMappings: [{{target: after, source: $input.fromTask}}]}}
            default: {{goto: never}}
          - type: pass
            name: next
            outputMappings: [{{target: seen, source: $input}}]
          - type: pass
            name: never
    """)
    )
    assert h.steps() == ["pick", "t"]
    h.succeed("t", {"fromTask": 5})
    assert h.steps() == ["pick", "t", "p", "next", "never"]
    assert h.output == {"fromTask": 5, "after": 5, "seen": {"fromTask": 5, "after": 5}}
    assert h.trace("StepExited") == [
        "StepExited:t",
        "StepExited:p",
        "StepExited:pick",
        "StepExited:next",
        "StepExited:never",
    ]


# --- wait -------------------------------------------------------------------------------------------

WAIT_OK = [
    pytest.param({"duration": 10}, {}, 10.0, id="duration-constant"),
    pytest.param({"duration": 2.5}, {}, 2.5, id="duration-fraction"),
    pytest.param({"duration": "$.wait"}, {"wait": 600}, 600.0, id="duration-path"),
    pytest.param({"duration": "$.wait"}, {"wait": "15"}, 15.0, id="duration-path-numeric-string"),
    pytest.param({"duration": "$input.w.s"}, {"w": {"s": 172800}}, 172800.0, id="duration-path-two-days"),
    pytest.param({"timestamp": "2024-01-01T12:01:40Z"}, {}, 100.0, id="timestamp-constant"),
    pytest.param({"timestamp": "2024-01-01T20:00:00+08:00"}, {}, 0.0, id="timestamp-offset-equals-now"),
    pytest.param({"timestamp": "$.at"}, {"at": "2024-01-01T13:00:00.250Z"}, 3600.25, id="timestamp-path"),
    pytest.param({"timestamp": "2019-05-02T15:04:05Z"}, {}, 0.0, id="timestamp-in-the-past"),
    pytest.param({"duration": 0}, {}, 0.0, id="duration-zero"),
]


@pytest.mark.parametrize(("spec", "input", "seconds"), WAIT_OK)
def test_wait(spec: dict[str, Any], input: dict[str, Any], seconds: float) -> None:
    body = {
        "version": "v1",
        "type": "flow",
        "steps": [
            {"type": "wait", "name": "w", **spec},
            {"type": "pass", "name": "after", "outputMappings": [{"target": "done", "source": True}]},
        ],
    }
    h = Harness(body, input)
    if seconds <= 0:  # nothing to wait for: no timer at all
        assert h.status is Status.SUCCEEDED
        assert h.commands == []
    else:
        assert h.status is Status.RUNNING
        assert h.commands == [StartTimer(next(iter(h.timers)), T0 + timedelta(seconds=seconds))]
        assert h.timer_times() == [seconds]
        h.advance(seconds - 0.001)
        assert h.status is Status.RUNNING
        h.advance(0.001)
        assert h.status is Status.SUCCEEDED
        assert h.last("StepExited", "w").time == T0 + timedelta(seconds=seconds)
        assert h.last("StepExited", "w").detail == {"output": {}}
    assert h.output == {"done": True}
    assert h.steps() == ["w", "after"]


WAIT_BAD = [
    pytest.param({"duration": "$.wait"}, {"wait": "soon"}, id="duration-not-a-number"),
    pytest.param({"duration": "$.wait"}, {"wait": -1}, id="duration-negative"),
    pytest.param({"duration": "$.wait"}, {"wait": True}, id="duration-boolean"),
    pytest.param({"duration": "$.wait"}, {}, id="duration-missing"),
    pytest.param({"duration": "$.wait"}, {"wait": 172801}, id="duration-over-two-days"),
    pytest.param({"timestamp": "$.at"}, {"at": "tomorrow"}, id="timestamp-not-rfc3339"),
    pytest.param({"timestamp": "$.at"}, {"at": "2024-01-01T13:00:00"}, id="timestamp-without-zone"),
    pytest.param({"timestamp": "$.at"}, {"at": 1704114000}, id="timestamp-number"),
    pytest.param({"timestamp": "$.at"}, {}, id="timestamp-missing"),
    pytest.param({"timestamp": "$.at"}, {"at": "2024-01-03T12:00:01Z"}, id="timestamp-over-two-days-away"),
]


@pytest.mark.parametrize(("spec", "input"), WAIT_BAD)
def test_wait_with_a_bad_dynamic_value_fails_with_runtime_error(
    spec: dict[str, Any], input: dict[str, Any]
) -> None:
    body = {"version": "v1", "type": "flow", "steps": [{"type": "wait", "name": "w", **spec}]}
    h = Harness(body, input)
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR
    assert h.trace() == ["ExecutionStarted", "StepEntered:w", "StepFailed:w", "ExecutionFailed"]
    assert h.last("StepFailed").detail["error"] == RUNTIME_ERROR
    assert h.commands == []


# --- parallel ---------------------------------------------------------------------------------------

PARALLEL = fdl(f"""
    steps:
      - type: parallel
        name: fan
        outputMappings:
          - {{target: results, source: "$local[*].r"}}
          - {{target: locals, source: $local}}
        branches:
          - steps:
              - type: task
                name: t0
                resourceArn: {ARN}
                outputMappings: [{{target: r, source: $local.v}}]
          - steps:
              - type: task
                name: t1
                resourceArn: {ARN}
                outputMappings: [{{target: r, source: $local.v}}]
              - {{type: pass, name: p1, outputMappings: [{{target: extra, source: $input.seen}}]}}
""")


def test_parallel_branch_locals_in_branch_order_whatever_the_completion_order() -> None:
    h = Harness(PARALLEL, {"seen": "in"})
    assert sorted(t.step for t in h.tasks.values()) == ["t0", "t1"]
    assert h.task("t0").input == {"seen": "in"} and h.task("t1").input == {
        "seen": "in"
    }  # branch input = step input
    h.succeed("t1", {"v": "one"})
    assert h.status is Status.RUNNING
    h.succeed("t0", {"v": "zero"})
    assert h.status is Status.SUCCEEDED
    assert h.output == {"results": ["zero", "one"], "locals": [{"r": "zero"}, {"r": "one", "extra": "in"}]}
    assert h.trace("BranchEntered", "BranchExited") == [
        "BranchEntered:fan",
        "BranchEntered:fan",
        "BranchExited:fan",
        "BranchExited:fan",
    ]
    assert [e.detail["index"] for e in h.events("BranchExited")] == [1, 0]


def test_parallel_default_output_is_empty() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: parallel
            name: fan
            branches:
              - steps: [{type: pass, name: a, outputMappings: [{target: a, source: 1}]}]
              - steps: [{type: pass, name: b, outputMappings: [{target: b, source: 2}]}]
    """),
        {"x": 1},
    )
    assert h.status is Status.SUCCEEDED  # all branches synchronous: done in the first decision
    assert h.output == {}
    assert h.last("StepExited", "fan").detail == {"output": {}}
    assert h.trace() == [
        "ExecutionStarted",
        "StepEntered:fan",
        "BranchEntered:fan",
        "StepEntered:a",
        "StepExited:a",
        "BranchExited:fan",
        "BranchEntered:fan",
        "StepEntered:b",
        "StepExited:b",
        "BranchExited:fan",
        "StepExited:fan",
        "ExecutionSucceeded",
    ]


def test_parallel_branch_failure_fails_execution_and_cancels_the_rest() -> None:
    h = Harness(
        fdl(f"""
        timeoutSeconds: 3600
        steps:
          - type: parallel
            name: fan
            branches:
              - steps: [{{type: task, name: slow, resourceArn: {ARN}, timeoutSeconds: 60}}]
              - steps: [{{type: wait, name: nap, duration: 30}}]
              - steps: [{{type: task, name: bad, resourceArn: {ARN}}}]
    """)
    )
    slow = h.task("slow").activity
    assert len(h.timers) == 3  # flow timeout, task timeout, wait
    h.fail("bad", "Boom", "it broke")
    assert h.status is Status.FAILED
    assert h.error == ("Boom", "it broke")
    last = h.decisions[-1].commands
    assert [c for c in last if isinstance(c, CancelTask)] == [CancelTask(slow, ARN)]
    assert len([c for c in last if isinstance(c, CancelTimer)]) == 3
    assert h.tasks == {} and h.timers == {}
    assert h.trace()[-3:] == ["TaskFailed:bad", "StepFailed:bad", "ExecutionFailed"]


def test_parallel_fail_step_in_a_branch_fails_the_execution() -> None:
    h = Harness(
        fdl(f"""
        steps:
          - type: parallel
            name: fan
            branches:
              - steps: [{{type: task, name: t, resourceArn: {ARN}}}]
              - steps: [{{type: fail, name: stop, error: E, cause: C}}]
    """)
    )
    assert h.status is Status.FAILED
    assert h.error == ("E", "C")
    assert h.scheduled and h.cancelled_tasks == [h.scheduled[0].activity]


# --- foreach ----------------------------------------------------------------------------------------

FOREACH = fdl(f"""
    steps:
      - type: foreach
        name: each
        maxConcurrency: 2
        iterationMapping:
          collection: $.names
          item: name
          index: i
        outputMappings:
          - {{target: upper, source: "$local[*].u"}}
          - {{target: seen, source: "$local[*].seen"}}
        steps:
          - type: task
            name: work
            resourceArn: {ARN}
            outputMappings:
              - {{target: u, source: $local.u}}
              - {{target: seen, source: $input}}
""")


def test_foreach_respects_max_concurrency_and_keeps_item_order() -> None:
    names = ["a", "b", "c", "d", "e"]
    h = Harness(FOREACH, {"names": names, "k": 1})
    assert [t.input for t in h.tasks_of("work")] == [
        {"names": names, "k": 1, "name": "a", "i": 0},
        {"names": names, "k": 1, "name": "b", "i": 1},
    ]
    order = ["b", "a", "d", "e", "c"]  # complete out of order
    for name in order:
        task = next(t for t in h.tasks_of("work") if t.input["name"] == name)
        h.succeed(task.activity, {"u": name.upper()})
        assert len(h.tasks_of("work")) <= 2
    assert h.max_outstanding["work"] == 2
    assert [t.input["name"] for t in h.scheduled] == names  # started in item order
    assert h.status is Status.SUCCEEDED
    assert h.output["upper"] == ["A", "B", "C", "D", "E"]
    assert [s["i"] for s in h.output["seen"]] == [0, 1, 2, 3, 4]
    assert [e.detail["index"] for e in h.events("IterationExited")] == [1, 0, 3, 4, 2]
    assert [e.detail["index"] for e in h.events("IterationEntered")] == [0, 1, 2, 3, 4]


def test_foreach_default_concurrency_starts_everything_and_default_output_is_empty() -> None:
    h = Harness(
        fdl(f"""
        steps:
          - type: foreach
            name: each
            iterationMapping: {{collection: $.xs, item: x}}
            steps: [{{type: task, name: work, resourceArn: {ARN}}}]
    """),
        {"xs": list(range(7))},
    )
    assert [t.input for t in h.tasks_of("work")] == [{"xs": list(range(7)), "x": i} for i in range(7)]
    for t in list(h.tasks.values())[::-1]:
        h.succeed(t.activity, {"r": t.input["x"]})
    assert h.status is Status.SUCCEEDED
    assert h.output == {}


def test_foreach_synchronous_iterations_and_local_array() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: foreach
            name: each
            maxConcurrency: 1
            iterationMapping: {collection: $input.items, item: it, index: n}
            outputMappings: [{target: all, source: $local}]
            steps:
              - type: pass
                name: p
                outputMappings: [{target: v, source: $input.it}, {target: n, source: $.n}]
    """),
        {"items": [{"a": 1}, "two", 3]},
    )
    assert h.status is Status.SUCCEEDED
    assert h.output == {"all": [{"v": {"a": 1}, "n": 0}, {"v": "two", "n": 1}, {"v": 3, "n": 2}]}


def test_foreach_over_an_empty_collection() -> None:
    h = Harness(
        fdl(f"""
        steps:
          - type: foreach
            name: each
            iterationMapping: {{collection: $.xs, item: x}}
            outputMappings: [{{target: all, source: $local}}]
            steps: [{{type: task, name: work, resourceArn: {ARN}}}]
    """),
        {"xs": []},
    )
    assert h.status is Status.SUCCEEDED
    assert h.output == {"all": []}
    assert h.scheduled == []
    assert h.trace() == ["ExecutionStarted", "StepEntered:each", "StepExited:each", "ExecutionSucceeded"]


@pytest.mark.parametrize("xs", [{"a": 1}, "abc", 5, None])
def test_foreach_over_a_non_array_fails_with_runtime_error(xs: Any) -> None:
    h = Harness(
        fdl("""
        steps:
          - type: foreach
            name: each
            iterationMapping: {collection: $.xs, item: x}
            steps: [{type: pass, name: p}]
    """),
        {} if xs is None else {"xs": xs},
    )
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR
    assert h.trace() == ["ExecutionStarted", "StepEntered:each", "StepFailed:each", "ExecutionFailed"]


def test_foreach_iteration_failure_cancels_running_iterations() -> None:
    h = Harness(FOREACH, {"names": ["a", "b", "c"]})
    first, second = h.tasks_of("work")
    h.fail(first.activity, "Bad", "item a")
    assert h.status is Status.FAILED
    assert h.error == ("Bad", "item a")
    assert h.cancelled_tasks == [second.activity]
    assert len(h.scheduled) == 2  # the third iteration never started


# --- succeed and fail -------------------------------------------------------------------------------


def test_top_level_succeed_ends_the_flow() -> None:
    h = Harness(
        fdl("""
        steps:
          - {type: pass, name: a, outputMappings: [{target: a, source: 1}]}
          - {type: succeed, name: done, outputMappings: [{target: s, source: $input.a}]}
          - {type: fail, name: never, error: Never}
    """),
        checked=False,
    )  # the validator rejects the unreachable steps; the engine must skip them
    assert h.status is Status.SUCCEEDED
    assert h.output == {"a": 1, "s": 1}
    assert h.steps() == ["a", "done"]


def test_succeed_nested_in_a_choice_branch_ends_only_that_branch() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: choice
            name: pick
            choices:
              - condition: "true"
                steps:
                  - {type: pass, name: in1, outputMappings: [{target: x, source: 1}]}
                  - {type: succeed, name: early}
                  - {type: pass, name: skipped, outputMappings: [{target: bad, source: 1}]}
          - {type: pass, name: after, outputMappings: [{target: after, source: $input.x}]}
    """),
        checked=False,
    )  # the validator rejects the unreachable steps; the engine must skip them
    assert h.status is Status.SUCCEEDED
    assert h.steps() == ["pick", "in1", "early", "after"]
    assert h.output == {"x": 1, "after": 1}


def test_succeed_nested_in_a_parallel_branch_ends_only_that_branch() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: parallel
            name: fan
            outputMappings: [{target: all, source: $local}]
            branches:
              - steps:
                  - {type: succeed, name: quit}
                  - {type: pass, name: skipped, outputMappings: [{target: bad, source: 1}]}
              - steps: [{type: pass, name: other, outputMappings: [{target: ok, source: 1}]}]
          - {type: pass, name: after}
    """),
        checked=False,
    )  # the validator rejects the unreachable steps; the engine must skip them
    assert h.steps() == ["fan", "quit", "other", "after"]
    assert h.output == {"all": [{}, {"ok": 1}]}


def test_fail_step_sets_error_and_cause_and_stops() -> None:
    h = Harness(
        fdl("""
        steps:
          - {type: pass, name: a}
          - {type: fail, name: nope, error: OrderFailed, cause: booking could not be completed}
          - {type: pass, name: never}
    """),
        checked=False,
    )  # the validator rejects the unreachable steps; the engine must skip them
    assert h.status is Status.FAILED
    assert h.error == ("OrderFailed", "booking could not be completed")
    assert h.output is None
    assert h.trace() == [
        "ExecutionStarted",
        "StepEntered:a",
        "StepExited:a",
        "StepEntered:nope",
        "StepFailed:nope",
        "ExecutionFailed",
    ]
    assert h.last("ExecutionFailed").detail == {
        "error": "OrderFailed",
        "cause": "booking could not be completed",
    }


def test_task_in_loop_body_is_a_schedule_task() -> None:
    """Smoke check of the ScheduleTask shape for a task inside nested scopes."""
    h = Harness(
        fdl(f"""
        steps:
          - type: foreach
            name: each
            iterationMapping: {{collection: $.xs, item: x}}
            steps:
              - type: parallel
                name: inner
                branches:
                  - steps:
                      - type: task
                        name: deep
                        resourceArn: {ARN}
                        inputMappings: [{{target: x, source: $input.x}}]
    """),
        {"xs": [7]},
    )
    task = h.task("deep")
    assert task == ScheduleTask(
        task.activity, "deep", ARN, "requestResponse", {"x": 7}, {}, None, f"tok:exec1:{task.activity}", 1
    )
    h.succeed("deep", {})
    assert h.status is Status.SUCCEEDED


END_STEPS = [
    pytest.param({"type": "task", "name": "s", "resourceArn": ARN}, id="task"),
    pytest.param({"type": "wait", "name": "s", "duration": 5}, id="wait"),
    pytest.param(
        {
            "type": "parallel",
            "name": "s",
            "branches": [{"steps": [{"type": "wait", "name": "w", "duration": 5}]}],
        },
        id="parallel",
    ),
    pytest.param(
        {
            "type": "foreach",
            "name": "s",
            "iterationMapping": {"collection": "$.xs", "item": "x"},
            "steps": [{"type": "task", "name": "w", "resourceArn": ARN}],
        },
        id="foreach",
    ),
]


@pytest.mark.parametrize("step", END_STEPS)
def test_end_after_a_step_that_waits(step: dict[str, Any]) -> None:
    body = {
        "version": "v1",
        "type": "flow",
        "steps": [
            {**step, "end": True},
            {"type": "pass", "name": "never", "outputMappings": [{"target": "bad", "source": 1}]},
        ],
    }
    h = Harness(body, {"xs": [1]}, checked=False)
    assert h.status is Status.RUNNING
    h.drive(lambda task, now: {"r": 1})
    assert h.status is Status.SUCCEEDED
    assert "never" not in h.steps()
    assert "bad" not in h.output


def test_end_inside_a_foreach_iteration_ends_only_that_iteration() -> None:
    h = Harness(
        fdl("""
        steps:
          - type: foreach
            name: each
            iterationMapping: {collection: $.xs, item: x}
            outputMappings: [{target: all, source: $local}]
            steps:
              - {type: pass, name: a, outputMappings: [{target: a, source: $input.x}], end: true}
              - {type: pass, name: b, outputMappings: [{target: b, source: 1}]}
          - {type: pass, name: after, outputMappings: [{target: after, source: 1}]}
    """),
        {"xs": [1, 2]},
        checked=False,
    )
    assert h.output == {"all": [{"a": 1}, {"a": 2}], "after": 1}
    assert h.steps() == ["each", "a", "a", "after"]
