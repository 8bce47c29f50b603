"""kill -9 the server while accepted calls run (60; 200 with ``--long``, ``tests/long.py``): after a
restart every call ends, none is lost."""

from __future__ import annotations

import base64
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from fnflow.functions.codepkg import pack_directory
from fnflow.testing import ServerProcess
from tests.long import sized

WORKER = Path(__file__).parent / "fixtures" / "worker"
COUNT = sized(60, 200)


@pytest.mark.slow
def test_kill_9_while_calls_run_loses_none(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    server = ServerProcess(tmp_path).start()
    try:
        deploy = {
            "runtime": "python3-http",
            "maxInstances": 2,
            "environment": {"LOG_DIR": str(logs)},
            "code": base64.b64encode(pack_directory(WORKER)).decode(),
        }
        assert httpx.put(f"{server.url}/api/v1/functions/default/worker", json=deploy).status_code == 200
        with httpx.Client(base_url=server.url) as client:
            for i in range(COUNT):
                response = client.post(
                    "/async-function/worker", content=f"job {i}".encode(), headers={"X-Call-Id": f"job-{i}"}
                )
                assert response.status_code == 202
        ran = logs / "ran.log"
        deadline = time.monotonic() + 60
        while not (ran.exists() and ran.read_text().split()):  # some ran, some run, most wait
            assert time.monotonic() < deadline, "no call ran"
            time.sleep(0.01)
        server.kill()
        assert server.orphans() == 0
        ran_before = len((logs / "ran.log").read_text().split()) if (logs / "ran.log").exists() else 0
        assert 0 < ran_before < COUNT, f"the kill should land in the middle ({ran_before} ran)"
        server.start()
        deadline = time.monotonic() + 120
        statuses: Counter[str] = Counter()
        for i in range(COUNT):
            while True:
                call = httpx.get(f"{server.url}/api/v1/calls/job-{i}").json()
                if call["status"] in ("Succeeded", "Failed", "Expired", "Stopped"):
                    break
                assert time.monotonic() < deadline, f"call job-{i} is stuck: {call}"
                time.sleep(0.05)
            statuses[call["status"]] += 1
            assert call["result"]["body"] == f"job {i}"
        assert statuses == {"Succeeded": COUNT}
        ran = Counter((logs / "ran.log").read_text().split())
        assert set(ran) == {f"job-{i}" for i in range(COUNT)}, "every call ran"
        assert sum(ran.values()) - COUNT <= 4, "only calls running at the kill may run twice (at least once)"
    finally:
        server.stop()
