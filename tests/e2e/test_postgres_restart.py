"""PostgreSQL restarts while work runs: every fnflow process connects again and carries on.

A PostgreSQL cluster of the test's own (never the machine's shared server) is restarted with
``pg_ctl restart -m fast`` — every session cut — while a server and a worker run executions and
asynchronous calls on it. Everything accepted finishes, right, with clean histories.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from fnflow.testing import NoPostgres, ServerProcess, ThrowawayCluster
from tests.e2e.api import history, start, wait
from tests.e2e.crashflow import FACTORS, FIXTURE, check_history, expected
from tests.postgres import no_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COUNT = 24


def _until_some_finished(url: str, count: int) -> None:
    deadline = time.monotonic() + 120  # a bound on a hang only
    while True:
        page = httpx.get(f"{url}/api/v1/flows/crash/executions", params={"status": "Succeeded", "limit": 100})
        if len(page.json()["executions"]) >= count:
            return
        assert time.monotonic() < deadline, "no execution finished"
        time.sleep(0.05)


def test_processes_reconnect_and_carry_on_after_a_postgresql_restart(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        try:
            cluster = ThrowawayCluster.start()
        except NoPostgres as e:
            no_postgres("RESTART TEST", e)
        stack.callback(cluster.stop)
        name = f"fnflow_restart_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        db = cluster.url.rsplit("/", 1)[0] + f"/{name}"
        common = ("--apply", str(FIXTURE), "--lease-seconds", "5")
        server = ServerProcess(tmp_path / "server", *common, db=db)
        stack.callback(server.stop)
        server.start()
        worker = ServerProcess(tmp_path / "worker", "--lease-seconds", "5", db=db, command="worker")
        stack.callback(worker.stop)
        worker.start()

        names = [
            start(server.url, "crash", {"x": x, "factors": FACTORS}, name=f"run-{x}")["name"]
            for x in range(COUNT)
        ]
        calls = []
        for x in range(COUNT):
            response = httpx.post(
                f"{server.url}/async-function/math.crash",
                json={"op": "square", "x": x},
                headers={"X-Call-Id": f"c-{x}"},
            )
            assert response.status_code == 202, response.text
            calls.append(f"c-{x}")
        _until_some_finished(server.url, 1)  # in the middle of the work
        cluster.restart()
        # Reads find their pooled connections cut: each is run again on a new one, never failed.
        for run in names[:8]:
            described = httpx.get(f"{server.url}/api/v1/flows/crash/executions/{run}", timeout=30)
            assert described.status_code == 200, described.text

        for x, run in enumerate(names):
            execution = wait(server.url, "crash", run, timeout=180)
            assert execution["status"] == "Succeeded", (execution, server.log()[-2000:])
            assert execution["output"] == expected(x)
            check_history(history(server.url, "crash", run))
        for x, call_id in enumerate(calls):
            call = httpx.get(f"{server.url}/api/v1/calls/{call_id}", params={"wait": 60}, timeout=90).json()
            assert call["status"] == "Succeeded", call
            assert call["result"]["body"].replace(" ", "") == f'{{"square":{x * x}}}'
        assert worker.process is not None and worker.process.poll() is None, "the worker died"
        assert httpx.get(f"{server.url}/healthz").status_code == 200
