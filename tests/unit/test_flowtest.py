"""``fnflow test``: the in-process runtime on virtual time, test files, their errors, the CLI's
outputs, coverage and the Python API. Cases run the real engine, runtime and store (SQLite)."""

from __future__ import annotations

import asyncio
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from fnflow.cli import app
from fnflow.clock import VirtualClock
from fnflow.flowtest.harness import Template
from fnflow.flowtest.load import TestFileError, load_test_file
from fnflow.flowtest.replay import Event as ReplayEvent
from fnflow.flowtest.replay import Recorded, Replay, mocks_from_history, replay
from fnflow.flowtest.runner import Session, SessionResult
from fnflow.flowtest.spec import schema_text, shipped_schema
from fnflow.testing import FlowTester
from fnflow.testing import flow_tester as flow_tester  # the fixture, as a conftest imports it

LOOP = """\
version: v1
type: flow
steps:
  - type: task
    name: Check
    resourceArn: acs:fc:::services/s/functions/check
    timeoutSeconds: 30
    retry:
      - errors: [FnF.TaskTimeout]
        intervalSeconds: 5
        maxAttempts: 1
    catch:
      - errors: [Broken]
        goto: Broke
  - type: choice
    name: Done
    choices:
      - condition: $.done == true
        goto: Finish
    default:
      goto: Pause
  - type: wait
    name: Pause
    duration: 60
  - type: choice
    name: Again
    choices:
      - condition: $.never == true
        goto: Finish
    default:
      goto: Check
  - type: succeed
    name: Finish
  - type: fail
    name: Broke
    error: Broken
    cause: it broke
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def run(tmp_path: Path, test: str, flow: str = LOOP) -> SessionResult:
    write(tmp_path, "flow.yaml", flow)
    return Session().run_paths([write(tmp_path, "flow.test.yaml", test)])


def only(result: SessionResult) -> list[str]:
    assert not result.errors, result.errors
    [case] = result.cases
    return [f"{m.field}: {m.message}" for m in case.mismatches]


# --- the virtual clock ------------------------------------------------------------------------------


def test_virtual_clock_sleepers_wake_in_order_when_time_moves() -> None:
    async def main() -> list[str]:
        clock = VirtualClock(datetime(2024, 1, 1, tzinfo=UTC))
        woke: list[str] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append(f"{name}@{clock.elapsed:g}")

        tasks = [asyncio.create_task(sleeper("b", 20)), asyncio.create_task(sleeper("a", 10))]
        await asyncio.sleep(0)
        assert clock.next_deadline() == 10
        clock.advance(10)
        await asyncio.sleep(0)
        event = asyncio.Event()
        waiting = asyncio.create_task(clock.wait(event, 100))
        await asyncio.sleep(0)
        clock.advance(20)
        await asyncio.gather(*tasks)
        event.set()
        assert await waiting is True
        assert clock.now() == datetime(2024, 1, 1, 0, 0, 20, tzinfo=UTC)
        return woke

    assert asyncio.run(main()) == ["a@10", "b@20"]


# --- running cases --------------------------------------------------------------------------------


def test_waits_retries_and_timeouts_take_virtual_time_only(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        """\
        flow: flow.yaml
        cases:
          - name: not done, then a timed-out attempt, a retry after 5 s, done
            mocks:
              Check:
                - {result: {done: false}, delay: 10}
                - {hang: true}
                - {result: {done: true}}
            expect:
              status: Succeeded
              steps: [Check, Done, Pause, Again, Check, Done, Finish]
              attempts: {Check: 3}
              duration: 105   # 10 + 60 + 30 (timeout) + 5 (back-off)
        """,
    )
    assert only(result) == []
    assert result.wall < 30  # 105 virtual seconds, no real waiting (bounded generously: shared machines)
    history = result.cases[0].run.execution
    assert history is not None
    types = [e.type for e in history.history]
    assert "TaskTimedOut" in types


def test_a_run_repeats_exactly(tmp_path: Path) -> None:
    tester = FlowTester(write(tmp_path, "flow.yaml", LOOP))
    mocks = {"Check": [{"result": {"done": False}, "delay": 3}, {"result": {"done": True}}]}
    first, second = (tester.run({"x": 1}, mocks=mocks, name="same") for _ in range(2))
    assert first.history == second.history
    assert [(e.time, e.type) for e in first.run.execution.history] == [  # type: ignore[union-attr]
        (e.time, e.type)
        for e in second.run.execution.history  # type: ignore[union-attr]
    ]


def test_an_unmocked_task_fails_the_case_naming_the_step(tmp_path: Path) -> None:
    result = run(tmp_path, "flow: flow.yaml\ncases: [{name: no mocks, expect: {status: Succeeded}}]\n")
    [message] = only(result)
    assert "step 'Check' calls acs:fc:::services/s/functions/check and has no mock" in message


def test_a_never_ending_flow_stops_at_the_time_limit(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        """\
        flow: flow.yaml
        cases:
          - name: never done
            timeLimit: 3600
            mocks: {Check: {result: {done: false}}}
        """,
    )
    [message] = only(result)
    assert "did not end within 3600 virtual seconds (timeLimit)" in message


def test_a_flow_waiting_for_an_answer_that_never_comes_says_so(tmp_path: Path) -> None:
    flow = LOOP.replace("    timeoutSeconds: 30\n", "")
    result = run(tmp_path, "flow: flow.yaml\ncases: [{name: hangs, mocks: {Check: {hang: true}}}]\n", flow)
    [message] = only(result)
    assert "nothing more can happen: step(s) 'Check' wait for an answer that never comes" in message


def test_a_flow_timeout_ends_the_execution_timed_out(tmp_path: Path) -> None:
    flow = LOOP.replace("type: flow\n", "type: flow\ntimeoutSeconds: 100\n")
    result = run(
        tmp_path,
        """\
        flow: flow.yaml
        cases:
          - name: too slow
            mocks: {Check: {result: {done: false}}}
            expect: {status: TimedOut, error: FnF.Timeout, duration: 100}
        """,
        flow,
    )
    assert only(result) == []


def test_mismatches_show_what_differs(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        """\
        flow: flow.yaml
        cases:
          - name: wrong on purpose
            mocks: {Check: {error: Broken, cause: snapped}}
            expect:
              status: Succeeded
              output: {done: true}
              steps: [Check, Finish]
              attempts: {Check: 2}
              duration: 1
        """,
    )
    messages = only(result)
    assert messages == [
        "status: expected Succeeded, got Failed (Broken: it broke)",
        "output: the output differs",
        "steps: the steps entered differ",
        "attempts.Check: expected 2 attempt(s) of 'Check', got 1",
        "duration: expected 1 virtual seconds, took 0",
    ]
    steps = next(m for m in result.cases[0].mismatches if m.field == "steps")
    assert '-  "Finish"' in steps.diff and '+  "Broke"' in steps.diff


def test_a_callback_mock_reports_with_the_task_token(tmp_path: Path) -> None:
    flow = LOOP.replace("    timeoutSeconds: 30\n", "    pattern: waitForCallback\n    timeoutSeconds: 30\n")
    result = run(
        tmp_path,
        """\
        flow: flow.yaml
        cases:
          - name: reported after 20 s
            mocks: {Check: {result: {done: true}, delay: 20}}
            expect: {status: Succeeded, duration: 20, steps: [Check, Done, Finish]}
        """,
        flow,
    )
    assert only(result) == []
    execution = result.cases[0].run.execution
    assert execution is not None
    assert [e.type for e in execution.history if e.step == "Check"] == [
        "StepEntered",
        "TaskScheduled",
        "TaskSubmitted",
        "TaskSucceeded",
        "StepExited",
    ]


# --- bad test files -------------------------------------------------------------------------------


def problems(tmp_path: Path, test: str, flow: str = LOOP) -> list[str]:
    write(tmp_path, "flow.yaml", flow)
    path = write(tmp_path, "bad.test.yaml", test)
    with pytest.raises(TestFileError) as raised:
        load_test_file(path)
    return [str(p).replace(str(tmp_path) + "/", "") for p in raised.value.problems]


def test_a_test_file_that_does_not_match_the_schema_names_file_line_and_field(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        flow: flow.yaml
        cases:
          - name: one
            mocks:
              Check: {reslt: {}}
            expect:
              status: Done
              duration: -1
        """,
    )
    assert found == [
        "bad.test.yaml:5:7: cases[0].mocks.Check[0].reslt: unknown field 'reslt' (did you mean 'result'? "
        "allowed: result, error, cause, delay, hang, status, times)",
        "bad.test.yaml:7:7: cases[0].expect.status: must be 'Succeeded', 'Failed', 'Stopped' or 'TimedOut'",
        "bad.test.yaml:8:7: cases[0].expect.duration: must be greater than or equal to 0",
    ]


