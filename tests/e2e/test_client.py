"""End-to-end: every ``fnflow.Client`` method against a real server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import fnflow
from fnflow import (
    ApiError,
    Client,
    ConflictError,
    ForbiddenError,
    InvalidArgumentError,
    NotFoundError,
    UnauthorizedError,
)
from fnflow.services.keys import new_key
from fnflow.store import ApiKeyRecord, Tx, open_store
from fnflow.testing import ServerProcess, free_port
from tests.e2e.definitions import APPROVE, REJECT

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

GREET = """\
version: v1
type: flow
steps:
  - type: pass
    name: Greet
    outputMappings:
      - target: greeting
        source: $input.name
"""
SLEEP = """\
version: v1
type: flow
steps:
  - type: wait
    name: Sleep
    duration: 120
"""
HANDLERS = """\
import json


def handler(event, context):
    return {"echo": json.loads(event or b"{}"), "request": context.request_id}


def boom(event, context):
    raise ValueError("boom")
"""


def code_dir(root: Path) -> Path:
    """A function's code directory: ``index.handler`` echoes, ``index.boom`` raises."""
    root.mkdir(exist_ok=True)
    (root / "index.py").write_text(HANDLERS)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("client")).start()
    yield process
    process.stop()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.url, api_key="") as c:
        yield c


