"""End-to-end: the three integration patterns of seed 001 against a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, steps, wait

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("patterns"), "--apply", str(HERE)).start()
    yield server.url
    server.stop()


def test_request_response_with_async_invocation_moves_on_at_once(url: str) -> None:
    execution = wait(
        url, "async-fire-and-forget", start(url, "async-fire-and-forget", {"seconds": 3})["name"]
    )
    assert execution["status"] == "Succeeded" and execution["output"]["continued"] is True
    call_id = execution["output"]["callId"]  # the step's $local names the queued call
    deadline = time.monotonic() + 60
    while (call := httpx.get(f"{url}/api/v1/calls/{call_id}").json())["status"] != "Succeeded":
        assert time.monotonic() < deadline, f"the job did not finish: {call}"
        time.sleep(0.1)
    assert call["function"] == "transcode"
    assert call["finishedTime"] > execution["stoppedTime"], "the flow ended before the job did"


def test_sync_waits_for_the_asynchronous_call(url: str) -> None:
    name = start(url, "async-sync", {"seconds": 1.5}, name="video-42")["name"]
    # The task step queues the call once the execution has started, not before start answers.
    deadline = time.monotonic() + 10
    while (call := httpx.get(f"{url}/api/v1/calls/video-42")).status_code == 404:
        assert time.monotonic() < deadline, "StatefulAsyncInvocationID names the call"
        time.sleep(0.02)
    assert call.status_code == 200, call.text
    execution = wait(url, "async-sync", name)
    assert execution["status"] == "Succeeded"
    assert execution["output"] == {"output": "oss://videos/video-42.mp4", "callId": "video-42"}
    events = history(url, "async-sync", name)
    assert [e["type"] for e in events if e["stepName"] == "mytask"] == [
        "StepEntered",
        "TaskScheduled",
        "TaskSubmitted",
        "TaskStarted",
        "TaskSucceeded",
        "StepExited",
    ]
    assert httpx.get(f"{url}/api/v1/calls/video-42").json()["status"] == "Succeeded"


def test_wait_for_callback_is_reported_by_the_function(url: str) -> None:
    approved = wait(url, "async-callback", start(url, "async-callback", {"verdict": "approve"})["name"])
    assert approved["status"] == "Succeeded" and approved["output"] == {"approved": True}
    name = start(url, "async-callback", {"verdict": "reject"})["name"]
    rejected = wait(url, "async-callback", name)
    assert rejected["output"] == {"approved": False}
    assert steps(history(url, "async-callback", name), "StepEntered") == ["mytask", "rejected"]
