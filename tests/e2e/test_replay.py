"""End-to-end: ``fnflow replay`` re-runs an execution recorded by a real server, in-process, against
its pinned definition (the same history) and an edited one (the first event that differs)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fnflow.client import Client
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
      - target: n
        source: $input.n
  - type: task
    name: Approve
    resourceArn: acs:mns:::/queues/approvals/messages
    pattern: waitForCallback
    inputMappings:
      - target: token
        source: $context.task.token
  - type: wait
    name: Pause
    duration: 1
  - type: choice
    name: Big
    choices:
      - condition: $.n > 10
        goto: Large
  - type: succeed
    name: Small
  - type: pass
    name: Large
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("replay")
    server = ServerProcess(root).start()
    with Client(server.url) as client:
        client.put_queue("approvals")
        client.put_flow("approve", FLOW)
        client.start_execution("approve", {"n": 3}, name="r1")
        # Report once the message is out, as a worker that received it would (reported sooner, the
        # recorded history would order TaskSubmitted after TaskSucceeded, and no replay can do that).
        deadline = time.monotonic() + 30
        while not any(e.type == "TaskSubmitted" for e in client.get_history("approve", "r1")):
            assert time.monotonic() < deadline, "the message was never sent"
            time.sleep(0.05)
        [scheduled] = [e for e in client.get_history("approve", "r1") if e.type == "TaskScheduled"]
        client.report_task_succeeded(scheduled.detail["input"]["token"], {"approved": True})
        assert client.wait_execution("approve", "r1", timeout=30).status == "Succeeded"
        client.put_flow("approve", FLOW.replace("duration: 1", "duration: 5"))  # the pinned one stays
    yield server.url, root
    server.stop()


def test_replaying_against_the_pinned_definition_gives_the_same_history(recorded: tuple[str, Path]) -> None:
    url, _ = recorded
    done = fnflow("replay", "approve", "r1", url=url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the same history" in done.stdout


def test_an_edited_definition_is_reported_where_it_diverges(recorded: tuple[str, Path]) -> None:
    url, root = recorded
    edited = root / "edited.yaml"
    edited.write_text(FLOW.replace("$.n > 10", "$.n > 1"))
    done = fnflow("replay", "approve", "r1", "-f", str(edited), url=url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "diverges at event" in done.stdout
    assert "recorded: #" in done.stdout and "StepEntered 'Small'" in done.stdout
    assert "replayed: #" in done.stdout and "StepEntered 'Large'" in done.stdout
    as_json = json.loads(fnflow("replay", "approve", "r1", "-f", str(edited), "-o", "json", url=url).stdout)
    assert as_json["identical"] is False
    assert as_json["divergence"]["replayed"]["stepName"] == "Large"


def test_a_longer_wait_diverges_in_time_and_bad_input_is_refused(recorded: tuple[str, Path]) -> None:
    url, root = recorded
    slower = root / "slower.yaml"
    slower.write_text(FLOW.replace("duration: 1", "duration: 30"))
    done = fnflow("replay", "approve", "r1", "-f", str(slower), url=url)
    assert done.returncode == 1
    assert "the same event at another time" in done.stdout
    broken = root / "broken.yaml"
    broken.write_text(FLOW.replace("type: wait", "type: sleep"))
    refused = fnflow("replay", "approve", "r1", "-f", str(broken), url=url)
    assert refused.returncode == 2
    assert "is not a valid flow" in refused.stderr and "unknown step type 'sleep'" in refused.stderr
    missing = fnflow("replay", "approve", "nope", url=url)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
