"""End-to-end: FunctionFlow best practice 4's worker as the seed writes it — Alibaba's MNS SDK
receives and deletes, Alibaba's FnF SDK reports — against a server that requires keys, with
nothing but its environment pointing it at fnflow."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fnflow import Client
from fnflow.testing import ServerProcess
from tests.e2e.alibaba_mns import make_keys

HERE = Path(__file__).parent
FLOW = "fnf-demo-mns-worker"


def queued(client: Client) -> int:
    queue = client.get_queue("fnf-demo")
    return queue.active_messages + queue.inactive_messages


def until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.e2e
def test_the_seed_s_worker_reports_each_task_and_empties_the_queue(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--auth", "on", "--apply", str(HERE))
    key = make_keys(server.db, "invoke")["invoke"]
    server.start()
    worker: subprocess.Popen[str] | None = None
    try:
        with Client(server.url, api_key=f"{key.id}:{key.secret}") as client:
            names = [client.start_execution(FLOW, {"n": i}).name for i in range(3)]
            stopped = client.start_execution(FLOW, {"n": "stopped"}).name
            until(lambda: queued(client) == 4, "the flow's messages never reached the queue")
            client.stop_execution(FLOW, stopped)

            base = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
            env = {
                **base,
                "REGION": "cn-hangzhou",
                "ACCOUNT_ID": "1234567890",
                "AK_ID": key.id,
                "AK_SECRET": key.secret,
                "MNS_ENDPOINT": server.url,  # the MNS SDK takes no proxy: its endpoint is fnflow
                "HTTP_PROXY": server.url,  # cn-hangzhou.fnf.aliyuncs.com, reached through fnflow
            }
            worker = subprocess.Popen(
                [sys.executable, str(HERE / "worker.py")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name in names:
                execution = client.describe_execution(FLOW, name, wait=30)
                assert execution.status == "Succeeded", execution
                assert execution.output == {"key": "value"}
            until(lambda: queued(client) == 0, "the worker left messages in the queue")
    finally:
        if worker is not None:
            worker.terminate()
            output, _ = worker.communicate(timeout=30)
        server.stop()
    assert output.count("Report task succeeded finished") == 3, output
    assert output.count("Deleted message ") == 3
    assert output.count("Task already completed, deleted message ") == 1
