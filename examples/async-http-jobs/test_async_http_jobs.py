"""End-to-end: seed 000 (async-http-jobs) deployed with ``fnflow deploy`` and driven only over HTTP.

The HTTP function starts and describes the flow with Alibaba's SDK, signing with its role's
temporary credentials and the SDK's default endpoint, which its process's proxy brings to fnflow.
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
TRIGGER = "/2016-08-15/proxy/AsyncJobs/HttpAPI"


def deploy(server: ServerProcess) -> dict[str, Any]:
    done = fnflow("deploy", "-t", str(HERE / "template.yml"), "-o", "json", url=server.url)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def describe(http: httpx.Client, execution: str, until: str = "Succeeded") -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        answer = http.get(f"{TRIGGER}/describe", params={"flowName": "AsyncJob", "executionName": execution})
        assert answer.status_code == 200, answer.text
        described: dict[str, Any] = answer.json()
        if described["Status"] == until or time.monotonic() > deadline:
            return described
        time.sleep(0.2)


@pytest.mark.e2e
def test_start_and_describe_a_job_over_http(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path).start()
    try:
        report = deploy(server)
        assert sorted((c["kind"], c["name"], c["action"]) for c in report["changes"]) == [
            ("flow", "AsyncJob", "created"),
            ("function", "AsyncJobs/DoWork", "created"),
            ("function", "AsyncJobs/HttpAPI", "created"),
            ("trigger", "AsyncJobs/HttpAPI/http-trigger", "created"),
        ]
        start = f"{server.url}{TRIGGER}/start?flowName=AsyncJob"
        assert f"'{start}'" in report["outputs"]["startJob"]  # the cloud's URL, made this server's

        with httpx.Client(base_url=server.url, timeout=30) as http:
            started = http.post(
                f"{TRIGGER}/start", params={"flowName": "AsyncJob"}, content=b'{"seconds": 0.2}'
            )
            assert started.status_code == 200, started.text
            execution = started.json()["executionName"]
            described = describe(http, execution)
            assert described["Status"] == "Succeeded", described
            assert json.loads(described["Output"]) == {"done": True, "seconds": 0.2}
            assert json.loads(described["Input"]) == {"seconds": 0.2}

            assert http.get(f"{TRIGGER}/nowhere").status_code == 404  # the app's own answer
            refused = http.put(f"{TRIGGER}/start")
            assert refused.status_code == 405 and refused.json()["code"] == "MethodNotAllowed"
            missing = http.get("/2016-08-15/proxy/AsyncJobs/DoWork/")
            assert missing.status_code == 404 and "no HTTP trigger" in missing.json()["message"]

        # The URL the cloud gives the trigger reaches the same function through fnflow as a proxy.
        cloud = "http://1234567890123456.cn-hangzhou.fc.aliyuncs.com"
        with httpx.Client(proxy=server.url, timeout=30) as proxied:
            answer = proxied.post(f"{cloud}{TRIGGER}/start?flowName=AsyncJob", content=b'{"seconds": 0}')
            assert answer.status_code == 200 and answer.json()["executionName"]

        again = deploy(server)
        assert {c["action"] for c in again["changes"]} == {"unchanged"}
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()
