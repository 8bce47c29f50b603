"""End-to-end: FunctionFlow best practice 4 — a flow sends tasks to a queue, an external worker
process (worker.py, on fnflow's client) receives them, reports back and deletes them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, wait

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("queue-callback"), "--apply", str(HERE)).start()
    yield process
    process.stop()


def run_worker(url: str) -> str:
    env = {**os.environ, "FNFLOW_URL": url}
    done = subprocess.run(
        [sys.executable, str(HERE / "worker.py"), "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def queued(url: str) -> int:
    info = httpx.get(f"{url}/api/v1/queues/fnf-demo").json()
    return int(info["activeMessages"]) + int(info["inactiveMessages"])


def test_the_worker_receives_the_task_reports_it_and_deletes_the_message(server: ServerProcess) -> None:
    names = [start(server.url, "fnf-demo-queue", {"n": i})["name"] for i in range(3)]
    deadline = time.monotonic() + 30
    while queued(server.url) < 3:
        assert time.monotonic() < deadline, "the flow's messages never reached the queue"
        time.sleep(0.05)
    output = run_worker(server.url)
    assert output.count("reported the task succeeded") == 3
    for name in names:
        execution = wait(server.url, "fnf-demo-queue", name)
        assert execution["status"] == "Succeeded"
        assert execution["output"] == {"key": "value", "worker": "worker.py"}
        [submitted] = [e for e in history(server.url, "fnf-demo-queue", name) if e["type"] == "TaskSubmitted"]
        assert submitted["eventDetail"]["queue"] == "fnf-demo"
    assert queued(server.url) == 0, "the worker deleted every message"


def test_a_message_for_a_task_that_already_ended_is_deleted_all_the_same(server: ServerProcess) -> None:
    name = start(server.url, "fnf-demo-queue", {})["name"]
    deadline = time.monotonic() + 30
    while queued(server.url) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    httpx.post(f"{server.url}/api/v1/flows/fnf-demo-queue/executions/{name}/stop", json={}).raise_for_status()
    output = run_worker(server.url)
    assert "the task has already ended" in output
    assert queued(server.url) == 0


def test_a_flow_naming_a_queue_that_does_not_exist_is_refused(server: ServerProcess) -> None:
    definition = (HERE / "flow.yaml").read_text().replace("/queues/fnf-demo/", "/queues/no-such-queue/")
    refused = httpx.put(f"{server.url}/api/v1/flows/typo", json={"definition": definition})
    assert refused.status_code == 400
    [problem] = refused.json()["errors"]
    assert (problem["step"], problem["field"]) == ("Task_1", "resourceArn")
    assert "queue 'no-such-queue' does not exist" in problem["message"]
    assert problem["line"] == 10  # the resourceArn line of flow.yaml
