"""A process starting on a shared (PostgreSQL) database never takes a live peer's work.

On SQLite a starting server takes back every lease it finds (their holder must be dead: one
process per database); on PostgreSQL the holders may be alive, so it must not (``recover=not
store.shared`` in ``fnflow.app``, the same test in the runtime). Server A runs a flow task and an
asynchronous call that each mark a file when they start and then wait for the test's word —
no clock decides anything. Server B starts on the same database meanwhile. When both pieces of
work are let go, each has started exactly once: had B recovered A's leases at start, it would
have run them again.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import httpx
import pytest

from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.postgres import no_postgres

pytestmark = pytest.mark.e2e

WAITER = """
import json, os, time

def handler(event, context):
    data = json.loads(event or b"{}")
    with open(data["mark"], "a") as f:
        f.write(data["id"] + "\\n")
    while not os.path.exists(data["release"]):
        time.sleep(0.05)
    return json.dumps({"ran": data["id"]})
"""
FLOW = """version: v1
type: flow
steps:
  - type: task
    name: wait-for-word
    resourceArn: acs:fc:::services/guard/functions/waiter
"""


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _until(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout  # only a bound on a hang; never what decides the outcome
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def test_a_process_starting_on_a_shared_database_leaves_a_live_peers_work_alone(tmp_path: Path) -> None:
    code = tmp_path / "apply"
    (code / "waiter").mkdir(parents=True)
    (code / "waiter" / "index.py").write_text(WAITER)
    (code / "fnflow.yaml").write_text("functions:\n  - {service: guard, name: waiter, code: waiter}\n")
    mark, release = tmp_path / "started", tmp_path / "release"
    with contextlib.ExitStack() as stack:
        try:
            db = stack.enter_context(throwaway_database())
        except NoPostgres as e:
            no_postgres("SHARED START-UP TEST", e)
        a = ServerProcess(tmp_path / "a", "--apply", str(code), db=db)
        stack.callback(a.stop)
        a.start()
        work = {"mark": str(mark), "release": str(release)}
        with httpx.Client(base_url=a.url, timeout=60) as http:
            assert http.put("/api/v1/flows/guarded", json={"definition": FLOW}).status_code in (200, 201)
            call = http.post("/async-function/waiter.guard", content=json.dumps({**work, "id": "call"}))
            assert call.status_code == 202, call.text
            started = http.post("/api/v1/flows/guarded/executions", json={"input": {**work, "id": "flow"}})
            assert started.status_code in (200, 201), started.text
        _until(lambda: sorted(_lines(mark)) == ["call", "flow"], "both pieces of work to start on A")

        b = ServerProcess(tmp_path / "b", db=db)
        stack.callback(b.stop)
        b.start()  # ready: its start-up (and any recovery) is over
        with httpx.Client(base_url=b.url, timeout=60) as http:  # and it is taking work
            assert http.get("/api/v1/flows/guarded").status_code == 200
        release.write_text("go")

        with httpx.Client(base_url=a.url, timeout=60) as http:
            execution = http.get(f"/api/v1/flows/guarded/executions/{started.json()['name']}?wait=60").json()
            # A call's status has no long-poll: ask until it ends (it was released with the execution).
            call_url = f"/api/v1/calls/{call.headers['X-Call-Id']}"
            ended = ("Succeeded", "Failed", "Stopped", "Expired")
            _until(lambda: http.get(call_url).json()["status"] in ended, "the call to end")
            finished = http.get(call_url).json()
        assert execution["status"] == "Succeeded", execution
        assert finished["status"] == "Succeeded", finished
        assert sorted(_lines(mark)) == ["call", "flow"], "B ran work that A was running"
