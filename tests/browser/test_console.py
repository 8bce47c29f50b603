"""The console against a real server: flows and their graphs, an execution followed live, a failed
step's error, stop, re-run, dead letters redriven, 10,000 executions paged, and sign-in."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnflow.functions.codepkg import pack_directory
from fnflow.services.keys import new_key
from fnflow.store import ExecutionRecord, Tx, open_store
from fnflow.testing import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHILDREN = ROOT / "examples" / "child-flows"
TIMEOUT = 30_000  # ms: what a page may take to show what it must, on a loaded machine
BULK = 10_000

STEPS = """
version: v1
type: flow
steps:
  - {type: pass, name: Prepare, outputMappings: [{target: ready, source: true}]}
  - {type: wait, name: Pause, duration: $.pause}
  - {type: pass, name: Finish}
"""
APPROVAL = """
version: v1
type: flow
steps:
  - {type: pass, name: Prepare}
  - type: task
    name: Approve
    resourceArn: acs:mns:::/queues/approvals/messages
    pattern: waitForCallback
    inputMappings: [{target: token, source: $context.task.token}]
"""
BROKEN = """
version: v1
type: flow
steps:
  - {type: pass, name: Before}
  - {type: fail, name: Explode, error: Kaboom, cause: the reactor overheated}
