"""Soak: mixed executions and asynchronous calls while the server is killed with ``kill -9`` every
few seconds, on SQLite and on PostgreSQL. None is lost, none stuck, no step completes twice (every
history is checked), every output is right; the server's memory is sampled before each kill.

``make test`` runs a short one (``SHORT`` items, a kill every ``KILL_EVERY`` s, at least two kills).
The long one: ``FNFLOW_SOAK=10000 .venv/bin/pytest tests/e2e/test_soak.py -s`` (items; half
executions, half calls); it also holds the memory flat (the last lives' peak within 1.5 times the
first lives' plus 64 MB). Kills are timed (that is the point of a soak); what is asserted is
recorded state only.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.e2e.api import history
from tests.e2e.crashflow import FACTORS, FIXTURE, check_history, expected
from tests.postgres import no_postgres

SOAK = int(os.environ.get("FNFLOW_SOAK", "0"))
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(7200 if SOAK else 300)]

SHORT = 60
KILL_EVERY = float(os.environ.get("FNFLOW_SOAK_KILL_EVERY", "2.5"))
MIN_KILLS = 2
FINISH_WITHIN = 900.0  # a bound on a hang, never what decides the outcome


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Soak:
    def __init__(self, server: ServerProcess, count: int) -> None:
        self.server = server
        self.count = count
        self.submitted = 0
        self.kills = 0
        self.memory: list[int] = []
        self._lock = threading.Lock()

    def submit(self, i: int) -> None:
        """Item ``i``: an execution (even) or an asynchronous call (odd), sent until accepted; both
        are idempotent by name, so a retry after a kill cannot make a second one."""
        while True:
            try:
                if i % 2 == 0:
                    body = {"name": f"run-{i}", "input": {"x": i, "factors": FACTORS}}
                    response = httpx.post(
                        f"{self.server.url}/api/v1/flows/crash/executions", json=body, timeout=30
                    )
                    ok = response.status_code in (200, 201)
                else:
                    response = httpx.post(
                        f"{self.server.url}/async-function/math.crash",
                        json={"op": "square", "x": i},
                        headers={"X-Call-Id": f"call-{i}"},
                        timeout=30,
                    )
                    ok = response.status_code == 202
            except httpx.HTTPError:
                ok = False
            if ok:
                with self._lock:
                    self.submitted += 1
                return
            time.sleep(0.05)

    def kill_while(self, running: threading.Event) -> None:
        """kill -9 the server every KILL_EVERY seconds while work is submitted (and at least
        MIN_KILLS times), then leave it up."""
        while running.is_set() or self.kills < MIN_KILLS:
            time.sleep(KILL_EVERY)
            process = self.server.process
            assert process is not None
            self.memory.append(rss_kib(process.pid))
            self.server.kill()
            self.kills += 1
            self.server.start(timeout=120)

    def wait_for_all(self) -> None:
        deadline = time.monotonic() + FINISH_WITHIN
        with httpx.Client(base_url=self.server.url, timeout=60) as http:
            for i in range(self.count):
                path = f"/api/v1/flows/crash/executions/run-{i}" if i % 2 == 0 else f"/api/v1/calls/call-{i}"
                while True:
                    item = http.get(path, params={"wait": 20}).json()
                    if item["status"] not in ("Running", "Enqueued", "Retrying", "Stopping"):
                        break
                    assert time.monotonic() < deadline, f"stuck: {item}"
                if i % 2 == 0:
                    assert item["status"] == "Succeeded", item
                    assert item["output"] == expected(i)
                    check_history(history(self.server.url, "crash", f"run-{i}"))
                else:
                    assert item["status"] == "Succeeded", item
                    assert item["result"]["body"].replace(" ", "") == f'{{"square":{i * i}}}', item


@contextlib.contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'fnflow.db'}"
        return
    try:
        with throwaway_database() as db:
            yield db
    except NoPostgres as e:
        no_postgres("SOAK TEST", e)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_kill_9_every_few_seconds_loses_nothing_and_runs_no_step_twice(
    kind: str, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    count = SOAK or SHORT
    with database(kind, tmp_path) as db:
        # On PostgreSQL a restarted process may not take back its dead self's leases at once (it
        # cannot tell them from a live peer's): short leases let them run out soon.
        server = ServerProcess(tmp_path / "server", "--apply", str(FIXTURE), "--lease-seconds", "3", db=db)
        server.start()
        soak = Soak(server, count)
        try:
            running = threading.Event()
            running.set()
            killer = threading.Thread(target=soak.kill_while, args=(running,), daemon=True)
            killer.start()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(soak.submit, range(count)))
            running.clear()
            killer.join()
            soak.wait_for_all()
            process = server.process
            assert process is not None
            soak.memory.append(rss_kib(process.pid))
        finally:
            server.stop()
    record_property("kills", soak.kills)
    print(f"\nsoak on {kind}: {count} items, {soak.kills} kills survived, RSS KiB before each: {soak.memory}")
    assert soak.submitted == count and soak.kills >= MIN_KILLS
    if SOAK and len(soak.memory) >= 6:
        first, last = soak.memory[: len(soak.memory) // 3], soak.memory[-(len(soak.memory) // 3) :]
        assert max(last) <= 1.5 * statistics.median(first) + 64 * 1024, f"memory grows: {soak.memory}"
