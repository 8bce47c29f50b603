"""End-to-end: FunctionFlow best practice 3 — a flow publishes its task token to a topic; the topic
pushes the message to its subscriber, a function, which reports the token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, wait

HERE = Path(__file__).parent
ENDED = ("Succeeded", "Failed", "Expired", "Stopped")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("topic-callback"), "--apply", str(HERE)).start()
    yield server.url
    server.stop()


def test_the_subscriber_reports_the_token_the_message_carried(url: str) -> None:
    name = start(url, "mns-topic-task", {"messageBody": "approve order 42"})["name"]
    execution = wait(url, "mns-topic-task", name)
    assert (execution["status"], execution["output"]) == ("Succeeded", {"status": "success"})
    [submitted] = [e for e in history(url, "mns-topic-task", name) if e["type"] == "TaskSubmitted"]
    assert submitted["eventDetail"]["topic"] == "fnf-demo-topic"
    # The subscriber reports the token before it returns: its call may end after the execution.
    deadline = time.monotonic() + 30
    while True:
        calls = httpx.get(f"{url}/api/v1/calls", params={"function": "approver"}).json()["calls"]
        if calls and all(call["status"] in ENDED for call in calls):
            break
        assert time.monotonic() < deadline, f"the subscriber's call did not end: {calls}"
        time.sleep(0.05)
    assert all(call["status"] == "Succeeded" for call in calls), calls


def test_request_response_publishes_and_goes_on_with_the_message_id(url: str) -> None:
    definition = (
        (HERE / "flow.yaml").read_text().replace("pattern: waitForCallback", "pattern: requestResponse")
    )
    definition = definition.replace("source: $local.status", "source: $local.MessageId")
    assert httpx.put(f"{url}/api/v1/flows/publish-only", json={"definition": definition}).status_code == 201
    execution = wait(url, "publish-only", start(url, "publish-only", {"messageBody": "fyi"})["name"])
    assert execution["status"] == "Succeeded"
    assert len(execution["output"]["status"]) == 32, "the MessageId MNS answers, as $local.MessageId"


def test_a_sync_topic_task_is_refused_when_the_flow_is_created(url: str) -> None:
    definition = (HERE / "flow.yaml").read_text().replace("pattern: waitForCallback", "pattern: sync")
    refused = httpx.put(f"{url}/api/v1/flows/wrong-pattern", json={"definition": definition})
    assert refused.status_code == 400
    [problem] = refused.json()["errors"]
    assert problem["step"] == "mns-topic-task"
    assert "must be requestResponse or waitForCallback, not sync" in problem["message"]
