"""kill -9 the server while executions wait for their children and others for workers to handle
the messages they sent to a queue (40 and 20; 100 and 50 with ``--long``, ``tests/long.py``): after
a restart every parent ends with its child's output, each started exactly one child, each queued
execution sent exactly one message and ends with what its worker reported, and no history shows a
step twice."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from fnflow import Client
from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, wait
from tests.e2e.crashflow import check_history
from tests.long import sized

FIXTURE = Path(__file__).parent / "fixtures" / "children"
COUNT = sized(40, 100)
QUEUED = sized(20, 50)


def started_children(url: str) -> int:
    return len(httpx.get(f"{url}/api/v1/flows/child/executions", params={"limit": 999}).json()["executions"])


def waiting_parents(url: str) -> int:
    params: dict[str, str | int] = {"status": "Running", "limit": 999}
    return len(httpx.get(f"{url}/api/v1/flows/parent/executions", params=params).json()["executions"])


def queued_messages(url: str) -> int:
    return int(httpx.get(f"{url}/api/v1/queues/jobs").json()["activeMessages"])


def drain(url: str) -> list[str]:
    """Be the worker: report each message's token with its x doubled, delete it; the ids received."""
    received: list[str] = []
    with Client(url) as fnflow:
        while len(received) < QUEUED:
            for message in fnflow.receive_messages("jobs", max=16, wait=5):
                body = json.loads(message.body)
                fnflow.report_task_succeeded(body["token"], {"done": 2 * body["x"]})
                fnflow.delete_message("jobs", message.receipt_handle or "")
                received.append(message.message_id)
    return received


@pytest.mark.slow
def test_kill_9_while_parents_wait_for_children_loses_nothing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--apply", str(FIXTURE)).start()
    try:
        names = [start(server.url, "parent", {"x": x}, name=f"p{x}")["name"] for x in range(COUNT)]
        queued = [start(server.url, "queued", {"x": x}, name=f"q{x}")["name"] for x in range(QUEUED)]
        deadline = time.monotonic() + 60
        # The kill lands while parents wait for children and executions for their messages' workers.
        while started_children(server.url) < COUNT // 5 or queued_messages(server.url) < QUEUED // 5:
            assert time.monotonic() < deadline, "children never started"
            time.sleep(0.02)
        assert waiting_parents(server.url) > 0, "the kill should land while parents wait for children"
        server.kill()
        assert server.orphans() == 0
        server.start()
        received = drain(server.url)
        assert len(set(received)) == QUEUED and queued_messages(server.url) == 0, "each sent exactly once"
        for x, name in enumerate(queued):
            execution = wait(server.url, "queued", name, timeout=120)
            assert (execution["status"], execution["output"]) == ("Succeeded", {"done": 2 * x}), execution
            check_history(history(server.url, "queued", name))
        for x, name in enumerate(names):
            parent = wait(server.url, "parent", name, timeout=120)
            assert (parent["status"], parent["output"]) == ("Succeeded", {"doubled": 2 * x}), parent
            described = httpx.get(f"{server.url}/api/v1/flows/parent/executions/{name}").json()
            [child] = described["childExecutions"]
            assert child["status"] == "Succeeded"
            check_history(history(server.url, "parent", name))
            check_history(history(server.url, "child", child["name"]))
        assert started_children(server.url) == COUNT, "no attempt started a second child"
    finally:
        server.stop()