"""


def wait_for(read: Any, done: Any, seconds: float = 30) -> Any:
    """``read()`` until ``done`` holds of it (decided by recorded state, not by how long it took)."""
    import time

    deadline = time.monotonic() + seconds
    while not done(value := read()):
        assert time.monotonic() < deadline, f"never happened: {value}"
        time.sleep(0.05)
    return value


def put_flow(url: str, name: str, definition: str) -> None:
    response = httpx.put(f"{url}/api/v1/flows/{name}", json={"definition": definition})
    assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("console")
    process = ServerProcess(root, "--apply", str(CHILDREN))
    bulk_executions(process.db)
    process.start()
    put_flow(process.url, "steps", STEPS)
    put_flow(process.url, "broken", BROKEN)
    put_flow(process.url, "bulk", STEPS)
    assert httpx.put(f"{process.url}/api/v1/queues/approvals", json={}).status_code in (200, 201)
    put_flow(process.url, "approval", APPROVAL)
    yield process
    process.stop()


def bulk_executions(db: str) -> None:
    """10,000 finished executions of flow ``bulk``, written straight into the database."""
    store = open_store(db)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)  # well within the retention
    template = ExecutionRecord(
        id="", flow_name="bulk", name="", status="Succeeded", definition_hash="h", input="{}",
        started_at=t0, output="{}", stopped_at=t0, state=None,
    )  # fmt: skip

    def insert(tx: Tx) -> None:
        for i in range(BULK):
            when = t0 + timedelta(seconds=i)
            status = "Failed" if i % 100 == 0 else "Succeeded"
            tx.insert_execution(
                replace(
                    template,
                    id=str(uuid.uuid4()),
                    name=f"run-{i:05d}",
                    started_at=when,
                    stopped_at=when,
                    status=status,
                )
            )

    try:
        store.write_sync(insert)
    finally:
        store.close()


def test_flows_and_a_flow_s_graph(page: Any, server: ServerProcess, screenshots: Path) -> None:
    page.goto(f"{server.url}/")  # redirects to the console
    page.get_by_role("link", name="checkout").wait_for(timeout=TIMEOUT)
    page.screenshot(path=screenshots / "flows.png")
    page.get_by_role("link", name="checkout").click()
    graph = page.locator(".graph svg")
    graph.wait_for(timeout=TIMEOUT)
    assert graph.locator("g.step[data-step]").count() == 5  # Pay, Paid, Declined, and start and end
    assert "flow payment · sync" in graph.text_content()
    assert "PaymentDeclined" in graph.text_content(), "the catch edge is labelled"


def test_an_execution_started_from_the_form_lights_up_step_by_step(
    page: Any, server: ServerProcess, screenshots: Path
) -> None:
    page.goto(f"{server.url}/ui/#/flows/steps")
    page.get_by_label("input").fill('{"pause": 2}')
    page.get_by_label("execution name").fill("lit")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**/executions/lit", timeout=TIMEOUT)
    page.locator('g.step[data-step="Prepare"].state-succeeded').wait_for(timeout=TIMEOUT)
    page.locator('g.step[data-step="Pause"].state-waiting').wait_for(timeout=TIMEOUT)
    page.screenshot(path=screenshots / "execution-running.png")
    page.locator('g.step[data-step="Finish"].state-succeeded').wait_for(timeout=TIMEOUT)
    page.locator(".execution-status .status.Succeeded").wait_for(timeout=TIMEOUT)
    timeline = page.locator(".timeline tbody tr")
    assert timeline.count() == 8, "every event, once, as the history grew"
    assert timeline.last.locator("td").nth(2).inner_text() == "ExecutionSucceeded"
    page.locator('g.step[data-step="Prepare"]').click()
    panel = page.locator(".step-panel")
    assert "succeeded" in panel.locator(".step-state").inner_text()
    assert json.loads(panel.locator("pre").last.inner_text()) == {"ready": True}


def test_a_failed_step_shows_its_error(page: Any, server: ServerProcess, screenshots: Path) -> None:
    name = httpx.post(f"{server.url}/api/v1/flows/broken/executions", json={"name": "boom"}).json()["name"]
    page.goto(f"{server.url}/ui/#/flows/broken/executions/{name}")
    failed = page.locator('g.step[data-step="Explode"].state-failed')
    failed.wait_for(timeout=TIMEOUT)
    failed.click()
    error = page.locator(".step-panel .step-error")
    assert "Kaboom" in error.inner_text() and "the reactor overheated" in error.inner_text()
    assert page.locator(".execution-status .status.Failed").count() == 1
    page.screenshot(path=screenshots / "execution-failed.png")


def test_stop_and_run_again(page: Any, server: ServerProcess) -> None:
    httpx.post(f"{server.url}/api/v1/flows/steps/executions", json={"name": "long", "input": {"pause": 3600}})
    page.goto(f"{server.url}/ui/#/flows/steps/executions/long")
    page.locator('g.step[data-step="Pause"].state-waiting').wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Stop").click()
    page.locator(".execution-status .status.Stopped").wait_for(timeout=TIMEOUT)
    page.locator('g.step[data-step="Pause"].state-interrupted').wait_for(timeout=TIMEOUT)
    assert httpx.get(f"{server.url}/api/v1/flows/steps/executions/long").json()["status"] == "Stopped"
    page.get_by_role("button", name="Run again…").click()
    page.wait_for_url("**/#/flows/steps", timeout=TIMEOUT)
    assert json.loads(page.get_by_label("input").input_value()) == {"pause": 3600}


def test_a_parent_links_to_its_child_and_back(page: Any, server: ServerProcess) -> None:
    name = httpx.post(
        f"{server.url}/api/v1/flows/checkout/executions", json={"input": {"order": "o-9", "amount": 5}}
    ).json()["name"]
    page.goto(f"{server.url}/ui/#/flows/checkout/executions/{name}")
    page.locator(".execution-status .status.Succeeded").wait_for(timeout=TIMEOUT)
    page.locator("a.child").click()
    page.locator("a.parent").wait_for(timeout=TIMEOUT)
    assert page.locator("a.parent").inner_text() == f"checkout/{name}"


def test_a_dead_letter_is_redriven(page: Any, server: ServerProcess, tmp_path: Path) -> None:
    code = tmp_path / "fails"
    code.mkdir()
    (code / "index.py").write_text("def handler(event, context):\n    raise RuntimeError('no')\n")
    deploy = {
        "handler": "index.handler",
        "asyncPolicy": {"retries": 0},
        "code": base64.b64encode(pack_directory(code)).decode(),
    }
    assert httpx.put(f"{server.url}/api/v1/functions/default/fails", json=deploy).status_code in (200, 201)
    httpx.post(f"{server.url}/async-function/fails", content=b"x", headers={"X-Call-Id": "doomed"})
    dead = wait_for(lambda: httpx.get(f"{server.url}/api/v1/calls/doomed").json(), lambda c: c["deadLetter"])
    page.goto(f"{server.url}/ui/#/calls")
    page.get_by_label("dead letters only").check()
    page.locator("tr.call", has_text="doomed").get_by_role("button", name="Redrive").click()
    again = wait_for(
        lambda: httpx.get(f"{server.url}/api/v1/calls/doomed").json(),
        lambda c: c["finishedTime"] != dead["finishedTime"],
    )
    assert again["createdTime"] == dead["createdTime"], "the same call ran again"


def test_ten_thousand_executions_page_by_page(page: Any, server: ServerProcess) -> None:
    page.goto(f"{server.url}/ui/#/flows/bulk")
    rows = page.locator("tr.execution")
    rows.first.wait_for(timeout=TIMEOUT)
    assert rows.count() == 50 and rows.first.locator("td").first.inner_text() == "run-09999"
    for pages in (2, 3):
        page.get_by_role("button", name="More").click()
        page.wait_for_function(
            f"document.querySelectorAll('tr.execution').length === {50 * pages}", timeout=TIMEOUT
        )
    page.get_by_label("status").select_option("Failed")
    page.wait_for_function("document.querySelectorAll('tr.execution').length === 50", timeout=TIMEOUT)
    assert rows.first.locator("td").first.inner_text() == "run-09900"
    page.get_by_label("name starts with").fill("run-0420")
    page.wait_for_function("document.querySelectorAll('tr.execution').length === 1", timeout=TIMEOUT)
    assert rows.first.locator("td").first.inner_text() == "run-04200"


def test_with_auth_on_nothing_shows_without_a_valid_key(page: Any, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--auth", "on")
    key = new_key("invoke")
    store = open_store(server.db)
    try:
        store.write_sync(lambda tx: tx.put_key(key))
    finally:
        store.close()
    server.start()
    try:
        assert httpx.get(f"{server.url}/api/v1/flows").status_code == 401
        page.goto(f"{server.url}/ui/")
        dialog = page.locator("dialog#login")
        dialog.wait_for(timeout=TIMEOUT)
        page.get_by_label("Key").fill("nobody:nothing")
        page.get_by_role("button", name="Sign in").click()
        page.locator("#login-error", has_text="does not accept").wait_for(timeout=TIMEOUT)
        page.get_by_label("Key").fill(f"{key.id}:{key.secret}")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Flows").wait_for(timeout=TIMEOUT)
    finally:
        server.stop()


def _token(url: str, name: str) -> str:
    events = httpx.get(f"{url}/api/v1/flows/approval/executions/{name}/history").json()["events"]
    return str([e for e in events if e["type"] == "TaskScheduled"][-1]["eventDetail"]["input"]["token"])


def test_redrive_and_reset_from_the_execution_page(page: Any, server: ServerProcess) -> None:
    httpx.post(f"{server.url}/api/v1/flows/approval/executions", json={"name": "ask"})
    first = wait_for(lambda: _token(server.url, "ask"), bool)
    httpx.post(f"{server.url}/api/v1/tasks/fail", json={"taskToken": first, "error": "Away"})
    page.goto(f"{server.url}/ui/#/flows/approval/executions/ask")
    page.locator(".execution-status .status.Failed").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Redrive").click()
    page.locator(".execution-status .status.Running").wait_for(timeout=TIMEOUT)
    second = wait_for(lambda: _token(server.url, "ask"), lambda token: token != first)
    httpx.post(f"{server.url}/api/v1/tasks/succeed", json={"taskToken": second, "output": {"ok": True}})
    page.locator(".execution-status .status.Succeeded").wait_for(timeout=TIMEOUT)

    page.locator('g.step[data-step="Approve"]').click()
    page.get_by_role("button", name="Reset to this step").click()
    page.wait_for_url("**/executions/ask-reset-*", timeout=TIMEOUT)
    page.locator(".execution-status .status.Running").wait_for(timeout=TIMEOUT)
    page.locator('g.step[data-step="Approve"]').click()
    page.get_by_role("button", name="Reset to this step").wait_for(timeout=TIMEOUT)
    page.locator('g.step[data-step="Prepare"]').click()
    page.get_by_role("button", name="Reset to this step").click()
    page.locator(".step-panel .error", has_text="is a pass step").wait_for(timeout=TIMEOUT)


def test_flow_versions_start_on_one_and_roll_back(page: Any, server: ServerProcess) -> None:
    put_flow(server.url, "versioned", STEPS)
    put_flow(server.url, "versioned", STEPS.replace("name: Finish", "name: Done"))
    page.goto(f"{server.url}/ui/#/flows/versioned")
    rows = page.locator(".versions tbody tr")
    rows.nth(1).wait_for(timeout=TIMEOUT)
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())] == ["2", "1"]
    page.get_by_label("flow version").select_option("1")
    page.get_by_label("input").fill('{"pause": 0}')
    page.get_by_label("execution name").fill("on-v1")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**/executions/on-v1", timeout=TIMEOUT)
    page.locator(".flow-version", has_text="version 1").wait_for(timeout=TIMEOUT)
    page.locator('g.step[data-step="Finish"].state-succeeded').wait_for(timeout=TIMEOUT)

    page.goto(f"{server.url}/ui/#/flows/versioned")
    page.get_by_role("button", name="Roll back to this").click()
    page.locator(".versions tbody tr").nth(2).wait_for(timeout=TIMEOUT)
    flow = httpx.get(f"{server.url}/api/v1/flows/versioned").json()
    assert flow["version"] == 3 and "name: Finish" in flow["definition"], (
        "version 1's definition, as a new one"
    )


def test_service_versions_and_aliases(page: Any, server: ServerProcess, tmp_path: Path) -> None:
    code = tmp_path / "echo"
    code.mkdir()
    (code / "index.py").write_text("def handler(event, context):\n    return event\n")
    deploy = {"handler": "index.handler", "code": base64.b64encode(pack_directory(code)).decode()}
    assert httpx.put(f"{server.url}/api/v1/functions/shop/echo", json=deploy).status_code in (200, 201)
    assert httpx.post(f"{server.url}/api/v1/services/shop/versions", json={"description": "first"}).is_success
    (code / "index.py").write_text("def handler(event, context):\n    return b'v2'\n")
    deploy["code"] = base64.b64encode(pack_directory(code)).decode()
    assert httpx.put(f"{server.url}/api/v1/functions/shop/echo", json=deploy).is_success
    assert httpx.post(
        f"{server.url}/api/v1/services/shop/versions", json={"description": "second"}
    ).is_success
    alias = {"versionId": "1", "additionalVersionWeight": {"2": 0.1}, "description": "canary"}
    assert httpx.put(f"{server.url}/api/v1/services/shop/aliases/live", json=alias).is_success
    page.goto(f"{server.url}/ui/#/functions")
    section = page.locator(".service-versions", has_text="Service shop")
    section.wait_for(timeout=TIMEOUT)
    aliases = section.locator("table").first.locator("tbody tr")
    assert aliases.first.locator("td").nth(0).inner_text() == "live"
    assert aliases.first.locator("td").nth(1).inner_text() == "1 + 2 (10%)"
    versions = section.locator("table").nth(1).locator("tbody tr")
    assert [versions.nth(i).locator("td").nth(2).inner_text() for i in range(2)] == ["second", "first"]
