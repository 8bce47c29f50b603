"""End-to-end: flows that run flows (acs:fnf:::flow/…) against a real server — the three patterns,
a child's failure and stop caught by its parent, parents and children naming each other, stops
that cascade, timeouts, unknown flows and flows that start themselves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, steps, wait

HERE = Path(__file__).parent
API = "/api/v1"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("children"), "--apply", str(HERE)).start()
    yield server.url
    server.stop()


def put_flow(url: str, name: str, definition: str) -> httpx.Response:
    return httpx.put(f"{url}{API}/flows/{name}", json={"definition": definition})


def describe(url: str, flow: str, name: str) -> dict[str, Any]:
    response = httpx.get(f"{url}{API}/flows/{flow}/executions/{name}")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def child_of(url: str, flow: str, name: str) -> dict[str, Any]:
    """The one child execution a parent started (waits until it exists)."""
    deadline = time.monotonic() + 30
    while not (children := describe(url, flow, name)["childExecutions"]):
        assert time.monotonic() < deadline, f"{flow}/{name} started no child"
        time.sleep(0.05)
    [child] = children
    return describe(url, child["flowName"], child["name"])


def test_a_sync_child_s_output_is_the_step_s_result_and_they_name_each_other(url: str) -> None:
    name = start(url, "checkout", {"order": "o-1", "amount": 40})["name"]
    execution = wait(url, "checkout", name)
    assert (execution["status"], execution["output"]) == ("Succeeded", {"receipt": "rcpt-o-1"})
    [child] = execution["childExecutions"]
    assert (child["flowName"], child["status"]) == ("payment", "Succeeded")
    described = describe(url, "payment", child["name"])
    assert described["parentExecution"] == {"flowName": "checkout", "name": name, "status": None}
    assert described["input"] == {"order": "o-1", "amount": 40}
    listed = httpx.get(f"{url}{API}/flows/payment/executions").json()["executions"]
    assert {"flowName": "checkout", "name": name, "status": None} in [e["parentExecution"] for e in listed]
    parent_events = history(url, "checkout", name)
    [submitted] = [e for e in parent_events if e["type"] == "TaskSubmitted"]
    assert submitted["eventDetail"] == {"childExecution": {"flowName": "payment", "name": child["name"]}}
    [began] = [e for e in history(url, "payment", child["name"]) if e["type"] == "ExecutionStarted"]
    assert began["eventDetail"]["startedBy"] == {"flowName": "checkout", "name": name}


def test_a_failed_child_fails_the_step_with_its_error_which_the_parent_catches(url: str) -> None:
    name = start(url, "checkout", {"order": "o-2", "amount": 500})["name"]
    execution = wait(url, "checkout", name)
    assert (execution["status"], execution["output"]) == ("Succeeded", {"declined": True})
    [failed] = [e for e in history(url, "checkout", name) if e["type"] == "TaskFailed"]
    assert failed["eventDetail"]["error"] == "PaymentDeclined"
    assert "over the card's limit" in failed["eventDetail"]["cause"]
    [child] = execution["childExecutions"]
    assert child["status"] == "Failed"


def test_a_wait_for_callback_child_reports_the_parent_s_token_from_a_parallel_branch(url: str) -> None:
    name = start(url, "purchase-request", {"item": "laptop"})["name"]
    execution = wait(url, "purchase-request", name)
    assert execution["status"] == "Succeeded"
    assert execution["output"] == {"approved": True, "approver": "alice"}
    [child] = execution["childExecutions"]
    finished = wait(url, "approval", child["name"])
    assert finished["status"] == "Succeeded"
    assert finished["output"] == {}, "a parallel step's output is empty unless mapped"


def test_stopping_a_child_with_an_error_of_your_own_runs_the_parent_s_post_action(url: str) -> None:
    name = start(url, "nightly-report", {"reportName": "report-2026-12-05"})["name"]
    child = child_of(url, "nightly-report", name)
    assert child["name"] == "report-2026-12-05", "serviceParams.ExecutionName names the child"
    stop = {"error": "AnyCustomError", "cause": "the data is late"}
    stopped = httpx.post(f"{url}{API}/flows/long-report/executions/{child['name']}/stop", json=stop)
    assert stopped.json()["status"] == "Stopped"
    execution = wait(url, "nightly-report", name)
    assert (execution["status"], execution["output"]) == ("Succeeded", {"cleanedUp": True})
    assert steps(history(url, "nightly-report", name), "StepEntered") == ["RunReport", "CleanUp"]


def test_stopping_a_parent_stops_its_running_children(url: str) -> None:
    name = start(url, "nightly-report", {"reportName": "report-stopped-parent"})["name"]
    child = child_of(url, "nightly-report", name)
    httpx.post(f"{url}{API}/flows/nightly-report/executions/{name}/stop", json={}).raise_for_status()
    ended = wait(url, "long-report", child["name"])
    assert ended["status"] == "Stopped"
    assert ended["cause"] == f"its parent execution '{name}' of flow 'nightly-report' ended Stopped"


def test_a_parent_that_times_out_stops_its_child_and_a_child_that_times_out_fails_with_fnf_timeout(
    url: str,
) -> None:
    impatient = """
