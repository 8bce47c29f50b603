"""kill -9 the server while 100 executions wait for their children: after a restart every parent
ends with its child's output, each started exactly one child, and no history shows a step twice."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, wait
from tests.e2e.crashflow import check_history

FIXTURE = Path(__file__).parent / "fixtures" / "children"
COUNT = 100


def started_children(url: str) -> int:
    return len(httpx.get(f"{url}/api/v1/flows/child/executions", params={"limit": 999}).json()["executions"])


@pytest.mark.slow
def test_kill_9_while_parents_wait_for_children_loses_nothing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--apply", str(FIXTURE)).start()
    try:
        names = [start(server.url, "parent", {"x": x}, name=f"p{x}")["name"] for x in range(COUNT)]
        deadline = time.monotonic() + 60
        while started_children(server.url) < COUNT // 5:  # the kill lands while parents wait
            assert time.monotonic() < deadline, "children never started"
            time.sleep(0.02)
        server.kill()
        assert server.orphans() == 0
        server.start()
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
