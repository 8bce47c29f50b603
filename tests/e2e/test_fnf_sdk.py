"""FnF's RPC API against a real server, driven by Alibaba's own SDK (aliyun-python-sdk-fnf).

The server requires keys (``--auth on``); most tests reach it as the SDK does by default, at
cn-hangzhou.fnf.aliyuncs.com through ``HTTP_PROXY``, and some with the endpoint set to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.request import CommonRequest
from aliyunsdkcore.utils import parameter_helper
from aliyunsdkfnf.request.v20190315.CreateFlowRequest import CreateFlowRequest
from aliyunsdkfnf.request.v20190315.CreateScheduleRequest import CreateScheduleRequest
from aliyunsdkfnf.request.v20190315.DeleteFlowRequest import DeleteFlowRequest
from aliyunsdkfnf.request.v20190315.DeleteScheduleRequest import DeleteScheduleRequest
from aliyunsdkfnf.request.v20190315.DescribeExecutionRequest import DescribeExecutionRequest
from aliyunsdkfnf.request.v20190315.DescribeFlowRequest import DescribeFlowRequest
from aliyunsdkfnf.request.v20190315.DescribeScheduleRequest import DescribeScheduleRequest
from aliyunsdkfnf.request.v20190315.GetExecutionHistoryRequest import GetExecutionHistoryRequest
from aliyunsdkfnf.request.v20190315.ListExecutionsRequest import ListExecutionsRequest
from aliyunsdkfnf.request.v20190315.ListFlowsRequest import ListFlowsRequest
from aliyunsdkfnf.request.v20190315.ListSchedulesRequest import ListSchedulesRequest
from aliyunsdkfnf.request.v20190315.ReportTaskFailedRequest import ReportTaskFailedRequest
from aliyunsdkfnf.request.v20190315.ReportTaskSucceededRequest import ReportTaskSucceededRequest
from aliyunsdkfnf.request.v20190315.StartExecutionRequest import StartExecutionRequest
from aliyunsdkfnf.request.v20190315.StartSyncExecutionRequest import StartSyncExecutionRequest
from aliyunsdkfnf.request.v20190315.StopExecutionRequest import StopExecutionRequest
from aliyunsdkfnf.request.v20190315.UpdateFlowRequest import UpdateFlowRequest
from aliyunsdkfnf.request.v20190315.UpdateScheduleRequest import UpdateScheduleRequest

from fnflow.testing import ServerProcess
from tests.e2e.fnf import Fnf, create_key, temporary_key, write_echo_function

GREET = """version: v1
type: flow
steps:
  - type: pass
    name: Greet
    outputMappings:
      - target: greeting
        source: $input.name
"""
NAP = """version: v1
type: flow
steps:
  - type: wait
    name: Nap
    duration: 1
  - type: pass
    name: Done
    outputMappings:
      - target: a
        source: $input.a
"""
APPROVE = """version: v1
type: flow
steps:
  - type: task
    name: Approve
    resourceArn: acs:fc:cn-hangzhou:123:services/fnf/functions/echo
    pattern: waitForCallback
    inputMappings:
      - target: token
        source: $context.task.token
"""
TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


class Server:
    def __init__(self, process: ServerProcess, keys: dict[str, tuple[str, str]]) -> None:
        self.process = process
        self.keys = keys
        self.url = process.url
        self.endpoint = process.url.removeprefix("http://")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fnf")
    process = ServerProcess(
        root / "server", "--auth", "on", "--apply", str(write_echo_function(root / "app"))
    )
    keys = {scope: create_key(process.db, scope) for scope in ("admin", "invoke", "report-task")}
    process.start()
    yield Server(process, keys)
    process.stop()
    assert "Traceback" not in process.log(), process.log()


@pytest.fixture
def proxied(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's default endpoint (cn-hangzhou.fnf.aliyuncs.com) reaches fnflow as a proxy."""
    monkeypatch.setenv("HTTP_PROXY", server.url)


