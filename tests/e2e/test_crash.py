"""kill -9 the server in the middle of 50 executions: after restarts all finish, nothing twice."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, wait
from tests.e2e.crashflow import FACTORS, FIXTURE, check_history, expected

COUNT = 50


def until_finished(url: str, count: int, timeout: float = 120) -> None:
    """Wait for ``count`` executions of the flow to have ended (the kill lands by progress, not time)."""
    deadline = time.monotonic() + timeout
    while True:
        page = httpx.get(f"{url}/api/v1/flows/crash/executions", params={"status": "Succeeded", "limit": 100})
        if len(page.json()["executions"]) >= count:
            return
        assert time.monotonic() < deadline, f"fewer than {count} executions ended"
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_9_in_the_middle_loses_nothing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--apply", str(FIXTURE)).start()
    try:
        names = [
            start(server.url, "crash", {"x": x, "factors": FACTORS}, name=f"run-{x}")["name"]
            for x in range(COUNT)
        ]
        for done in (1, COUNT // 3):  # two crashes, at different stages: after this many finished
            until_finished(server.url, done)
            server.kill()
            assert server.orphans() == 0, "function workers must exit when the server dies"
            server.start()
        statuses = Counter()
        for x, name in enumerate(names):
            execution = wait(server.url, "crash", name, timeout=120)
            statuses[execution["status"]] += 1
            assert execution["status"] == "Succeeded", (name, execution, server.log()[-3000:])
            assert execution["output"] == expected(x)
            check_history(history(server.url, "crash", name))
        assert statuses == {"Succeeded": COUNT}
        # Starting the same names again returns the finished executions; nothing new runs.
        again = httpx.post(
            f"{server.url}/api/v1/flows/crash/executions",
            json={"name": "run-7", "input": {"x": 7, "factors": FACTORS}},
        )
        assert again.status_code == 200 and again.json()["status"] == "Succeeded"
    finally:
        server.stop()
