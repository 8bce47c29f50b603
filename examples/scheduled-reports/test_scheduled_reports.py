"""End-to-end: a timer trigger and a schedule start reports (child flow, topic, queue), deployed
with ``fnflow deploy``, changed by deploying again with other parameters, and deleted.

The server lets schedules tick every second (``FNFLOW_SCHEDULE_MIN_INTERVAL``, for tests only)
and the test passes second-level cron expressions as parameters.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.cli import fnflow

HERE = Path(__file__).parent
FAST = ("-p", "TickCron=*/2 * * * * *", "-p", "ScheduleCron=*/3 * * * * *")


def deploy(server: ServerProcess, *args: str) -> dict[str, Any]:
    done = fnflow("deploy", "-t", str(HERE / "template.yml"), "-o", "json", *args, url=server.url)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def announcements(http: httpx.Client, wanted: set[str]) -> list[dict[str, Any]]:
    """What the topic announced to the queue, until it has come from each of ``wanted``."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while {a["source"] for a in seen} < wanted and time.monotonic() < deadline:
        got = http.get("/api/v1/queues/report-inbox/messages", params={"wait": 2, "max": 16})
        assert got.status_code == 200, got.text
        for message in got.json()["messages"]:
            seen.append(json.loads(message["body"]))
            http.delete(f"/api/v1/queues/report-inbox/messages/{message['receiptHandle']}")
    return seen


@pytest.mark.e2e
def test_timer_and_schedule_reports(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env={"FNFLOW_SCHEDULE_MIN_INTERVAL": "1"}).start()
    try:
        report = deploy(server, *FAST)
        created = {(c["kind"], c["name"]) for c in report["changes"] if c["action"] == "created"}
        assert {("trigger", "Reports/Tick/timer"), ("schedule", "daily-report/nightly")} <= created
        assert {("flow", "collect-orders"), ("subscription", "reports/to-inbox")} <= created
        with httpx.Client(base_url=server.url, timeout=30) as http:
            seen = announcements(http, {"timer", "schedule"})
            assert {a["source"] for a in seen} == {"timer", "schedule"}
            assert all(a["total"] == 42.5 for a in seen)  # summed up by the child flow

            listed = http.get("/2016-08-15/proxy/Reports/Status/")
            assert listed.status_code == 200, listed.text
            reports = listed.json()["reports"]
            assert {r["input"]["source"] for r in reports} >= {"timer", "schedule"}
            assert any(r["name"].startswith("tick-") for r in reports)
            assert any(r["name"].startswith("nightly-") for r in reports)

            # Back to the template's own rhythm: only the timer and the schedule change.
            slow = deploy(server)
            changed = {(c["kind"], c["action"]) for c in slow["changes"] if c["action"] != "unchanged"}
            assert changed == {("trigger", "updated"), ("schedule", "updated")}

            deleted = fnflow("stack", "delete", "scheduled-reports", url=server.url)
            assert deleted.returncode == 0, deleted.stderr
            assert http.get("/api/v1/functions/Reports/Tick").status_code == 404
            assert http.get("/api/v1/flows/daily-report").status_code == 404
            assert http.get("/api/v1/queues/report-inbox").status_code == 404
            assert http.get("/2016-08-15/proxy/Reports/Status/").status_code == 404
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()