@pytest.fixture
def admin(server: Server, proxied: None) -> Fnf:
    return Fnf(server.keys["admin"])


@pytest.fixture
def direct(server: Server) -> Fnf:
    """The other way: the SDK's endpoint set to fnflow's address."""
    return Fnf(server.keys["admin"], endpoint=server.endpoint)


def create_flow(fnf: Fnf, name: str, definition: str, **params: Any) -> dict[str, Any]:
    return fnf(
        CreateFlowRequest,
        **{"Name": name, "Definition": definition, "Description": "", "Type": "FDL", **params},
    )


def history(fnf: Fnf, flow: str, name: str, limit: int = 60) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = fnf(GetExecutionHistoryRequest, FlowName=flow, ExecutionName=name, Limit=limit, **(
            {"NextToken": token} if token else {}
        ))  # fmt: skip
        events += page["Events"]
        token = page.get("NextToken")
        if not token:
            return events


def token_of(fnf: Fnf, flow: str, name: str) -> str:
    """A worker's view: the task token the waitForCallback step handed its function."""
    for _ in range(600):
        for event in history(fnf, flow, name):
            if event["Type"] == "TaskScheduled":
                token: str = json.loads(event["EventDetail"])["input"]["token"]
                return token
        fnf(DescribeExecutionRequest, FlowName=flow, ExecutionName=name, WaitTimeSeconds=0)
    raise AssertionError(f"{name} scheduled no task")


# --- flows ----------------------------------------------------------------------------------------


def test_flow_crud_and_its_errors(admin: Fnf) -> None:
    created = create_flow(admin, "crud", GREET, Description="says hello", RoleArn="acs:ram::1:role/fnf")
    assert created["Name"] == "crud" and created["Definition"] == GREET and created["Type"] == "FDL"
    assert (created["Description"], created["RoleArn"], created["ExecutionMode"]) == (
        "says hello",
        "acs:ram::1:role/fnf",
        "Standard",
    )
    assert created["Id"] and created["CreatedTime"] == created["LastModifiedTime"]
    assert admin(DescribeFlowRequest, Name="crud") == created

    updated = admin(UpdateFlowRequest, Name="crud", Description="says hello twice")
    assert (updated["Definition"], updated["Description"], updated["Id"]) == (
        GREET,
        "says hello twice",
        created["Id"],
    )
    assert updated["LastModifiedTime"] >= created["LastModifiedTime"]

    message = admin.fails(409, "FlowAlreadyExists", CreateFlowRequest, Name="crud", Definition=GREET)
    assert "crud" in message
    admin.fails(400, "InvalidArgument", CreateFlowRequest, Name="bad", Definition="version: v1\nsteps: 3\n")
    admin.fails(400, "InvalidArgument", CreateFlowRequest, Name="9lives", Definition=GREET)
    admin.fails(400, "InvalidArgument", CreateFlowRequest, Name="x", Definition=GREET, ExecutionMode="Fast")
    admin.fails(400, "MissingRequiredParams", CreateFlowRequest, Name="nodef")
    admin.fails(404, "FlowNotExists", UpdateFlowRequest, Name="nope", Description="d")

    admin(DeleteFlowRequest, Name="crud")
    admin.fails(404, "FlowNotExists", DescribeFlowRequest, Name="crud")
    admin.fails(404, "FlowNotExists", DeleteFlowRequest, Name="crud")
    admin.fails(404, "FlowNotExists", DescribeFlowRequest, Name="bad")  # nothing was written


def test_list_flows_pages(admin: Fnf) -> None:
    names = [f"page-{i}" for i in range(5)]
    for name in names:
        create_flow(admin, name, GREET)
    seen: list[str] = []
    token: str | None = None
    while True:
        page = admin(ListFlowsRequest, Limit=2, **({"NextToken": token} if token else {}))
        assert len(page["Flows"]) <= 2
        seen += [f["Name"] for f in page["Flows"]]
        token = page.get("NextToken")
        if not token:
            break
    assert [n for n in seen if n.startswith("page-")] == names
    admin.fails(400, "InvalidArgument", ListFlowsRequest, Limit=0)
    admin.fails(400, "InvalidArgument", ListFlowsRequest, Limit="many")
    admin.fails(400, "InvalidArgument", ListFlowsRequest, NextToken="not a token")


