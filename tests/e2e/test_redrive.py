"""End-to-end: ``fnflow exec redrive`` continues a Failed or TimedOut execution from the step where it
ended, keeping its history and what its earlier steps did."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from fnflow.client import Client, ConflictError
from fnflow.testing import ServerProcess
from tests.e2e.cli import fnflow

pytestmark = pytest.mark.e2e

FLOW = """\
version: v1
type: flow
steps:
  - type: pass
    name: Prepare
    outputMappings:
      - target: prepared
        source: $input.n
  - type: task
    name: Approve
    resourceArn: acs:mns:::/queues/approvals/messages
    pattern: waitForCallback
    inputMappings:
      - target: token
        source: $context.task.token
  - type: pass
    name: Finish
    inputMappings:
      - target: prepared
        source: $local.prepared
      - target: approved
        source: $local.approved
    outputMappings:
      - target: result
        source: $input
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("redrive")).start()
    with Client(server.url) as client:
        client.put_queue("approvals")
        client.put_flow("approve", FLOW)
    yield server
    server.stop()


def token(client: Client, name: str) -> str:
    scheduled = [e for e in client.get_history("approve", name) if e.type == "TaskScheduled"]
    return str(scheduled[-1].detail["input"]["token"])


def test_a_failed_execution_is_redriven_from_the_failed_step(server: ServerProcess) -> None:
    with Client(server.url) as client:
        client.start_execution("approve", {"n": 7}, name="d1")
        first = token(client, "d1")
        client.report_task_failed(first, "Unavailable", "the approver is away")
        assert client.wait_execution("approve", "d1", timeout=30).status == "Failed"
        with pytest.raises(ConflictError):
            client.report_task_succeeded(first, {"approved": True})

        done = fnflow("exec", "redrive", "approve", "d1", url=server.url)
        assert done.returncode == 0, done.stderr
        assert client.describe_execution("approve", "d1").status == "Running"
        second = token(client, "d1")
        assert second != first  # a new attempt, with a token of its own
        client.report_task_succeeded(second, {"approved": True})
        execution = client.wait_execution("approve", "d1", timeout=30)
        assert execution.status == "Succeeded", execution
        assert execution.output["result"] == {"prepared": 7, "approved": True}  # Prepare's output kept
        types = [(e.type, e.step_name) for e in client.get_history("approve", "d1")]
        assert types.count(("StepEntered", "Prepare")) == 1  # not run again
        assert ("ExecutionFailed", "") in types
        redriven = next(e for e in client.get_history("approve", "d1") if e.type == "ExecutionRedriven")
        assert redriven.detail["fromStep"] == "Approve"
        assert redriven.detail["redriveCount"] == 1
        assert redriven.detail["previousStatus"] == "Failed"
        ids = [e.event_id for e in client.get_history("approve", "d1")]
        assert ids == list(range(1, len(ids) + 1))


def test_twice_and_only_when_failed(server: ServerProcess) -> None:
    with Client(server.url) as client:
        client.start_execution("approve", {"n": 1}, name="d2")
        for _ in range(2):
            client.report_task_failed(token(client, "d2"), "Unavailable")
            assert client.wait_execution("approve", "d2", timeout=30).status == "Failed"
            client.redrive_execution("approve", "d2")
        client.report_task_succeeded(token(client, "d2"), {"approved": False})
        assert client.wait_execution("approve", "d2", timeout=30).status == "Succeeded"
        counts = [
            e.detail["redriveCount"]
            for e in client.get_history("approve", "d2")
            if e.type == "ExecutionRedriven"
        ]
        assert counts == [1, 2]
        refused = fnflow("exec", "redrive", "approve", "d2", url=server.url)
        assert refused.returncode != 0
        assert "only a Failed or TimedOut execution can be redriven" in refused.stderr
        missing = fnflow("exec", "redrive", "approve", "nope", url=server.url)
        assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_reset_starts_a_new_run_from_an_earlier_task_step(server: ServerProcess) -> None:
    with Client(server.url) as client:
        client.start_execution("approve", {"n": 5}, name="s1")
        client.report_task_succeeded(token(client, "s1"), {"approved": False})
        original = client.wait_execution("approve", "s1", timeout=30)
        assert original.output["result"] == {"prepared": 5, "approved": False}

        done = fnflow(
            "exec", "reset", "approve", "s1", "--to-step", "Approve", "--name", "s1-again",
            "--input", '{"note": "second look"}', "-o", "json", url=server.url,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["name"] == "s1-again"
        assert client.describe_execution("approve", "s1-again").status == "Running"
        fresh = token(client, "s1-again")
        assert fresh != token(client, "s1")
        client.report_task_succeeded(fresh, {"approved": True})
        again = client.wait_execution("approve", "s1-again", timeout=30)
        assert again.status == "Succeeded"
        assert again.output["result"] == {"prepared": 5, "approved": True}  # Prepare's output, recorded
        history = client.get_history("approve", "s1-again")
        assert [(e.type, e.step_name) for e in history][:3] == [
            ("ExecutionStarted", ""),
            ("StepEntered", "Prepare"),
            ("StepExited", "Prepare"),
        ]
        reset = next(e for e in history if e.type == "ExecutionReset")
        assert reset.detail["resetFrom"] == {"flowName": "approve", "name": "s1"}
        assert reset.detail["toStep"] == "Approve"
        scheduled = [e for e in history if e.type == "TaskScheduled"]
        assert [e.detail["attempt"] for e in scheduled] == [1, 1]
        assert scheduled[-1].event_id > reset.event_id
        assert client.describe_execution("approve", "s1").status == "Succeeded"  # left as it was

        not_a_task = fnflow("exec", "reset", "approve", "s1", "--to-step", "Finish", url=server.url)
        assert not_a_task.returncode == 2 and "is a pass step" in not_a_task.stderr
        unknown = fnflow("exec", "reset", "approve", "s1", "--to-step", "Nope", url=server.url)
        assert unknown.returncode == 2 and "has no step 'Nope'" in unknown.stderr
        taken = fnflow(
            "exec", "reset", "approve", "s1", "--to-step", "Approve", "--name", "s1-again", url=server.url
        )
        assert taken.returncode != 0 and "already exists" in taken.stderr