version: v1
type: flow
timeoutSeconds: 1
steps:
  - {type: task, name: Run, resourceArn: "acs:fnf:::flow/long-report", pattern: sync}
"""
    assert put_flow(url, "impatient", impatient).status_code in (200, 201)
    name = start(url, "impatient", {})["name"]
    assert wait(url, "impatient", name)["status"] == "TimedOut"
    [child] = describe(url, "impatient", name)["childExecutions"]
    assert wait(url, "long-report", child["name"])["status"] == "Stopped"

    slow_child = (
        "version: v1\ntype: flow\ntimeoutSeconds: 1\nsteps:\n  - {type: wait, name: W, duration: 60}\n"
    )
    assert put_flow(url, "slow-child", slow_child).status_code in (200, 201)
    waiting = """
version: v1
type: flow
steps:
  - type: task
    name: Run
    resourceArn: "acs:fnf:::flow/slow-child"
    pattern: sync
    catch: [{errors: [FnF.Timeout], goto: Late}]
  - {type: succeed, name: OnTime}
  - {type: pass, name: Late, outputMappings: [{target: late, source: true}]}
"""
    assert put_flow(url, "waiting", waiting).status_code in (200, 201)
    assert wait(url, "waiting", start(url, "waiting", {})["name"])["output"] == {"late": True}


def test_request_response_goes_on_once_the_child_has_started(url: str) -> None:
    fire = """
version: v1
type: flow
steps:
  - type: task
    name: Kick
    resourceArn: "acs:fnf:::flow/long-report"
    outputMappings:
      - {target: child, source: $local.Name}
      - {target: childStatus, source: $local.Status}
      - {target: childFlow, source: $local.FlowName}
"""
    assert put_flow(url, "fire", fire).status_code in (200, 201)
    execution = wait(url, "fire", start(url, "fire", {})["name"])
    assert execution["status"] == "Succeeded"
    output = execution["output"]
    assert (output["childStatus"], output["childFlow"]) == ("Running", "long-report")
    assert describe(url, "long-report", output["child"])["status"] == "Running"
    httpx.post(f"{url}{API}/flows/long-report/executions/{output['child']}/stop", json={})


def test_an_unknown_child_flow_fails_the_step_and_a_flow_that_starts_itself_is_bounded(url: str) -> None:
    orphan = """
version: v1
type: flow
steps:
  - {type: task, name: Run, resourceArn: "acs:fnf:::flow/never-created", pattern: sync}
"""
    assert put_flow(url, "orphan", orphan).status_code in (200, 201)
    execution = wait(url, "orphan", start(url, "orphan", {})["name"])
    assert (execution["status"], execution["error"]) == ("Failed", "FnF.FlowNotExists")
    assert "never-created" in execution["cause"]

    forever = """
version: v1
type: flow
steps:
  - {type: task, name: Again, resourceArn: "acs:fnf:::flow/forever", pattern: sync}
"""
    assert put_flow(url, "forever", forever).status_code in (200, 201)
    top = wait(url, "forever", start(url, "forever", {}, name="forever-0")["name"])
    assert (top["status"], top["error"]) == ("Failed", "FnF.RuntimeError")
    assert "nest at most 16 deep" in top["cause"]