# --- executions -----------------------------------------------------------------------------------


def test_start_describe_with_wait_and_history(admin: Fnf) -> None:
    create_flow(admin, "nap", NAP)
    started = admin(StartExecutionRequest, FlowName="nap", ExecutionName="n1", Input='{"a": [1, "b"]}')
    assert (started["Name"], started["FlowName"], started["Status"]) == ("n1", "nap", "Running")
    assert json.loads(started["Input"]) == {"a": [1, "b"]} and started["FlowDefinition"] == NAP
    assert (started["Output"], started["StoppedTime"]) == ("", "")
    assert started["StartedTime"]

    done = admin(DescribeExecutionRequest, FlowName="nap", ExecutionName="n1", WaitTimeSeconds=30)
    assert done["Status"] == "Succeeded", done
    assert json.loads(done["Output"]) == {"a": [1, "b"]}
    for field in ("StartedTime", "StoppedTime"):
        assert done[field][:2] == "20" and done[field].endswith("Z") and len(done[field]) == 24

    events = history(admin, "nap", "n1", limit=2)
    assert [(e["Type"], e["StepName"]) for e in events][:2] == [
        ("ExecutionStarted", ""),
        ("StepEntered", "Nap"),
    ]
    assert events[-1]["Type"] == "ExecutionSucceeded"
    assert [e["EventId"] for e in events] == list(range(1, len(events) + 1))
    assert all(isinstance(e["ScheduleEventId"], int) for e in events)
    assert json.loads(events[0]["EventDetail"]) == {"input": {"a": [1, "b"]}}

    admin.fails(404, "ExecutionNotExists", DescribeExecutionRequest, FlowName="nap", ExecutionName="n2")
    admin.fails(404, "FlowNotExists", DescribeExecutionRequest, FlowName="nope", ExecutionName="n1")
    admin.fails(404, "ExecutionNotExists", GetExecutionHistoryRequest, FlowName="nap", ExecutionName="n2")
    admin.fails(
        400,
        "InvalidArgument",
        DescribeExecutionRequest,
        FlowName="nap",
        ExecutionName="n1",
        WaitTimeSeconds=61,
    )


def test_the_same_name_returns_the_running_execution_and_is_refused_once_it_ended(admin: Fnf) -> None:
    create_flow(admin, "once", APPROVE)
    first = admin(StartExecutionRequest, FlowName="once", ExecutionName="o1", Input='{"try": 1}')
    again = admin(StartExecutionRequest, FlowName="once", ExecutionName="o1", Input='{"try": 2}')
    assert again["Status"] == "Running" and again["StartedTime"] == first["StartedTime"]
    assert json.loads(again["Input"]) == {"try": 1}  # that execution, not a new one

    admin(StopExecutionRequest, FlowName="once", ExecutionName="o1")
    message = admin.fails(
        400, "ExecutionAlreadyExists", StartExecutionRequest, FlowName="once", ExecutionName="o1"
    )
    assert "o1" in message
    assert len(admin(ListExecutionsRequest, FlowName="once")["Executions"]) == 1

    anonymous = admin(StartExecutionRequest, FlowName="once")  # a generated name
    assert anonymous["Name"] and anonymous["Name"] != "o1"
    admin.fails(404, "FlowNotExists", StartExecutionRequest, FlowName="nope")
    admin.fails(400, "InvalidArgument", StartExecutionRequest, FlowName="once", Input="[1, 2]")
    admin.fails(400, "InvalidArgument", StartExecutionRequest, FlowName="once", Input="{not json")
    admin.fails(400, "InvalidArgument", StartExecutionRequest, FlowName="once", ExecutionName="has space")
    admin.fails(
        400, "EntityTooLarge", StartExecutionRequest, FlowName="once", Input=json.dumps({"x": "y" * 40_000})
    )
    admin.fails(400, "InvalidArgument", StartExecutionRequest, FlowName="once", CallbackFnFTaskToken="forged")
    admin(StopExecutionRequest, FlowName="once", ExecutionName=anonymous["Name"])


