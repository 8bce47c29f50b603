"""The native HTTP API against a real server: contracts, bad input, callbacks, stop, auth."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, wait

ECHO = "import json\n\ndef handler(event, context):\n    return event or b'{}'\n"
PASS_FLOW = """version: v1
type: flow
steps:
  - type: pass
    name: Hello
    outputMappings:
      - target: greeting
        source: $input.name
"""
CALLBACK_FLOW = """version: v1
type: flow
steps:
  - type: task
    name: Approve
    resourceArn: acs:fc:::services/api/functions/echo
    pattern: waitForCallback
    timeoutSeconds: 60
    inputMappings:
      - target: token
        source: $context.task.token
      - target: request
        source: $input.request
    outputMappings:
      - target: approved
        source: $local.approved
    catch:
      - errors: [Rejected]
        goto: Rejected
  - type: succeed
    name: Done
  - type: pass
    name: Rejected
    outputMappings:
      - target: approved
        source: false
"""


def put(url: str, path: str, body: Any) -> httpx.Response:
    return httpx.put(f"{url}{path}", json=body, timeout=30)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("api")
    code = root / "echo"
    code.mkdir()
    (code / "index.py").write_text(ECHO)
    (root / "fnflow.yaml").write_text(
        "functions:\n  - {service: api, name: echo, code: echo}\n"
        "flows:\n  - {name: hello, definition: hello.yaml}\n  - {name: approve, definition: approve.yaml}\n"
    )
    (root / "hello.yaml").write_text(PASS_FLOW)
    (root / "approve.yaml").write_text(CALLBACK_FLOW)
    server = ServerProcess(root / "server", "--apply", str(root))
    server.start()
    yield server.url
    server.stop()
    assert "Traceback" not in server.log(), server.log()


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["message"]
    return body


def test_health_and_openapi(url: str) -> None:
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    spec = httpx.get(f"{url}/openapi.json").json()
    assert "/api/v1/flows/{flow}/executions/{name}" in spec["paths"]
    assert "/api/v1/tasks/succeed" in spec["paths"]
    alibaba = {
        "/": {"get", "post"},  # FnF's RPC API
        "/queues/{queue}/messages": {"get", "post", "put", "delete"},
        "/topics/{topic}/subscriptions/{subscription}": {"get", "put", "delete"},
        "/2016-08-15/proxy/{service}/{function}/{path}": {"get", "post", "put", "patch", "delete", "head"},
    }
    for path, methods in alibaba.items():
        assert set(spec["paths"][path]) == methods, path
    actions = spec["paths"]["/"]["post"]["parameters"][0]["schema"]["enum"]
    assert {"StartExecution", "ReportTaskSucceeded", "ListSchedules"} <= set(actions)


def test_invalid_definition_names_step_field_and_line_and_writes_nothing(url: str) -> None:
    definition = "version: v1\ntype: flow\nsteps:\n  - type: pass\n    name: A\n"
    definition += "  - type: wait\n    name: B\n    duration: x\n"
    body = error_of(put(url, "/api/v1/flows/broken", {"definition": definition}), 400, "InvalidDefinition")
    [problem] = body["errors"]
    assert (problem["step"], problem["field"], problem["line"]) == ("B", "duration", 8)
    error_of(httpx.get(f"{url}/api/v1/flows/broken"), 404, "NotFound")


def test_flow_crud_and_revisions(url: str) -> None:
    created = put(url, "/api/v1/flows/crud", {"definition": PASS_FLOW, "description": "first"})
    assert created.status_code == 201 and created.json()["revision"] == 1
    same = put(url, "/api/v1/flows/crud", {"definition": PASS_FLOW, "description": "first"})
    assert same.status_code == 200 and same.json()["revision"] == 1
    changed = put(url, "/api/v1/flows/crud", {"definition": PASS_FLOW + "\n", "description": "second"})
    assert changed.json()["revision"] == 2 and changed.json()["description"] == "second"
    names = [f["name"] for f in httpx.get(f"{url}/api/v1/flows", params={"limit": 999}).json()["flows"]]
    assert "crud" in names and names == sorted(names)
    assert httpx.delete(f"{url}/api/v1/flows/crud").status_code == 204
    error_of(httpx.delete(f"{url}/api/v1/flows/crud"), 404, "NotFound")


def test_start_is_idempotent_by_name_and_input(url: str) -> None:
    first = httpx.post(f"{url}/api/v1/flows/hello/executions", json={"name": "once", "input": {"name": "a"}})
    assert first.status_code == 201
    again = httpx.post(f"{url}/api/v1/flows/hello/executions", json={"name": "once", "input": {"name": "a"}})
    assert again.status_code == 200 and again.json()["startedTime"] == first.json()["startedTime"]
    other = httpx.post(f"{url}/api/v1/flows/hello/executions", json={"name": "once", "input": {"name": "b"}})
    error_of(other, 409, "Conflict")
    assert wait(url, "hello", "once")["output"] == {"greeting": "a"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"input": "{not json"}, 400, "InvalidArgument"),
        ({"input": "[1, 2]"}, 400, "InvalidArgument"),
        ({"input": [1, 2]}, 400, "InvalidArgument"),
        ({"name": "bad name!"}, 400, "InvalidArgument"),
        ({"unknown": 1}, 400, "InvalidArgument"),
        ({"input": {"big": "x" * 40_000}}, 413, "PayloadTooLarge"),
    ],
)
def test_bad_start_requests_are_refused_and_write_nothing(
    url: str, body: Any, status: int, code: str
) -> None:
    before = httpx.get(f"{url}/api/v1/flows/hello/executions", params={"limit": 999}).json()["executions"]
    error_of(httpx.post(f"{url}/api/v1/flows/hello/executions", json=body), status, code)
    after = httpx.get(f"{url}/api/v1/flows/hello/executions", params={"limit": 999}).json()["executions"]
    assert len(after) == len(before)


def test_malformed_and_oversized_bodies(url: str) -> None:
    raw = httpx.post(
        f"{url}/api/v1/flows/hello/executions", content=b"{", headers={"content-type": "application/json"}
    )
    error_of(raw, 400, "InvalidArgument")
    huge = httpx.post(f"{url}/api/v1/flows/hello/executions", content=b"x" * (1024 * 1024 + 1))
    error_of(huge, 413, "PayloadTooLarge")


def test_unknown_things_are_404(url: str) -> None:
    error_of(httpx.post(f"{url}/api/v1/flows/nope/executions", json={}), 404, "NotFound")
    error_of(httpx.get(f"{url}/api/v1/flows/hello/executions/nope"), 404, "NotFound")
    error_of(httpx.get(f"{url}/api/v1/flows/nope/executions"), 404, "NotFound")
    error_of(httpx.get(f"{url}/api/v1/functions/api/nope"), 404, "NotFound")
    error_of(httpx.get(f"{url}/api/v1/no/such/route"), 404, "NotFound")
    error_of(httpx.get(f"{url}/api/v1/flows", params={"nextToken": "garbage!"}), 400, "InvalidArgument")


def test_list_filters_and_pages(url: str) -> None:
    for i in range(5):
        start(url, "hello", {"name": str(i)}, name=f"page-{i}")
    for i in range(5):
        wait(url, "hello", f"page-{i}")
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"limit": 2, "status": "Succeeded"}
        if token:
            params["nextToken"] = token
        page = httpx.get(f"{url}/api/v1/flows/hello/executions", params=params).json()
        seen += [e["name"] for e in page["executions"]]
        token = page.get("nextToken")
        if not token:
            break
    assert {f"page-{i}" for i in range(5)} <= set(seen) and len(seen) == len(set(seen))
    error_of(
        httpx.get(f"{url}/api/v1/flows/hello/executions", params={"status": "Bogus"}), 400, "InvalidArgument"
    )


def callback_token(url: str, name: str) -> str:
    for _ in range(100):
        events = history(url, "approve", name)
        submitted = [e for e in events if e["type"] == "TaskSubmitted"]
        if submitted:
            scheduled = next(e for e in events if e["type"] == "TaskScheduled")
            token: str = scheduled["eventDetail"]["input"]["token"]
            return token
        httpx.get(f"{url}/healthz")
    raise AssertionError("the task was never submitted")


def test_wait_for_callback_succeeds_with_the_reported_output(url: str) -> None:
    name = start(url, "approve", {"request": "r1"})["name"]
    token = callback_token(url, name)
    response = httpx.post(
        f"{url}/api/v1/tasks/succeed", json={"taskToken": token, "output": '{"approved": true}'}
    )
    assert response.status_code == 200, response.text
    execution = wait(url, "approve", name)
    assert execution["status"] == "Succeeded" and execution["output"] == {"approved": True}
    late = httpx.post(f"{url}/api/v1/tasks/succeed", json={"taskToken": token, "output": {}})
    error_of(late, 409, "TaskAlreadyCompleted")


def test_reported_failure_goes_through_catch(url: str) -> None:
    name = start(url, "approve", {"request": "r2"})["name"]
    token = callback_token(url, name)
    failed = httpx.post(
        f"{url}/api/v1/tasks/fail", json={"taskToken": token, "error": "Rejected", "cause": "no"}
    )
    assert failed.status_code == 200
    assert wait(url, "approve", name)["output"] == {"approved": False}


def test_forged_and_malformed_tokens(url: str) -> None:
    name = start(url, "approve", {"request": "r3"})["name"]
    token = callback_token(url, name)
    forged = token[:-8] + ("A" * 8 if not token.endswith("A" * 8) else "B" * 8)
    error_of(httpx.post(f"{url}/api/v1/tasks/succeed", json={"taskToken": forged}), 400, "InvalidArgument")
    error_of(httpx.post(f"{url}/api/v1/tasks/succeed", json={"taskToken": "x"}), 400, "InvalidArgument")
    error_of(
        httpx.post(f"{url}/api/v1/tasks/fail", json={"taskToken": token, "error": ""}), 400, "InvalidArgument"
    )
    stopped = httpx.post(
        f"{url}/api/v1/flows/approve/executions/{name}/stop", json={"error": "Halt", "cause": "x"}
    )
    assert stopped.status_code == 200
    execution = wait(url, "approve", name)
    assert (execution["status"], execution["error"]) == ("Stopped", "Halt")
    assert [e["type"] for e in history(url, "approve", name)][-1] == "ExecutionStopped"
    error_of(
        httpx.post(f"{url}/api/v1/tasks/succeed", json={"taskToken": token}), 409, "TaskAlreadyCompleted"
    )


def test_invoke_function_synchronously(url: str) -> None:
    ok = httpx.post(f"{url}/api/v1/functions/api/echo/invoke", content=b'{"a": 1}')
    assert ok.status_code == 200 and json.loads(ok.content) == {"a": 1}
    assert ok.headers["x-fc-request-id"] and "x-fc-error-type" not in ok.headers
    error_of(httpx.post(f"{url}/api/v1/functions/api/missing/invoke", content=b""), 404, "NotFound")


def test_refuses_to_serve_without_auth_off_loopback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fnflow",
            "server",
            "--host",
            "0.0.0.0",
            "--auth",
            "off",
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to serve without authentication on 0.0.0.0" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_metrics_count_executions_and_commits(url: str) -> None:
    wait(url, "hello", start(url, "hello", {"name": "m"})["name"])
    text = httpx.get(f"{url}/metrics").text
    finished = next(
        line
        for line in text.splitlines()
        if line.startswith('fnflow_executions_finished_total{flow="hello",status="Succeeded"}')
    )
    assert float(finished.split()[-1]) >= 1
    assert 'fnflow_executions_started_total{flow="hello"}' in text
    assert "fnflow_store_write_batches_total" in text