def token_of(client: Client, flow: str, name: str, timeout: float = 30) -> str:
    """The task token the waitForCallback step handed out (from TaskScheduled's input)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in client.get_history(flow, name):
            if event.type == "TaskScheduled":
                token: str = event.detail["input"]["token"]
                return token
        time.sleep(0.05)
    raise AssertionError(f"{name} scheduled no task in {timeout}s")


# --- flows ----------------------------------------------------------------------------------------


def test_flow_crud(client: Client) -> None:
    created = client.put_flow("crud", GREET, "says hello")
    assert (created.name, created.description, created.revision, created.type) == (
        "crud",
        "says hello",
        1,
        "FDL",
    )
    assert isinstance(created.created_time, datetime)
    assert client.get_flow("crud") == created
    assert created.raw["lastModifiedTime"]  # the API's JSON, as it came

    updated = client.put_flow("crud", GREET.replace("Greet", "Hello"), "says hello twice")
    assert updated.revision == 2
    assert "Hello" in client.get_flow("crud").definition

    client.delete_flow("crud")
    with pytest.raises(NotFoundError) as e:
        client.get_flow("crud")
    assert (e.value.status, e.value.code) == (404, "NotFound")
    with pytest.raises(NotFoundError):
        client.delete_flow("crud")


def test_list_flows_pages_and_iterates(client: Client) -> None:
    names = [f"page-{i}" for i in range(5)]
    for name in names:
        client.put_flow(name, GREET)
    first = client.list_flows(limit=2)
    assert len(first.items) == 2 and first.next_token
    second = client.list_flows(limit=2, next_token=first.next_token)
    assert not {f.name for f in first.items} & {f.name for f in second.items}
    assert [f.name for f in client.iter_flows(page_size=2) if f.name.startswith("page-")] == names


def test_invalid_definition_locates_every_problem(client: Client) -> None:
    bad = "version: v1\ntype: flow\nsteps:\n  - type: nope\n    name: X\n  - type: pass\n"
    with pytest.raises(InvalidArgumentError) as e:
        client.put_flow("bad", bad)
    assert e.value.status == 400 and e.value.code == "InvalidDefinition"
    assert [(p["line"], p["path"]) for p in e.value.errors] == [(4, "steps[0]"), (6, "steps[1].name")]


# --- executions -----------------------------------------------------------------------------------


def test_start_wait_describe(client: Client) -> None:
    client.put_flow("greet", GREET)
    started = client.start_execution("greet", {"name": "ada"}, name="greet-1")
    assert (started.name, started.flow_name, started.input) == ("greet-1", "greet", {"name": "ada"})
    done = client.wait_execution("greet", "greet-1", timeout=30)
    assert done.succeeded and done.finished
    assert done.output["greeting"] == "ada"
    assert done.stopped_time is not None and done.started_time is not None
    assert done.stopped_time >= done.started_time
    assert client.describe_execution("greet", "greet-1") == done
    assert client.describe_execution("greet", "greet-1", wait=5) == done  # finished: answers at once


def test_start_is_idempotent_and_conflicts_on_other_input(client: Client) -> None:
    client.put_flow("idem", GREET)
    first = client.start_execution("idem", {"name": "a"}, name="once")
    again = client.start_execution("idem", {"name": "a"}, name="once")
    assert again.started_time == first.started_time
    with pytest.raises(ConflictError) as e:
        client.start_execution("idem", {"name": "b"}, name="once")
    assert e.value.status == 409


def test_start_without_name_or_input(client: Client) -> None:
    client.put_flow("bare", GREET)
    execution = client.start_execution("bare")
    assert execution.name and execution.input == {}
    with pytest.raises(NotFoundError):
        client.start_execution("no-such-flow")


def test_failed_execution_has_error_and_cause(client: Client) -> None:
    client.put_flow("reject", REJECT)
    run = client.start_execution("reject")
    done = client.wait_execution("reject", run.name, timeout=30)
    assert (done.status, done.error, done.cause) == ("Failed", "Rejected", "not today")
    assert done.finished and not done.succeeded


def test_wait_times_out_then_stop(client: Client) -> None:
    client.put_flow("sleep", SLEEP)
    run = client.start_execution("sleep", name="nap")
    began = time.monotonic()
    still = client.wait_execution("sleep", "nap", timeout=0.5)
    assert still.status == "Running" and not still.finished
    assert 0.4 < time.monotonic() - began < 10
    stopped = client.stop_execution("sleep", run.name, error="Cancelled", cause="by the test")
    assert (stopped.status, stopped.error, stopped.cause) == ("Stopped", "Cancelled", "by the test")


def test_list_executions_filters_and_pages(client: Client) -> None:
    client.put_flow("many", GREET)
    for i in range(3):
        client.wait_execution("many", client.start_execution("many", name=f"job-{i}").name, timeout=30)
    client.start_execution("many", name="other")
    assert {e.name for e in client.iter_executions("many", name_prefix="job-", page_size=2)} == {
        "job-0",
        "job-1",
        "job-2",
    }
    page = client.list_executions("many", limit=1)
    assert len(page.items) == 1 and page.next_token
    assert all(e.status == "Succeeded" for e in client.iter_executions("many", status="Succeeded"))
    with pytest.raises(InvalidArgumentError):
        client.list_executions("many", status="Sleeping")


def test_history_is_complete_and_ordered(client: Client) -> None:
    client.put_flow("hist", GREET)
    run = client.start_execution("hist", {"name": "h"})
    client.wait_execution("hist", run.name, timeout=30)
    events = client.get_history("hist", run.name)
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "ExecutionStarted" and events[0].detail == {"input": {"name": "h"}}
    assert events[-1].type == "ExecutionSucceeded"
    assert [e.step_name for e in events if e.type == "StepEntered"] == ["Greet"]
    with pytest.raises(NotFoundError):
        client.get_history("hist", "never-ran")


# --- tasks ----------------------------------------------------------------------------------------


@pytest.fixture
def approvals(client: Client, tmp_path: Path) -> str:
    client.deploy_function("ask", code_dir(tmp_path / "ask"))
    client.put_flow("approve", APPROVE)
    return "approve"


def test_report_task_succeeded(client: Client, approvals: str) -> None:
    run = client.start_execution(approvals)
    token = token_of(client, approvals, run.name)
    client.report_task_succeeded(token, {"approved": True})
    done = client.wait_execution(approvals, run.name, timeout=30)
    assert done.succeeded and done.output["approved"] is True
    with pytest.raises(ConflictError):  # reported already
        client.report_task_succeeded(token, {"approved": False})


def test_report_task_failed(client: Client, approvals: str) -> None:
    run = client.start_execution(approvals)
    client.report_task_failed(token_of(client, approvals, run.name), "Denied", "over budget")
    done = client.wait_execution(approvals, run.name, timeout=30)
    assert (done.status, done.error, done.cause) == ("Failed", "Denied", "over budget")


def test_report_with_a_bad_token(client: Client) -> None:
    with pytest.raises(InvalidArgumentError):
        client.report_task_succeeded("not-a-token", {})


# --- functions ------------------------------------------------------------------------------------


def test_deploy_invoke_delete_function(client: Client, tmp_path: Path) -> None:
    deployed = client.deploy_function(
        "echo",
        code_dir(tmp_path / "echo"),
        service="tools",
        timeout=5,
        environment={"A": "1"},
        description="d",
    )
    assert (deployed.service, deployed.name, deployed.timeout, deployed.environment) == (
        "tools",
        "echo",
        5,
        {"A": "1"},
    )
    assert len(deployed.code_checksum) == 64
    assert client.get_function("echo", service="tools") == deployed
    assert [f.name for f in client.list_functions(service="tools")] == ["echo"]

    result = client.invoke_function("echo", b'{"x": 1}', service="tools")
    assert result.ok and result.error_type is None and result.request_id
    assert json.loads(result.body)["echo"] == {"x": 1}

    settings_only = client.deploy_function("echo", service="tools", handler="index.boom")
    assert settings_only.code_checksum == deployed.code_checksum  # no code_dir: the code stays
    failed = client.invoke_function("echo", b"{}", service="tools")
    assert not failed.ok and failed.error_type == "UnhandledInvocationError"
    assert b"boom" in failed.body

    client.delete_function("echo", service="tools")
    with pytest.raises(NotFoundError):
        client.invoke_function("echo", service="tools")
    with pytest.raises(NotFoundError):
        client.get_function("echo", service="tools")


def test_deploy_rejects_bad_settings_and_code(client: Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError):
        client.deploy_function("f", code_dir(tmp_path / "f"), handler="not a handler")
    with pytest.raises(ValueError, match="is not a directory"):
        client.deploy_function("f", tmp_path / "missing")
    with pytest.raises(InvalidArgumentError, match="does not exist yet"):
        client.deploy_function("never-deployed")


def test_apply_deploys_functions_then_flows(client: Client) -> None:
    seen: list[str] = []
    items = client.apply(EXAMPLES / "polling", progress=lambda item: seen.append(type(item).__name__))
    assert seen == ["Function", "Function", "Flow"]
    assert [i.name for i in items] == ["StartJob", "GetJobStatus", "poll-job"]
    assert client.get_flow("poll-job").definition == (EXAMPLES / "polling" / "flow.yaml").read_text()
    with pytest.raises(ValueError, match=r"fnflow\.yaml"):
        client.apply(EXAMPLES / "polling" / "functions")


# --- connection, configuration ----------------------------------------------------------------------


def test_health(client: Client) -> None:
    assert client.health() is True


def test_unreachable_server_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url) as c, pytest.raises(fnflow.ConnectionError, match=url.replace(".", r"\.")) as e:
        c.list_flows()
    assert e.value.url == url


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch, server: ServerProcess) -> None:
    monkeypatch.setenv("FNFLOW_URL", server.url + "/")
    monkeypatch.setenv("FNFLOW_API_KEY", "id:secret")
    with Client() as c:
        assert c.url == server.url
        assert c.health()
    monkeypatch.setenv("FNFLOW_API_KEY", "no-colon")
    with pytest.raises(ValueError, match="<key id>:<secret>"):
        Client()
    with pytest.raises(ValueError, match="http"):
        Client("127.0.0.1:8080")


# --- auth -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """A server with auth on, and a key of each scope (made in its database before it starts)."""
    root = tmp_path_factory.mktemp("secured")
    process = ServerProcess(root, "--auth", "on")
    keys = {scope: new_key(scope) for scope in ("admin", "invoke", "report-task")}
    store = open_store(process.db)

    def put_keys(tx: Tx) -> None:
        for record in keys.values():
            tx.put_key(record)

    try:
        store.write_sync(put_keys)
    finally:
        store.close()
    process.start()
    with Client(process.url, api_key=credentials(keys["admin"])) as admin:
        admin.put_flow("guarded", GREET)
        admin.deploy_function("guarded", code_dir(root / "code"))
    yield process, {scope: credentials(record) for scope, record in keys.items()}
    process.stop()


def credentials(record: ApiKeyRecord) -> str:
    return f"{record.id}:{record.secret}"


def report(c: Client) -> None:
    with pytest.raises(InvalidArgumentError):  # past auth, the made-up token is refused
        c.report_task_failed("made-up", "E")


OPERATIONS: dict[str, Callable[[Client], Any]] = {
    "put_flow": lambda c: c.put_flow("guarded", GREET),
    "deploy_function": lambda c: c.deploy_function("guarded", handler="index.handler"),
    "get_flow": lambda c: c.get_flow("guarded"),
    "start_execution": lambda c: c.start_execution("guarded", {"name": "x"}),
    "invoke_function": lambda c: c.invoke_function("guarded", b"{}"),
    "report_task": report,
}
ALLOWED = {
    "admin": set(OPERATIONS),
    "invoke": {"get_flow", "start_execution", "invoke_function", "report_task"},
    "report-task": {"report_task"},
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("scope", ALLOWED)
def test_each_scope_may_do_what_auth_allows(
    secured: tuple[ServerProcess, dict[str, str]], scope: str, operation: str
) -> None:
    server, keys = secured
    with Client(server.url, api_key=keys[scope]) as c:
        if operation in ALLOWED[scope]:
            OPERATIONS[operation](c)
        else:
            with pytest.raises(ForbiddenError) as e:
                OPERATIONS[operation](c)
            assert e.value.status == 403 and scope in e.value.message


@pytest.mark.parametrize("key", ["", "FNFUNKNOWN:secret"])
def test_missing_or_unknown_key_is_unauthorized(
    secured: tuple[ServerProcess, dict[str, str]], key: str
) -> None:
    server, _ = secured
    with Client(server.url, api_key=key) as c:
        assert c.health()  # needs no key
        with pytest.raises(UnauthorizedError) as e:
            c.get_flow("guarded")
    assert e.value.status == 401


def test_wrong_secret_is_unauthorized(secured: tuple[ServerProcess, dict[str, str]]) -> None:
    server, keys = secured
    key_id = keys["admin"].split(":")[0]
    with Client(server.url, api_key=f"{key_id}:wrong") as c, pytest.raises(ApiError) as e:
        c.list_flows()
    assert isinstance(e.value, UnauthorizedError) and e.value.code == "Unauthorized"


def test_a_finished_execution_is_removed_once_its_retention_has_passed(tmp_path: Path) -> None:
    """With ``--execution-retention 1`` an execution that ended is gone a second later, with its
    history, and its name is free again. The sweeper runs as the server starts, then every minute."""
    process = ServerProcess(tmp_path, "--execution-retention", "1").start()
    try:
        with Client(process.url, api_key="") as c:
            c.put_flow("kept", GREET)
            c.start_execution("kept", {"name": "a"}, name="run")
            assert c.wait_execution("kept", "run", timeout=30).status == "Succeeded"
            time.sleep(1.2)
            process.stop()
            process.start()
            deadline = time.monotonic() + 10  # the first sweep runs beside the server's first requests
            while True:
                try:
                    c.describe_execution("kept", "run")
                except NotFoundError:
                    break
                assert time.monotonic() < deadline, "the finished execution was not removed"
                time.sleep(0.05)
            c.start_execution("kept", {"name": "b"}, name="run")
            assert c.wait_execution("kept", "run", timeout=30).output == {"greeting": "b"}, "a new run"
    finally:
        process.stop()
    assert "Traceback" not in process.log(), process.log()[-5000:]