def test_a_mock_for_a_step_or_arn_the_flow_does_not_have_is_an_error(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        flow: flow.yaml
        mocks:
          Chek: {result: {}}
        cases:
          - name: one
            mocks:
              Pause: {result: {}}
              "acs:fc:::services/s/functions/chek": {}
            expect: {attempts: {Nope: 1}}
        """,
    )
    assert found == [
        "bad.test.yaml:3:3: mocks.Chek: a mock for step 'Chek', which does not exist (did you mean 'Check'? "
        "task steps: Check)",
        "bad.test.yaml:7:7: cases[0].mocks.Pause: a mock for step 'Pause', which is not a task step "
        "(task steps: Check)",
        'bad.test.yaml:8:7: cases[0].mocks["acs:fc:::services/s/functions/chek"]: no task step calls '
        "acs:fc:::services/s/functions/chek (did you mean 'acs:fc:::services/s/functions/check'?)",
        "bad.test.yaml:9:25: cases[0].expect.attempts.Nope: no task step 'Nope'",
    ]


def test_a_missing_or_invalid_flow_file_is_reported_where_it_is(tmp_path: Path) -> None:
    assert problems(tmp_path, "flow: nope.yaml\ncases: [{name: one}]\n") == [
        "bad.test.yaml:1:1: flow: flow: no such file nope.yaml"
    ]
    broken = LOOP.replace("duration: 60", "duration: soon")
    [problem] = problems(tmp_path, "flow: flow.yaml\ncases: [{name: one}]\n", broken)
    assert problem.startswith("flow.yaml:24:")
    assert "duration" in problem


def test_not_yaml_or_not_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, "flow: [\n") == [
        "bad.test.yaml:2:1: invalid YAML: expected the node content, but found '<stream end>' "
        "(while parsing a flow node)"
    ]
    assert problems(tmp_path, "- 1\n") == [
        "bad.test.yaml:1:1: a test file is a mapping with flow and cases (see fnflow test --schema)"
    ]


# --- the command line -----------------------------------------------------------------------------


def test_the_cli_prints_dots_json_junit_and_coverage(tmp_path: Path) -> None:
    write(tmp_path, "flow.yaml", LOOP)
    write(
        tmp_path,
        "flow.test.yaml",
        """\
        flow: flow.yaml
        cases:
          - name: done at once
            mocks: {Check: {result: {done: true}}}
            expect: {status: Succeeded}
          - name: fails on purpose
            mocks: {Check: {result: {done: true}}}
            expect: {status: Failed}
        """,
    )
    runner = CliRunner()
    junit = tmp_path / "junit.xml"
    text = runner.invoke(app, ["test", str(tmp_path), "--coverage", "--junit-xml", str(junit)])
    assert text.exit_code == 1, text.output
    assert "flow.test.yaml .F" in text.output
    assert "status: expected Failed, got Succeeded" in text.output
    assert "1 passed, 1 failed" in text.output
    assert "missing: choice Done → default" in text.output
    suites = ElementTree.parse(junit).getroot()
    assert [c.get("name") for c in suites.iter("testcase")] == ["done at once", "fails on purpose"]
    assert len(list(suites.iter("failure"))) == 1

    as_json = runner.invoke(app, ["test", str(tmp_path), "--output", "json", "--coverage"])
    report = json.loads(as_json.output)
    assert (report["passed"], report["failed"]) == (1, 1)
    [flow] = report["coverage"]["flows"]
    assert flow["covered"] < flow["items"]
    assert "retry Check[0] FnF.TaskTimeout" in flow["missing"]


def test_fail_under_and_exit_codes(tmp_path: Path) -> None:
    write(tmp_path, "flow.yaml", LOOP)
    write(
        tmp_path,
        "flow.test.yaml",
        "flow: flow.yaml\ncases: [{name: ok, mocks: {Check: {result: {done: true}}}}]\n",
    )
    runner = CliRunner()
    assert runner.invoke(app, ["test", str(tmp_path)]).exit_code == 0
    under = runner.invoke(app, ["test", str(tmp_path), "--fail-under", "90"])
    assert under.exit_code == 1
    assert "is under --fail-under 90%" in under.output
    write(tmp_path, "broken.test.yaml", "flow: flow.yaml\ncases: []\n")
    broken = runner.invoke(app, ["test", str(tmp_path)])
    assert broken.exit_code == 2
    assert "broken.test.yaml:2:1: cases: must have at least 1 item(s)" in broken.output
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = runner.invoke(app, ["test", str(empty)])
    assert nothing.exit_code == 2
    assert "no test files" in nothing.output


def test_the_shipped_schema_is_the_models_schema() -> None:
    assert shipped_schema() == schema_text()
    printed = CliRunner().invoke(app, ["test", "--schema"])
    assert json.loads(printed.output)["title"] == "fnflow test file (*.test.yaml)"


# --- Python ---------------------------------------------------------------------------------------


def test_the_fixture_runs_flows_with_mocks_and_expectations(
    tmp_path: Path, flow_tester: type[FlowTester]
) -> None:
    tester = flow_tester(write(tmp_path, "flow.yaml", LOOP), mocks={"Check": {"result": {"done": True}}})
    run = tester.run({"order": 7})
    run.expect(status="Succeeded", steps=["Check", "Done", "Finish"], duration=0)
    assert run.attempts("Check") == 1
    broken = tester.run(mocks={"Check": {"error": "Broken"}})
    with pytest.raises(AssertionError, match="status: expected Succeeded, got Failed"):
        broken.expect(status="Succeeded")
    with pytest.raises(TestFileError, match="a mock for step 'Chec'"):
        flow_tester(tmp_path / "flow.yaml", mocks={"Chec": {}})


# --- replay ---------------------------------------------------------------------------------------


def recorded_run(tmp_path: Path) -> tuple[Recorded, str]:
    """An execution recorded by the test runtime (as a server records one): one not-done check that
    took 3 s, a minute's pause, a timed-out attempt, a retry, done."""
    path = write(tmp_path, "flow.yaml", LOOP)
    mocks = {"Check": [{"result": {"done": False}, "delay": 3}, {"hang": True}, {"result": {"done": True}}]}
    run = FlowTester(path, name="loop").run({"n": 1}, mocks=mocks, name="r1")
    assert run.run.execution is not None
    events = [
        ReplayEvent(e.event_id, e.type, e.step, e.time, json.loads(e.detail), e.schedule_event_id)
        for e in run.run.execution.history
    ]
    return Recorded("loop", "r1", {"n": 1}, "Succeeded", events), LOOP


def replayed(recorded: Recorded, definition: str) -> Replay:
    template = Template()
    try:
        return asyncio.run(replay(recorded, definition, template, time_limit=10**6))
    finally:
        template.close()


def test_replay_of_the_same_definition_repeats_the_history(tmp_path: Path) -> None:
    recorded, flow = recorded_run(tmp_path)
    mocks = mocks_from_history(recorded.events)
    assert [(m.result, m.error, m.hang, m.delay) for m in mocks["Check"]] == [
        ({"done": False}, None, False, 3),
        (None, None, True, 0),
        ({"done": True}, None, False, 0),
    ]
    result = replayed(recorded, flow)
    assert result.divergence is None, result.to_dict()
    assert result.status == "Succeeded"


def test_replay_finds_where_an_edited_definition_diverges(tmp_path: Path) -> None:
    recorded, flow = recorded_run(tmp_path)
    other_way = replayed(recorded, flow.replace("$.done == true", "$.done == false"))
    d = other_way.divergence
    assert d is not None and d.recorded is not None and d.replayed is not None
    assert (d.why, d.recorded.type, d.recorded.step, d.replayed.step) == (
        "a different event",
        "StepEntered",
        "Pause",
        "Finish",
    )
    later = replayed(recorded, flow.replace("duration: 60", "duration: 90")).divergence
    assert later is not None and later.why == "the same event at another time"
    assert later.recorded is not None and later.recorded.step == "Pause"
    new_step = flow.replace(
        "  - type: choice\n    name: Done\n",
        "  - type: task\n    name: Notify\n    resourceArn: acs:fc:::services/s/functions/notify\n"
        "  - type: choice\n    name: Done\n",
    )
    added = replayed(recorded, new_step)
    assert added.divergence is not None and added.divergence.replayed is not None
    assert added.divergence.replayed.step == "Notify"
    assert "step 'Notify' calls acs:fc:::services/s/functions/notify and has no mock" in added.problems[0]