def test_list_executions_pages_and_filters(admin: Fnf) -> None:
    create_flow(admin, "many", GREET)
    names = [f"m{i}" for i in range(5)]
    for name in names:
        admin(StartExecutionRequest, FlowName="many", ExecutionName=name, Input='{"name": "x"}')
    seen: list[str] = []
    token: str | None = None
    while True:
        page = admin(
            ListExecutionsRequest, FlowName="many", Limit=2, **({"NextToken": token} if token else {})
        )
        assert len(page["Executions"]) <= 2
        seen += [e["Name"] for e in page["Executions"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == names
    every = admin(ListExecutionsRequest, FlowName="many", Status="Succeeded")["Executions"]
    assert sorted(e["Name"] for e in every) == names
    assert all(json.loads(e["Output"]) == {"greeting": "x"} for e in every)
    assert admin(ListExecutionsRequest, FlowName="many", Status="Running")["Executions"] == []
    prefixed = admin(ListExecutionsRequest, FlowName="many", ExecutionNamePrefix="m3")["Executions"]
    assert [e["Name"] for e in prefixed] == ["m3"]
    later = every[0]["StartedTime"]
    since = admin(ListExecutionsRequest, FlowName="many", StartedTimeBegin=later)["Executions"]
    assert {e["Name"] for e in since} == {e["Name"] for e in every if e["StartedTime"] >= later}

    admin.fails(400, "InvalidArgument", ListExecutionsRequest, FlowName="many", Status="Done")
    admin.fails(400, "InvalidArgument", ListExecutionsRequest, FlowName="many", Limit=100)
    admin.fails(400, "InvalidArgument", ListExecutionsRequest, FlowName="many", StartedTimeBegin="today")
    admin.fails(404, "FlowNotExists", ListExecutionsRequest, FlowName="nope")


def test_stop_with_an_error_and_a_cause(admin: Fnf) -> None:
    create_flow(admin, "halt", APPROVE)
    admin(StartExecutionRequest, FlowName="halt", ExecutionName="h1")
    stopped = admin(StopExecutionRequest, FlowName="halt", ExecutionName="h1", Error="Abort", Cause="by hand")
    assert stopped["Status"] == "Stopped" and stopped["StoppedTime"]
    assert admin(DescribeExecutionRequest, FlowName="halt", ExecutionName="h1")["Status"] == "Stopped"
    last = history(admin, "halt", "h1")[-1]
    assert last["Type"] == "ExecutionStopped"
    assert json.loads(last["EventDetail"]) == {"error": "Abort", "cause": "by hand"}
    admin.fails(
        400, "InvalidArgument", StopExecutionRequest, FlowName="halt", ExecutionName="h1", Error="E" * 129
    )
    admin.fails(404, "ExecutionNotExists", StopExecutionRequest, FlowName="halt", ExecutionName="h2")


def test_a_worker_reports_task_results(server: Server, admin: Fnf) -> None:
    create_flow(admin, "approve", APPROVE)
    worker = Fnf(server.keys["report-task"])  # a key that may only report
    admin(StartExecutionRequest, FlowName="approve", ExecutionName="yes")
    admin(StartExecutionRequest, FlowName="approve", ExecutionName="no")

    token = token_of(admin, "approve", "yes")
    reported = worker(ReportTaskSucceededRequest, TaskToken=token, Output='{"approved": true}')
    assert isinstance(reported["EventId"], int) and reported["EventId"] > 0
    done = admin(DescribeExecutionRequest, FlowName="approve", ExecutionName="yes", WaitTimeSeconds=30)
    assert done["Status"] == "Succeeded" and json.loads(done["Output"]) == {"approved": True}
    assert any(e["EventId"] == reported["EventId"] for e in history(admin, "approve", "yes"))
    worker.fails(400, "TaskAlreadyCompleted", ReportTaskSucceededRequest, TaskToken=token, Output="{}")

    token = token_of(admin, "approve", "no")
    worker(ReportTaskFailedRequest, TaskToken=token, Error="Rejected", Cause="not today")
    failed = admin(DescribeExecutionRequest, FlowName="approve", ExecutionName="no", WaitTimeSeconds=30)
    assert failed["Status"] == "Failed"
    assert json.loads(history(admin, "approve", "no")[-1]["EventDetail"])["error"] == "Rejected"

    worker.fails(400, "InvalidArgument", ReportTaskSucceededRequest, TaskToken="forged", Output="{}")
    worker.fails(400, "MissingRequiredParams", ReportTaskFailedRequest, TaskToken=token)
    worker.fails(403, "AccessDenied", DescribeExecutionRequest, FlowName="approve", ExecutionName="no")


def test_an_execution_started_with_a_callback_token_reports_its_end_to_that_task(admin: Fnf) -> None:
    """StartExecution's CallbackFnFTaskToken: the waiting step gets the execution's output (or error)."""
    create_flow(admin, "waiter", APPROVE)
    create_flow(admin, "worker-flow", GREET)
    create_flow(
        admin,
        "failing",
        "version: v1\ntype: flow\nsteps:\n  - {type: fail, name: F, error: Nope, cause: not today}\n",
    )
    admin(StartExecutionRequest, FlowName="waiter", ExecutionName="w1")
    admin(StartExecutionRequest, FlowName="waiter", ExecutionName="w2")
    started = admin(
        StartExecutionRequest,
        FlowName="worker-flow",
        Input='{"name": "ada"}',
        CallbackFnFTaskToken=token_of(admin, "waiter", "w1"),
    )
    assert started["Status"] in ("Running", "Succeeded")
    done = admin(DescribeExecutionRequest, FlowName="waiter", ExecutionName="w1", WaitTimeSeconds=30)
    assert done["Status"] == "Succeeded" and json.loads(done["Output"]) == {"greeting": "ada"}
    admin(StartExecutionRequest, FlowName="failing", CallbackFnFTaskToken=token_of(admin, "waiter", "w2"))
    failed = admin(DescribeExecutionRequest, FlowName="waiter", ExecutionName="w2", WaitTimeSeconds=30)
    assert failed["Status"] == "Failed"
    assert json.loads(history(admin, "waiter", "w2")[-1]["EventDetail"])["error"] == "Nope"


def test_express_flows_run_synchronously(server: Server, admin: Fnf) -> None:
    express = create_flow(admin, "quick", GREET, ExecutionMode="Express")
    assert express["ExecutionMode"] == "Express"
    create_flow(admin, "slow", GREET)
    # StartSyncExecution is sent over https; an endpoint with http:// keeps it plain.
    sync = Fnf(server.keys["invoke"], endpoint=server.url)
    answer = sync(StartSyncExecutionRequest, FlowName="quick", ExecutionName="q", Input='{"name": "now"}')
    assert answer["Status"] == "Succeeded" and answer["Name"].startswith("q:")
    assert json.loads(answer["Output"]) == {"greeting": "now"}
    assert (answer["ErrorCode"], answer["ErrorMessage"]) == ("", "")
    again = sync(StartSyncExecutionRequest, FlowName="quick", ExecutionName="q")
    assert again["Name"] != answer["Name"]  # names of Express executions need not be unique
    sync.fails(400, "ActionNotSupported", StartSyncExecutionRequest, FlowName="slow")
    admin.fails(400, "ActionNotSupported", StartExecutionRequest, FlowName="quick")


# --- schedules ------------------------------------------------------------------------------------


def test_schedule_crud(admin: Fnf) -> None:
    create_flow(admin, "timed", GREET)
    created = admin(
        CreateScheduleRequest,
        FlowName="timed",
        ScheduleName="daily",
        CronExpression="0 0 4 * * *",
        Payload='{"name": "cron"}',
        Enable=True,
        Description="every day",
    )
    assert (created["ScheduleName"], created["CronExpression"], created["Enable"]) == (
        "daily",
        "0 0 4 * * *",
        True,
    )
    assert json.loads(created["Payload"]) == {"name": "cron"} and created["ScheduleId"]
    assert admin(DescribeScheduleRequest, FlowName="timed", ScheduleName="daily") == created

    updated = admin(
        UpdateScheduleRequest,
        FlowName="timed",
        ScheduleName="daily",
        CronExpression="@every 5m",
        Enable=False,
    )
    assert (updated["CronExpression"], updated["Enable"], updated["Description"]) == (
        "@every 5m",
        False,
        "every day",
    )
    assert updated["ScheduleId"] == created["ScheduleId"] and updated["Payload"] == created["Payload"]

    for i in range(3):
        admin(CreateScheduleRequest, FlowName="timed", ScheduleName=f"s{i}", CronExpression="0 0 1 * * *")
    first = admin(ListSchedulesRequest, FlowName="timed", Limit=2)
    rest = admin(ListSchedulesRequest, FlowName="timed", Limit=2, NextToken=first["NextToken"])
    assert "NextToken" not in rest
    assert sorted(s["ScheduleName"] for s in first["Schedules"] + rest["Schedules"]) == [
        "daily",
        "s0",
        "s1",
        "s2",
    ]

    admin.fails(
        409,
        "ScheduleAlreadyExists",
        CreateScheduleRequest,
        FlowName="timed",
        ScheduleName="s0",
        CronExpression="0 0 1 * * *",
    )
    admin.fails(
        400,
        "InvalidArgument",
        CreateScheduleRequest,
        FlowName="timed",
        ScheduleName="bad",
        CronExpression="every day",
    )
    admin.fails(
        400,
        "InvalidArgument",
        CreateScheduleRequest,
        FlowName="timed",
        ScheduleName="bad",
        CronExpression="0 0 1 * * *",
        Enable="perhaps",
    )
    admin.fails(
        404,
        "FlowNotExists",
        CreateScheduleRequest,
        FlowName="nope",
        ScheduleName="s",
        CronExpression="0 0 1 * * *",
    )
    admin(DeleteScheduleRequest, FlowName="timed", ScheduleName="daily")
    admin.fails(404, "ScheduleNotExists", DescribeScheduleRequest, FlowName="timed", ScheduleName="daily")
    admin.fails(
        404, "ScheduleNotExists", UpdateScheduleRequest, FlowName="timed", ScheduleName="daily", Enable=True
    )
    admin.fails(404, "ScheduleNotExists", DeleteScheduleRequest, FlowName="timed", ScheduleName="daily")


# --- endpoints, keys, signatures and bad requests -------------------------------------------------


def test_both_endpoint_styles_reach_the_same_server(server: Server, admin: Fnf, direct: Fnf) -> None:
    create_flow(direct, "styles", GREET)
    assert admin(DescribeFlowRequest, Name="styles") == direct(DescribeFlowRequest, Name="styles")
    for region in ("cn-shanghai", "ap-southeast-1"):  # <region>.fnf… and fnf.<region>… hosts
        assert (
            Fnf(server.keys["invoke"], region=region)(DescribeFlowRequest, Name="styles")["Name"] == "styles"
        )
    internal = Fnf(server.keys["invoke"], endpoint="cn-hangzhou-internal.fnf.aliyuncs.com")
    assert internal(DescribeFlowRequest, Name="styles")["Name"] == "styles"
    whole_client = Fnf(server.keys["invoke"])
    whole_client.client.add_endpoint("cn-hangzhou", "fnf", server.endpoint)  # no proxy needed then
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("HTTP_PROXY")
        assert whole_client(DescribeFlowRequest, Name="styles")["Name"] == "styles"


def test_fnflow_is_no_open_proxy(server: Server) -> None:
    with httpx.Client(proxy=server.url, trust_env=False) as client:
        refused = client.get("http://example.com/")
        assert refused.status_code == 403 and refused.json()["code"] == "Forbidden"
        assert client.get(f"{server.url}/healthz").json() == {"status": "ok"}  # itself: an ordinary request


def test_keys_and_scopes(server: Server, proxied: None) -> None:
    wrong_secret = Fnf((server.keys["admin"][0], "not the secret"))
    with pytest.raises(ServerException) as raised:
        wrong_secret(ListFlowsRequest)
    # fnflow answers 400 SignatureDoesNotMatch with its string to sign; the SDK, finding it equal
    # to its own, tells the user what is wrong, as it does with Alibaba.
    assert (raised.value.get_http_status(), raised.value.get_error_code()) == (400, "InvalidAccessKeySecret")
    Fnf(("FNFNOSUCHKEY", "x")).fails(403, "InvalidAccessKeyID", ListFlowsRequest)

    invoke = Fnf(server.keys["invoke"])
    invoke.fails(403, "AccessDenied", CreateFlowRequest, Name="nope", Definition=GREET)
    invoke.fails(403, "AccessDenied", DeleteScheduleRequest, FlowName="x", ScheduleName="y")
    assert "Flows" in invoke(ListFlowsRequest)
    Fnf(server.keys["report-task"]).fails(403, "AccessDenied", ListFlowsRequest)


def test_temporary_credentials_with_a_security_token(server: Server, proxied: None) -> None:
    """What code inside Function Compute does with its role's credentials (StsTokenCredential)."""
    made = temporary_key(server.process.db, server.keys["admin"][0], "--scope", "invoke", "--duration", "900")
    assert made["AccessKeyId"].startswith("STS.") and made["Expiration"].endswith("Z")
    sts = Fnf(StsTokenCredential(made["AccessKeyId"], made["AccessKeySecret"], made["SecurityToken"]))
    assert "Flows" in sts(ListFlowsRequest)
    sts.fails(403, "AccessDenied", CreateFlowRequest, Name="sts", Definition=GREET)  # invoke only

    forged = made["SecurityToken"][:-4] + ("AAAA" if not made["SecurityToken"].endswith("AAAA") else "BBBB")
    wrong = Fnf(StsTokenCredential(made["AccessKeyId"], made["AccessKeySecret"], forged))
    wrong.fails(403, "InvalidSecurityToken.Malformed", ListFlowsRequest)
    other = temporary_key(server.process.db, server.keys["invoke"][0])
    mixed = Fnf(StsTokenCredential(made["AccessKeyId"], made["AccessKeySecret"], other["SecurityToken"]))
    mixed.fails(403, "InvalidSecurityToken.MismatchWithAccessKey", ListFlowsRequest)
    no_secret = Fnf(StsTokenCredential(made["AccessKeyId"], "guess", made["SecurityToken"]))
    no_secret.fails(400, "InvalidAccessKeySecret", ListFlowsRequest)


def test_a_replayed_request_is_refused_and_writes_nothing(
    admin: Fnf, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_flow(admin, "replay", GREET)
    with monkeypatch.context() as patch:
        patch.setattr(parameter_helper, "get_uuid", lambda: "f" * 32)  # the SDK's nonce, twice
        admin(StartExecutionRequest, FlowName="replay")
        admin.fails(400, "SignatureNonceUsed", StartExecutionRequest, FlowName="replay")
    assert len(admin(ListExecutionsRequest, FlowName="replay")["Executions"]) == 1


def test_a_stale_timestamp_is_refused(admin: Fnf, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: "2019-08-15T10:00:00Z")
    message = admin.fails(403, "RequestTimeTooSkewed", ListFlowsRequest)
    assert "2019-08-15T10:00:00Z" in message


def raw(server: Server, method: str, query: str, body: bytes = b"", **headers: str) -> httpx.Response:
    with httpx.Client(trust_env=False) as client:
        return client.request(method, f"{server.url}/?{query}", content=body, headers=headers, timeout=30)


def alibaba_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["Code"] == code and body["Message"] and body["RequestId"] and "HostId" in body, body
    assert response.headers["x-acs-request-id"] == body["RequestId"]


def test_bad_requests_get_alibabas_errors_never_a_5xx(server: Server) -> None:
    key_id, secret = server.keys["admin"]
    common = "Version=2019-03-15&Format=JSON"
    alibaba_error(raw(server, "GET", f"Action=ListFlows&{common}"), 400, "MissingRequiredParams")  # unsigned
    signed = Fnf(server.keys["admin"]).prepare(DescribeFlowRequest, {"Name": "x"})
    signed.set_accept_format("JSON")
    url = signed.get_url("cn-hangzhou", key_id, secret)
    tampered = url.replace("Name=x", "Name=y")
    alibaba_error(raw(server, "GET", tampered.removeprefix("/?")), 400, "SignatureDoesNotMatch")
    alibaba_error(raw(server, "GET", f"Action=Nope&{common}"), 400, "ActionNotSupported")
    alibaba_error(raw(server, "GET", "Action=ListFlows&Version=2020-01-01"), 400, "APIVersionNotSupported")
    alibaba_error(raw(server, "GET", "Action=ListFlows"), 400, "MissingRequiredParams")
    alibaba_error(raw(server, "GET", f"Action=ListFlows&Action=ListFlows&{common}"), 400, "InvalidArgument")
    alibaba_error(raw(server, "GET", f"Action=ListFlows&{common}&Format=XML"), 400, "InvalidArgument")
    alibaba_error(
        raw(
            server,
            "POST",
            f"Action=CreateFlow&{common}",
            b'{"Name": "j"}',
            **{"content-type": "application/json"},
        ),
        400,
        "InvalidArgument",
    )
    form = {"content-type": "application/x-www-form-urlencoded"}
    big = urlencode({"Name": "big", "Definition": "x" * (1024 * 1024 + 1)}).encode()
    alibaba_error(raw(server, "POST", f"Action=CreateFlow&{common}", big, **form), 400, "EntityTooLarge")
    alibaba_error(
        raw(server, "POST", f"Action=CreateFlow&{common}", b"Name=%ff", **form), 400, "InvalidArgument"
    )
    alibaba_error(raw(server, "DELETE", f"Action=ListFlows&{common}"), 404, "NotFound")
    with httpx.Client(trust_env=False) as client:
        other = client.get(f"{server.url}/elsewhere", headers={"host": "cn-hangzhou.fnf.aliyuncs.com"})
    alibaba_error(other, 404, "NotFound")


def test_without_auth_signatures_are_checked_only_when_present(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path)
    key = create_key(process.db, "invoke")
    process.start()
    try:
        server = Server(process, {"invoke": key})
        unsigned = raw(server, "GET", "Action=ListFlows&Version=2019-03-15")
        assert unsigned.status_code == 200 and unsigned.json()["Flows"] == []
        fnf = Fnf(key, endpoint=server.endpoint)
        create_flow(fnf, "open", GREET)  # a signed request; with auth off no scope is enforced
        Fnf((key[0], "wrong"), endpoint=server.endpoint).fails(
            400, "InvalidAccessKeySecret", ListFlowsRequest
        )
        Fnf(("FNFNOSUCHKEY", "x"), endpoint=server.endpoint).fails(
            403, "InvalidAccessKeyID", ListFlowsRequest
        )
    finally:
        process.stop()


def test_common_request_names_any_action(direct: Fnf) -> None:
    request = CommonRequest(domain=direct.endpoint, version="2019-03-15", action_name="ListFlows")
    request.set_method("GET")
    answer = json.loads(direct.client.do_action_with_exception(request))
    assert "Flows" in answer and answer["RequestId"]
