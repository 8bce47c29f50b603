"""Functions take turns: a backlog of one slow function does not hold up another's calls.

On PostgreSQL a server holds few calls in memory (twice its parallelism): the rest wait in the
store. Before each function had a share of that room, a slow function's backlog filled it, and
a fast function's calls waited in the store behind the whole backlog. Real server, real
PostgreSQL, real worker processes.
"""

from __future__ import annotations

import base64
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from fnflow.functions.codepkg import pack_directory
from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.postgres import no_postgres

WORKER = Path(__file__).parent / "fixtures" / "worker"  # sleeps 50-150 ms, logs the call id
SLOW_CALLS = 80  # one at a time: about 8 s of backlog


def finished(client: httpx.Client, call_id: str) -> bool:
    return client.get(f"/api/v1/calls/{call_id}").json()["status"] == "Succeeded"


@pytest.mark.slow  # 15-30 s under the suite's load: started early, so as not to end the run
def test_a_slow_backlog_does_not_hold_up_another_functions_calls(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    with ExitStack() as stack:
        try:
            db = stack.enter_context(throwaway_database())
        except NoPostgres as e:
            no_postgres("ASYNC FAIRNESS TEST", e)
        server = ServerProcess(tmp_path / "server", db=db).start()
        stack.callback(server.stop)
        client = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        code = base64.b64encode(pack_directory(WORKER)).decode()
        for name, instances in (("slow", 1), ("fast", 2)):
            deploy = {
                "runtime": "python3-http",
                "maxInstances": instances,
                "environment": {"LOG_DIR": str(logs)},
                "code": code,
            }
            assert client.put(f"/api/v1/functions/default/{name}", json=deploy).status_code == 200
        for i in range(SLOW_CALLS):
            response = client.post("/async-function/slow", content=b"s", headers={"X-Call-Id": f"slow-{i}"})
            assert response.status_code == 202
        began = time.monotonic()
        fast = [f"fast-{i}" for i in range(5)]
        for call_id in fast:
            assert client.post("/async-function/fast", headers={"X-Call-Id": call_id}).status_code == 202
        while not all(finished(client, call_id) for call_id in fast):
            assert time.monotonic() - began < 4.5, "the fast function's calls wait behind the slow backlog"
            time.sleep(0.05)
        slow_done = sum(1 for line in (logs / "ran.log").read_text().split() if line.startswith("slow"))
        assert slow_done < SLOW_CALLS // 2, f"{slow_done} slow calls ran first: the test proves nothing"
