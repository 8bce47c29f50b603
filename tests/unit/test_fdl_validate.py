"""FDL text → Flow: the seed flows, every kind of problem with its exact place, YAML and JSON."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
import yaml

from fnflow.errors import InvalidDefinition
from fnflow.fdl import (
    ChoiceStep,
    FailStep,
    Flow,
    PassStep,
    RetryPolicy,
    SucceedStep,
    TaskStep,
    WaitStep,
    definition_hash,
    load_document,
    parse_flow,
)
from fnflow.fdl.expr import Const, Path
from tests.seed_flows import POLL_FOR_TASK_STATUS, SAGA


def problems(text: str, expected_name: str | None = None) -> list[tuple[Any, ...]]:
    """(path, step, field, line, column, message) of each problem, in the order reported."""
    with pytest.raises(InvalidDefinition) as raised:
        parse_flow(text, expected_name)
    return [(p.path, p.step, p.field, p.line, p.column, p.message) for p in raised.value.problems]


def flow_text(body: str) -> str:
    """A flow whose body starts at line 3."""
    return "version: v1\ntype: flow\n" + textwrap.dedent(body)


def as_json(text: str) -> str:
    return json.dumps(yaml.safe_load(text), indent=2)


# --- the seed flows --------------------------------------------------------------------------------


def test_poll_for_task_status() -> None:
    flow = parse_flow(POLL_FOR_TASK_STATUS)
    assert [(s.type, s.name) for s in flow.steps] == [
        ("task", "StartJob"),
        ("pass", "Init"),
        ("wait", "Wait10s"),
        ("task", "GetJobStatus"),
        ("choice", "CheckJobComplete"),
        ("succeed", "JobSucceeded"),
        ("fail", "JobFailed"),
    ]
    start, init, wait, get, check = flow.steps[:5]
    assert isinstance(start, TaskStep) and start.pattern == "requestResponse"
    assert isinstance(init, PassStep) and init.outputMappings[0].compiled == Const(0)
    assert isinstance(wait, WaitStep) and wait.duration == 10 and wait.timestamp is None
    assert isinstance(get, TaskStep)
    assert [m.compiled for m in get.inputMappings] == [
        Path("local", ("job_id",), "$local.job_id"),
        Path("input", ("delay",), "$input.delay"),
        Path("local", ("try_count",), "$local.try_count"),
    ]
    assert isinstance(check, ChoiceStep) and check.default is None
    assert [r.goto for r in check.choices] == ["JobSucceeded", "JobFailed", "Wait10s"]
    decide = [
        [r.condition.evaluate(data) for r in check.choices]
        for data in (
            {"status": "success", "try_count": 1},
            {"status": "running", "try_count": 4},
            {"status": "running", "try_count": 2},
        )
    ]
    assert decide == [[True, False, False], [False, True, True], [False, False, True]]


def test_saga() -> None:
    flow = parse_flow(SAGA)
    names = [s.name for s in flow.steps]
    assert names == [
        "BuyTrainTicket",
        "ReserveFlight",
        "ReserveHotel",
        "OrderSucceeded",
        "CancelFlight",
        "CancelTrainTicket",
        "OrderFailed",
    ]
    buy, reserve_flight, reserve_hotel, succeeded, _, _, failed = flow.steps
    assert (
        isinstance(buy, TaskStep)
        and isinstance(reserve_flight, TaskStep)
        and isinstance(reserve_hotel, TaskStep)
    )
    assert [c.goto for c in buy.catch + reserve_flight.catch + reserve_hotel.catch] == [
        "OrderFailed",
        "CancelTrainTicket",
        "CancelFlight",
    ]
    assert buy.inputMappings[0].compiled == Const("buy_train_ticket")
    policy = reserve_hotel.retry[0]
    assert (policy.errors, policy.intervalSeconds, policy.maxAttempts, policy.multiplier) == (
        ["FC.Unknown"],
        1,
        3,
        2,
    )
    assert [policy.delay(n) for n in (1, 2, 3)] == [1, 2, 4]
    assert reserve_hotel.retry_policy("FC.Unknown") == 0 and reserve_hotel.retry_policy("Other") is None
    assert isinstance(succeeded, SucceedStep)
    assert isinstance(failed, FailStep) and (failed.error, failed.cause) == (
        "OrderFailed",
        "the order could not be completed",
    )


@pytest.mark.parametrize("text", [POLL_FOR_TASK_STATUS, SAGA])
def test_seed_flows_read_the_same_from_json(text: str) -> None:
    assert parse_flow(as_json(text)) == parse_flow(text)


def test_seed_flow_with_the_documents_placeholders_is_rejected_at_the_arn() -> None:
    text = POLL_FOR_TASK_STATUS.replace("cn-hangzhou:123456789", "cn-hangzhou:{accountID}")
    assert problems(text) == [
        (
            "steps[0].resourceArn",
            "StartJob",
            "resourceArn",
            6,
            5,
            "resourceArn 'acs:fc:cn-hangzhou:{accountID}:services/fnf-demo/functions/StartJob': account "
            "'{accountID}' is not valid (replace the placeholder); it must be letters, digits, '_' and "
            "'-', or empty",
        ),
        (
            "steps[3].resourceArn",
            "GetJobStatus",
            "resourceArn",
            17,
            5,
            "resourceArn 'acs:fc:cn-hangzhou:{accountID}:services/fnf-demo/functions/GetJobStatus': "
            "account '{accountID}' is not valid (replace the placeholder); it must be letters, digits, '_' "
            "and '-', or empty",
        ),
    ]


def test_definition_hash_is_sha256_of_the_exact_text() -> None:
    assert definition_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert definition_hash(SAGA) != definition_hash(SAGA + "\n")


# --- each kind of problem, exactly located ---------------------------------------------------------


def test_unknown_field() -> None:
    text = flow_text("""\
        steps:
          - type: fail
            name: Stop
            bogus: 1
        """)
    assert problems(text) == [
        (
            "steps[0].bogus",
            "Stop",
            "bogus",
            6,
            5,
            "unknown field 'bogus' (allowed: name, type, error, cause, inputMappings, outputMappings)",
        )
    ]


def test_misspelled_field_gets_a_suggestion_and_the_missing_field() -> None:
    text = flow_text("""\
        steps:
          - type: task
            name: Call
            resourceARN: acs:fc:::services/s/functions/f
        """)
    assert problems(text) == [
        ("steps[0].resourceArn", "Call", "resourceArn", 4, 5, "missing required field 'resourceArn'"),
        (
            "steps[0].resourceARN",
            "Call",
            "resourceARN",
            6,
            5,
            "unknown field 'resourceARN' (did you mean 'resourceArn'? allowed: name, type, resourceArn, "
            "pattern, timeoutSeconds, serviceParams, retry, catch, errorMappings, end, inputMappings, "
            "outputMappings)",
        ),
    ]


def test_unknown_step_type_and_missing_type() -> None:
    text = flow_text("""\
        steps:
          - type: taskx
            name: A
          - name: B
          - 5
        """)
    assert problems(text) == [
        (
            "steps[0]",
            "A",
            None,
            4,
            5,
            "unknown step type 'taskx' (expected one of task, pass, choice, wait, parallel, foreach, "
            "succeed, fail)",
        ),
        (
            "steps[1]",
            "B",
            None,
            6,
            5,
            "missing required field 'type' (one of task, pass, choice, wait, parallel, foreach, succeed, "
            "fail)",
        ),
        ("steps[2]", None, None, 7, 5, "must be a mapping (got 5)"),
    ]


def test_bad_condition_in_a_nested_choice() -> None:
    text = flow_text("""\
        steps:
          - type: pass
            name: Start
          - type: choice
            name: Route
            choices:
              - condition: $.a == 1
                goto: Start
              - condition: $.status = "done"
                goto: Start
        """)
    assert problems(text) == [
        (
            "steps[1].choices[1].condition",
            "Route",
            "condition",
            11,
            9,
            "cannot parse '$.status = \"done\"': unexpected '=' at column 10",
        )
    ]


def test_problem_inside_a_nested_step_names_the_innermost_step() -> None:
    text = flow_text("""\
        steps:
          - type: parallel
            name: Fan
            branches:
              - steps:
                  - type: foreach
                    name: Each
                    iterationMapping:
                      collection: $.items
                      item: item
                    steps:
                      - type: task
                        name: Inner
                        resourceArn: acs:fc:::services/s/functions/f
                        timeoutSeconds: 0
        """)
    assert problems(text) == [
        (
            "steps[0].branches[0].steps[0].steps[0].timeoutSeconds",
            "Inner",
            "timeoutSeconds",
            17,
            17,
            "must be > 0 (got 0)",
        )
    ]


def test_retry_and_catch_problems() -> None:
    text = flow_text("""\
        steps:
          - type: task
            name: Call
            resourceArn: acs:fc:::services/s/functions/f
            retry:
              - errors: [FC.Unknown, ""]
                maxAttempts: -1
              - errors: [FnF.ALL]
                intervalSeconds: 10
                maxIntervalSeconds: 5
            catch:
              - errors: []
                goto: Call
        """)
    assert problems(text) == [
        ("steps[0].retry[0].errors[1]", "Call", "errors", 8, 30, "must not be empty"),
        ("steps[0].retry[0].maxAttempts", "Call", "maxAttempts", 9, 9, "must be ≥ 0 (got -1)"),
        ("steps[0].catch[0].errors", "Call", "errors", 14, 9, "must not be empty"),
    ]
    valid_models = (
        text.replace('[FC.Unknown, ""]', "[FC.Unknown]").replace("-1", "1").replace("[]", "[FnF.ALL]")
    )
    assert problems(valid_models) == [
        (
            "steps[0].retry[1].maxIntervalSeconds",
            "Call",
            "maxIntervalSeconds",
            12,
            9,
            "maxIntervalSeconds (5) is less than intervalSeconds (10)",
        )
    ]


def test_goto_must_name_a_sibling() -> None:
    text = flow_text("""\
        steps:
          - type: task
            name: Call
            resourceArn: acs:fc:::services/s/functions/f
            catch:
              - errors: [FnF.ALL]
                goto: Inner
          - type: choice
            name: Route
            choices:
              - condition: $.x
                steps:
                  - type: pass
                    name: Inner
                goto: Nowhere
            default:
              goto: Call
        """)
    assert problems(text) == [
        (
            "steps[0].catch[0].goto",
            "Call",
            "goto",
            9,
            9,
            "goto 'Inner' names a step outside this list; a goto can only jump to a step in the same list "
            "as 'Call' (available: Call, Route)",
        ),
        (
            "steps[1].choices[0].goto",
            "Route",
            "goto",
            17,
            9,
            "goto 'Nowhere' names no step; a goto can only jump to a step in the same list as 'Route' "
            "(available: Call, Route)",
        ),
    ]


def test_goto_inside_a_branch_sees_only_its_own_list() -> None:
    text = flow_text("""\
        steps:
          - type: choice
            name: Outer
            choices:
              - condition: $.x
                steps:
                  - type: pass
                    name: First
                  - type: choice
                    name: Inner
                    choices:
                      - condition: $.y
                        goto: First
                    default:
                      goto: Outer
          - type: pass
            name: After
        """)
    assert problems(text) == [
        (
            "steps[0].choices[0].steps[1].default.goto",
            "Inner",
            "goto",
            17,
            15,
            "goto 'Outer' names a step outside this list; a goto can only jump to a step in the same list "
            "as 'Inner' (available: First, Inner)",
        )
    ]


def test_duplicate_step_names_anywhere() -> None:
    text = flow_text("""\
        steps:
          - type: pass
            name: Same
          - type: parallel
            name: Fan
            branches:
              - steps:
                  - type: pass
                    name: Same
              - steps:
                  - type: pass
                    name: Fan
        """)
    assert problems(text) == [
        (
            "steps[1].branches[0].steps[0].name",
            "Same",
            "name",
            11,
            13,
            "duplicate step name 'Same': step names must be unique in the whole flow (first used at line 5)",
        ),
        (
            "steps[1].branches[1].steps[0].name",
            "Fan",
            "name",
            14,
            13,
            "duplicate step name 'Fan': step names must be unique in the whole flow (first used at line 7)",
        ),
    ]


def test_unreachable_steps() -> None:
    text = flow_text("""\
        steps:
          - type: succeed
            name: Done
          - type: pass
            name: Dead
          - type: pass
            name: AlsoDead
        """)
    assert problems(text) == [
        (
            "steps[1]",
            "Dead",
            None,
            6,
            5,
            "step 'Dead' is unreachable: the step before it, 'Done', is a succeed step, and no step that "
            "runs jumps to it with goto",
        ),
        (
            "steps[2]",
            "AlsoDead",
            None,
            8,
            5,
            "step 'AlsoDead' is unreachable: the step before it, 'Dead', is unreachable too, and no step "
            "that runs jumps to it with goto",
        ),
    ]


@pytest.mark.parametrize(
    ("stopper", "why"),
    [
        ("{type: fail, name: Stop}", "is a fail step"),
        ("{type: pass, name: Stop, end: true}", "has end: true"),
        ("{type: wait, name: Stop, duration: 1, end: true}", "has end: true"),
        (
            "{type: choice, name: Stop, choices: [{condition: $.a, goto: Stop}], default: {goto: Stop}}",
            "always jumps with goto (every choice and the default have one)",
        ),
    ],
)
def test_steps_that_never_continue(stopper: str, why: str) -> None:
    text = flow_text(f"""\
        steps:
          - {stopper}
          - {{type: pass, name: Next}}
        """)
    assert problems(text) == [
        (
            "steps[1]",
            "Next",
            None,
            5,
            5,
            f"step 'Next' is unreachable: the step before it, 'Stop', {why}, and no step that runs jumps "
            "to it with goto",
        )
    ]


@pytest.mark.parametrize(
    "steps",
    [
        # a choice without a default, or whose default has no goto, continues to the next step
        "[{type: choice, name: C, choices: [{condition: $.a, goto: C}]}, {type: pass, name: N}]",
        "[{type: choice, name: C, choices: [{condition: $.a, goto: C}], default: {steps: []}}, {type: "
        "pass, name: N}]",
        "[{type: choice, name: C, choices: [{condition: $.a}], default: {goto: C}}, {type: pass, name: N}]",
        # a goto from a reachable sibling: a catch, a backward loop, a forward jump over a succeed
        "[{type: task, name: T, resourceArn: 'acs:fnf:::flow/f', catch: [{errors: [E], goto: N}]}, {type: "
        "succeed, name: S}, {type: pass, name: N}]",
        "[{type: choice, name: C, choices: [{condition: $.a, goto: N}]}, {type: succeed, name: S}, {type: "
        "pass, name: N}]",
        # end: true and succeed inside a branch only end that branch
        "[{type: foreach, name: F, iterationMapping: {collection: $.xs, item: x}, steps: [{type: succeed, "
        "name: S}]}, {type: pass, name: N}]",
    ],
)
def test_reachable_steps(steps: str) -> None:
    parse_flow(flow_text(f"steps: {steps}\n"))


def test_wait_limits() -> None:
    text = flow_text("""\
        steps:
          - type: wait
            name: TooLong
            duration: 172801
          - type: wait
            name: Both
            duration: 1
            timestamp: 2019-05-02T15:04:05Z
          - type: wait
            name: NoZone
            timestamp: 2019-05-02T15:04:05
          - type: wait
            name: BadPath
            duration: $.a b
        """)
    assert problems(text) == [
        (
            "steps[0].duration",
            "TooLong",
            "duration",
            6,
            5,
            "must be between 0 and 172800 seconds, two days (got 172801)",
        ),
        ("steps[1]", "Both", None, 7, 5, "a wait step needs exactly one of duration or timestamp"),
        (
            "steps[2].timestamp",
            "NoZone",
            "timestamp",
            13,
            5,
            "'2019-05-02T15:04:05' has no time zone; add Z or an offset such as +08:00",
        ),
        (
            "steps[3].duration",
            "BadPath",
            "duration",
            16,
            5,
            "cannot parse '$.a b': unexpected 'b' at column 5",
        ),
    ]


def test_wait_values() -> None:
    flow = parse_flow(
        flow_text("""\
        steps:
          - {type: wait, name: A, duration: 172800}
          - {type: wait, name: B, duration: "1.5"}
          - {type: wait, name: C, duration: $.seconds}
          - {type: wait, name: D, timestamp: 2019-05-02T15:04:05Z}
          - {type: wait, name: E, timestamp: $.when}
        """)
    )
    assert [(s.duration, s.timestamp) for s in flow.steps if isinstance(s, WaitStep)] == [
        (172800, None),
        (1.5, None),
        (Path("input", ("seconds",), "$.seconds"), None),
        (None, "2019-05-02T15:04:05Z"),
        (None, Path("input", ("when",), "$.when")),
    ]


def test_flow_name_must_match_the_expected_name() -> None:
    text = "name: other\n" + flow_text("steps: [{type: succeed, name: Done}]\n")
    assert problems(text, expected_name="mine") == [
        ("name", None, "name", 1, 1, "name 'other' does not match the flow name 'mine'")
    ]
    assert parse_flow(text, expected_name="other").name == "other"
    assert parse_flow(text).name == "other"


def test_invalid_name() -> None:
    text = flow_text("steps:\n  - type: succeed\n    name: 1st step\n")
    assert problems(text) == [
        (
            "steps[0].name",
            "1st step",
            "name",
            5,
            5,
            "must be 1 to 128 letters, digits, '_' or '-', starting with a letter or '_' (got '1st step')",
        )
    ]


def test_problems_are_all_collected_and_sorted_by_line() -> None:
    text = "name: wrong\n" + flow_text("""\
        steps:
          - type: pass
            name: P
            end: maybe
          - type: task
            name: T
            resourceArn: nope
        timeoutSeconds: -5
        """)
    assert [(p[3], p[0], p[5]) for p in problems(text, expected_name="right")] == [
        (1, "name", "name 'wrong' does not match the flow name 'right'"),
        (7, "steps[0].end", "must be true or false (got 'maybe')"),
        (10, "steps[1].resourceArn", UNSUPPORTED_ARN),  # whole-flow checks too, in the same answer
        (11, "timeoutSeconds", "must be > 0 (got -5)"),
    ]


UNSUPPORTED_ARN = (
    "unsupported resourceArn 'nope'; expected one of: "
    "acs:fc:{region}:{account}:services/{service}[.{qualifier}]/functions/{function} "
    "(region and account may be empty); acs:mns:::/queues/{queue}/messages; "
    "acs:mns:::/topics/{topic}/messages; acs:fnf:::flow/{flow}"
)


def test_model_and_whole_flow_problems_come_in_one_answer() -> None:
    """A broken step does not hide a bad goto, a duplicate name or a bad ARN elsewhere."""
    text = flow_text("""\
        steps:
          - type: wait
            name: W
            duration: soon
          - type: choice
            name: C
            choices:
              - condition: $.x > 1
                goto: nowhere
          - type: task
            name: W
            resourceArn: nope
          - type: succeed
            name: S
        """)
    found = {(p[0], p[1]) for p in problems(text)}
    assert found >= {
        ("steps[0].duration", "W"),
        ("steps[1].choices[0].goto", "C"),
        ("steps[2].name", "W"),
        ("steps[2].resourceArn", "W"),
    }, found


def test_json_problems_have_lines_and_columns() -> None:
    text = as_json(
        flow_text("""\
            steps:
              - type: task
                name: Call
                resourceArn: acs:fc:::services/s/functions/f
                retry: [{errors: [FC.Unknown], maxAttempts: -1}]
              - type: wait
                name: W
            """)
    )
    assert text.splitlines()[13:15] == ['          "maxAttempts": -1', "        }"]
    assert problems(text) == [
        ("steps[0].retry[0].maxAttempts", "Call", "maxAttempts", 14, 11, "must be ≥ 0 (got -1)"),
        ("steps[1]", "W", None, 18, 5, "a wait step needs exactly one of duration or timestamp"),
    ]


# --- many invalid documents, briefly ---------------------------------------------------------------


def doc(*steps: str, top: str = "") -> str:
    """A flow with the given steps (YAML flow style), plus top-level lines."""
    return f"version: v1\ntype: flow\n{top}steps: [{', '.join(steps)}]\n"


P = "{type: pass, name: P}"
FNF = "type: task, name: T, resourceArn: 'acs:fnf:::flow/f'"
FE = "type: foreach, name: F, iterationMapping: {collection: $.xs, item: x}, steps: [" + P + "]"
BRANCHES = ", ".join(f"{{steps: [{{type: pass, name: B{i}}}]}}" for i in range(101))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the definition is empty; expected version, type and steps"),
        ("# only a comment\n", "the definition is empty"),
        ("- a\n- b\n", "a flow definition must be a mapping with version, type and steps, not a list"),
        ("just text\n", "not the single value 'just text'"),
        ("[1, 2]", "not a list"),
        (
            "Type: StateMachine\nSpecVersion: v1\n",
            "the CloudFlow dialect (Type: StateMachine) is not supported",
        ),
        (doc(P).replace("version: v1\n", ""), "version: missing required field 'version'"),
        (doc(P).replace("v1", "v2"), "version: must be 'v1' or 'v1beta1' (got 'v2')"),
        (doc(P).replace("type: flow", "type: flows"), "type: must be 'flow' (got 'flows')"),
        ("version: v1\ntype: flow\n", "steps: missing required field 'steps'"),
        (doc(), "steps: must not be empty"),
        ("version: v1\ntype: flow\nsteps: {a: 1}\n", "steps: must be a list (got a mapping)"),
        (doc(P, top="extra: 1\n"), "extra: unknown field 'extra'"),
        (doc(P, top="timeoutSeconds: 0\n"), "timeoutSeconds: must be > 0 (got 0)"),
        (doc("{type: pass}"), "steps[0].name: missing required field 'name'"),
        (
            doc("{type: pass, name: 5}"),
            "steps[0].name: must be a string (got 5); quote it to keep it as text",
        ),
        (
            doc("{type: pass, name: No}"),
            "steps[0].name: must be a string (got false); quote it to keep it as text",
        ),
        (doc("{type: pass, name: [a]}"), "steps[0].name: must be a string (got a list)"),
        (doc("{type: pass, name: ''}"), "steps[0].name: must be 1 to 128"),
        (doc("{type: pass, name: " + "n" * 129 + "}"), "steps[0].name: must be 1 to 128"),
        (
            doc("{type: pass, name: P, inputMappings: [{target: a}]}"),
            "inputMappings[0].source: missing required",
        ),
        (
            doc("{type: pass, name: P, outputMappings: [{target: '', source: 1}]}"),
            "[0].target: must not be empty",
        ),
        (
            doc("{type: pass, name: P, outputMappings: {a: 1}}"),
            "outputMappings: must be a list (got a mapping)",
        ),
        (doc("{type: pass, name: P, inputMappings: [{target: a, source: $input.}]}"), "it ends too early"),
        (
            doc("{" + FNF + ", pattern: x}"),
            "pattern: must be 'requestResponse', 'sync' or 'waitForCallback' (got 'x')",
        ),
        (
            doc("{" + FNF + ", retry: [{errors: [E], maxAttempts: 1.5}]}"),
            "maxAttempts: must be a whole number",
        ),
        (doc("{" + FNF + ", retry: [{errors: [E], intervalSeconds: 86401}]}"), "must be ≤ 86400 (got 86401)"),
        (doc("{" + FNF + ", retry: [{errors: [E], multiplier: 0.5}]}"), "multiplier: must be ≥ 1 (got 0.5)"),
        (doc("{" + FNF + ", retry: [{errors: E}]}"), "retry[0].errors: must be a list (got 'E')"),
        (
            doc("{" + FNF + ", catch: [{errors: [E]}]}"),
            "steps[0].catch[0].goto: missing required field 'goto'",
        ),
        (
            doc("{" + FNF + ", serviceParams: {MessageBody: $.}}"),
            "serviceParams.MessageBody: cannot parse '$.'",
        ),
        (doc("{" + FNF + ", end: 1.5}"), "steps[0].end: must be true or false (got 1.5)"),
        (doc("{type: choice, name: C}"), "steps[0].choices: missing required field 'choices'"),
        (doc("{type: choice, name: C, choices: []}"), "steps[0].choices: must not be empty"),
        (
            doc("{type: choice, name: C, choices: [{goto: C}]}"),
            "choices[0].condition: missing required field",
        ),
        (
            doc("{type: choice, name: C, choices: [{condition: ''}]}"),
            "a condition must be a non-empty string",
        ),
        (
            doc("{type: choice, name: C, choices: [{condition: $.a}], default: 1}"),
            "default: must be a mapping",
        ),
        (doc("{type: parallel, name: P}"), "steps[0].branches: missing required field 'branches'"),
        (doc("{type: parallel, name: P, branches: [{steps: []}]}"), "branches[0].steps: must not be empty"),
        (
            doc("{type: parallel, name: P, branches: [" + BRANCHES + "]}"),
            "branches: must have at most 100 items",
        ),
        (doc("{" + FE.replace("$.xs", "xs") + "}"), "collection: expected a path such as $.key (got 'xs')"),
        (
            doc("{" + FE.replace(", item: x", "") + "}"),
            "iterationMapping.item: missing required field 'item'",
        ),
        (doc("{" + FE + ", maxConcurrency: 101}"), "steps[0].maxConcurrency: must be ≤ 100 (got 101)"),
        (
            doc("{type: fail, name: F, error: " + "e" * 129 + "}"),
            "steps[0].error: must be at most 128 characters",
        ),
        (doc("{type: wait, name: W, duration: -1}"), "duration: must be between 0 and 172800 seconds"),
        (doc("{type: wait, name: W, duration: true}"), "duration: must be a number of seconds"),
        (doc("{type: wait, name: W, duration: .nan}"), "'.nan' is not a finite number"),
        (doc("{type: wait, name: W, timestamp: 5}"), "timestamp: must be an RFC 3339 timestamp"),
        (doc("{type: wait, name: W, timestamp: soon}"), "'soon' is not an RFC 3339 timestamp"),
    ],
)
def test_invalid_documents(text: str, expected: str) -> None:
    with pytest.raises(InvalidDefinition) as raised:
        parse_flow(text)
    rendered = [f"{p.path}: {p.message}" if p.path else p.message for p in raised.value.problems]
    assert any(expected in line for line in rendered), rendered


def test_every_step_type_and_field_is_accepted() -> None:
    flow = parse_flow(
        flow_text("""\
        name: everything
        timeoutSeconds: 3600
        inputMappings: [{target: orderId, source: $input.orderId}]
        outputMappings: [{target: result, source: $local.result}]
        steps:
          - type: task
            name: Ask
            resourceArn: acs:mns:::/topics/approvals/messages
            pattern: waitForCallback
            timeoutSeconds: 86400
            inputMappings:
              - {target: request, source: $input.request}
              - {target: taskToken, source: $context.task.token}
            serviceParams: {MessageBody: $}
            outputMappings: [{target: approved, source: $local.approved}]
            errorMappings: [{target: reason, source: $local.cause}]
            retry:
              - {errors: [FC.Unknown], intervalSeconds: 1, maxAttempts: 3, maxIntervalSeconds: 10}
            catch: [{errors: [FnF.TaskTimeout, Rejected], goto: Notify}]
          - type: task
            name: Child
            resourceArn: acs:fnf:::flow/child
            pattern: waitForCallback
          - type: task
            name: Queue
            resourceArn: acs:mns:::/queues/jobs/messages
            pattern: sync
          - type: parallel
            name: Fan
            branches:
              - steps: [{type: wait, name: Delay, duration: $.delaySeconds}]
              - steps: [{type: pass, name: P2, outputMappings: [{target: r, source: two}]}]
            outputMappings: [{target: results, source: "$local[*].r"}]
          - type: foreach
            name: Each
            maxConcurrency: 5
            iterationMapping: {collection: $.names, item: name, index: i}
            steps: [{type: task, name: Greet, resourceArn: "acs:fc:::services/s.v2/functions/greet"}]
          - type: choice
            name: Route
            choices:
              - condition: $.approved == true
                steps: [{type: pass, name: Go}]
                goto: Notify
            default:
              steps: [{type: fail, name: Nope, error: Rejected, cause: not approved}]
          - type: pass
            name: Notify
          - type: wait
            name: Until
            timestamp: 2019-05-02T15:04:05+08:00
            end: true
        """)
    )
    assert flow.name == "everything" and flow.timeoutSeconds == 3600
    assert [s.type for s in flow.steps] == [
        "task",
        "task",
        "task",
        "parallel",
        "foreach",
        "choice",
        "pass",
        "wait",
    ]
    ask = flow.steps[0]
    assert isinstance(ask, TaskStep)
    assert ask.serviceParams == {"MessageBody": Path("input", (), "$")}
    assert ask.catch_policy("Rejected") is not None and ask.catch_policy("Other") is None


def test_v1beta1_is_accepted() -> None:
    assert (
        parse_flow("version: v1beta1\ntype: flow\nsteps: [{type: succeed, name: S}]\n").version == "v1beta1"
    )


def test_validated_flow_is_a_flow() -> None:
    assert isinstance(parse_flow(SAGA), Flow)


# --- reading the text: YAML and JSON ---------------------------------------------------------------


def test_yaml_positions_are_keys_for_entries_and_values_for_items() -> None:
    data, positions = load_document("a:\n  - x\n  - {b: 1}\nc: 2\n")
    assert data == {"a": ["x", {"b": 1}], "c": 2}
    assert dict(positions.marks) == {
        (): (1, 1),
        ("a",): (1, 1),
        ("a", 0): (2, 5),
        ("a", 1): (3, 5),
        ("a", 1, "b"): (3, 6),
        ("c",): (4, 1),
    }
    assert positions.locate(("a", 1, "missing", 3)) == (3, 5)


def test_json_positions() -> None:
    data, positions = load_document('{\n\t"a": [1, 2e3, {"b": "\\ud83d\\ude00"}],\n\t"c": null\n}')
    assert data == {"a": [1, 2000.0, {"b": "😀"}], "c": None}
    assert dict(positions.marks) == {
        (): (1, 1),
        ("a",): (2, 2),
        ("a", 0): (2, 8),
        ("a", 1): (2, 11),
        ("a", 2): (2, 16),
        ("a", 2, "b"): (2, 17),
        ("c",): (3, 2),
    }


def test_yaml_scalars() -> None:
    data, _ = load_document(
        "ts: 2019-05-02T15:04:05Z\nday: 2020-01-01\non: yes\nn: ~\nhex: 0x10\nf: 1.5\nq: '1'\n1: one\n"
    )
    assert data == {
        "ts": "2019-05-02T15:04:05Z",
        "day": "2020-01-01",
        "on": True,
        "n": None,
        "hex": 16,
        "f": 1.5,
        "q": "1",
        "1": "one",
    }


def test_yaml_anchors_and_merge_keys() -> None:
    data, positions = load_document(
        "base: &b {x: 1, y: 2}\nmore: &m {z: 3}\nuse:\n  <<: [*b, *m]\n  y: 9\nsame: *b\n"
    )
    assert data["use"] == {"x": 1, "y": 9, "z": 3}
    assert data["same"] == {"x": 1, "y": 2}
    assert positions.locate(("use", "y")) == (5, 3)
    assert positions.locate(("use", "x")) == (1, 11)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\nb: 2\na: 3\n", [("a", "duplicate key 'a' (first written at line 1)", 3, 1)]),
        ('{"a": 1,\n "a": 2}', [("a", "duplicate key 'a' (first written at line 1)", 2, 2)]),
        (
            "s:\n  - {k: 1, k: 2}\n",
            [("s[0].k", "duplicate key 'k' (first written at line 2)", 2, 12)],
        ),
        (
            "a: [1, 2\n",
            [
                (
                    "",
                    "invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing a flow "
                    "sequence)",
                    2,
                    1,
                )
            ],
        ),
        ("a: b: c\n", [("", "invalid YAML: mapping values are not allowed here", 1, 5)]),
        (
            "a:\n\tb: 1\n",
            [
                (
                    "",
                    "invalid YAML: found character '\\t' that cannot start any token (while scanning for "
                    "the next token)",
                    2,
                    1,
                )
            ],
        ),
        (
            "a: 1\n---\nb: 2\n",
            [
                (
                    "",
                    "invalid YAML: but found another document (expected a single document in the stream)",
                    2,
                    1,
                )
            ],
        ),
        (
            "a: \x00\n",
            [("", "invalid YAML: unacceptable character #x0000 (special characters are not allowed)", 1, 4)],
        ),
        ('{"a": 1\n "b": 2}', [("", "invalid JSON: expected ',' or '}'", 2, 2)]),
        ('{"a": "x\\q"}', [("", "invalid JSON: invalid \\escape", 1, 9)]),
        ('{"a": "x', [("", "invalid JSON: unterminated string, or a control character in a string", 1, 7)]),
        ("[1, 2] x", [("", "invalid JSON: unexpected text after the end of the JSON document", 1, 8)]),
        ("a: !Ref Service/Function\n", [("a", "unsupported YAML tag '!Ref'", 1, 4)]),
        ("a: !!binary aGk=\n", [("a", "unsupported YAML tag 'tag:yaml.org,2002:binary'", 1, 4)]),
        ("a: !!set {x}\n", [("a", "unsupported YAML tag 'tag:yaml.org,2002:set' on a mapping", 1, 4)]),
        ("a: !!int x\n", [("a", "'x' is not a valid !!int", 1, 4)]),
        ("a: .inf\n", [("a", "'.inf' is not a finite number", 1, 4)]),
        ("? [k]\n: v\n", [("", "a key must be a string, not a list", 1, 3)]),
        ("a: &x [*x]\n", [("a[0]", "an alias refers to a value that contains it", 1, 4)]),
        ("a: {<<: 1}\n", [("a", "a merge key (<<) takes a mapping or a list of mappings", 1, 9)]),
    ],
)
def test_document_problems(text: str, expected: list[tuple[str, str, int, int]]) -> None:
    with pytest.raises(InvalidDefinition) as raised:
        load_document(text)
    assert [(p.path, p.message, p.line, p.column) for p in raised.value.problems] == expected


def test_json_reads_what_yaml_would_read_wrongly() -> None:
    data, _ = load_document('{"a": 1e5, "b": "on", "c": "2019-05-02T15:04:05Z", "d": -0.5, "e": "\\/"}')
    assert data == {"a": 100000.0, "b": "on", "c": "2019-05-02T15:04:05Z", "d": -0.5, "e": "/"}


def test_yaml_flow_style_and_text_that_is_not_json_but_yaml() -> None:
    assert load_document("{a: 1, b: [x]}")[0] == {"a": 1, "b": ["x"]}
    assert load_document('{"a": 1,}')[0] == {"a": 1}
    assert load_document('{"a": 010, "b": NaN, "c": on}')[0] == {"a": 8, "b": "NaN", "c": True}


def test_deep_nesting_is_refused() -> None:
    for text in ["[" * 150 + "]" * 150, "a: " + "[" * 150 + "]" * 150]:
        with pytest.raises(InvalidDefinition, match="nested more than 100 levels deep"):
            load_document(text)


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    with pytest.raises(InvalidDefinition, match="more than 200000 values"):
        load_document("\n".join(lines) + "\n")


def test_duplicates_in_aliased_values_are_reported_once() -> None:
    with pytest.raises(InvalidDefinition) as raised:
        load_document("a: &x {k: 1, k: 2}\nb: *x\nc: *x\n")
    assert [(p.path, p.line, p.column) for p in raised.value.problems] == [("a.k", 1, 14)]


def test_retry_delay_grows_and_is_capped_without_overflow() -> None:
    policy = RetryPolicy(errors=["E"], intervalSeconds=10, multiplier=2, maxAttempts=5, maxIntervalSeconds=60)
    assert [policy.delay(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]
    huge = RetryPolicy(errors=["E"], intervalSeconds=1, multiplier=1000, maxAttempts=1000)
    assert [huge.delay(n) for n in (1, 2, 3, 1000)] == [1, 1000, 86400, 86400]
    assert RetryPolicy(errors=["E"], intervalSeconds=0).delay(3) == 0
