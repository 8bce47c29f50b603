"""End-to-end: OpenFaaS workshop lab 7 (seed 003) on fnflow — synchronous versus asynchronous
calls of `long-task`, results in a request bin and on a collector function, and what more
parallelism does to the total time.

The lab makes ten synchronous calls; four (ten with ``--long``, ``tests/long.py``) show the same
thing, that each holds its caller for the whole second of ``sleep 1``, in six seconds less. The
asynchronous batches stay at ten: one at a time against five at a time needs that many calls to
tell the two apart by a wide margin."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.long import sized

HERE = Path(__file__).parent
SYNCHRONOUS = sized(4, 10)  # synchronous calls, one after another


def up(url: str, parallelism: int) -> None:
    env = {**os.environ, "LONG_TASK_PARALLELISM": str(parallelism)}
    result = subprocess.run(
        [sys.executable, "-m", "fnflow", "up", "-f", str(HERE / "long-task.yml"), "--url", url],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def async_batch(url: str, count: int, callback: str) -> tuple[float, float]:
    """(seconds to submit, seconds until every call finished) for ``count`` async calls."""
    began = time.monotonic()
    ids = []
    with httpx.Client() as client:
        for _ in range(count):
            response = client.post(f"{url}/async-function/long-task", headers={"X-Callback-Url": callback})
            assert response.status_code == 202
            ids.append(response.headers["x-call-id"])
    submitted = time.monotonic() - began
    for call_id in ids:
        while httpx.get(f"{url}/api/v1/calls/{call_id}").json()["status"] != "Succeeded":
            assert time.monotonic() - began < 60
            time.sleep(0.05)
    return submitted, time.monotonic() - began


@pytest.mark.slow
def test_lab7(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path).start()
    try:
        up(server.url, parallelism=1)
        began = time.monotonic()
        with httpx.Client() as client:
            for _ in range(SYNCHRONOUS):
                assert client.post(f"{server.url}/function/long-task", timeout=30).status_code == 200
        synchronous = time.monotonic() - began
        assert synchronous >= SYNCHRONOUS, "each synchronous call of `sleep 1` takes a second"

        submitted, finished = async_batch(server.url, 10, f"{server.url}/bin/lab7")
        assert submitted < 2, "asynchronous calls return at once"
        assert finished >= 9.5, "one at a time, the work still takes ten seconds"
        deadline = time.monotonic() + 10
        while len(seen := httpx.get(f"{server.url}/api/v1/bins/lab7/requests").json()["requests"]) < 10:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        headers = {k.lower(): v for k, v in seen[0]["headers"]}
        assert headers["x-function-name"] == "long-task" and headers["x-function-status"] == "200"

        figlet = httpx.post(
            f"{server.url}/async-function/figlet",
            content=b"LaterIsBetter",
            headers={"X-Callback-Url": f"{server.url}/function/collector"},
        )
        assert figlet.status_code == 202
        deadline = time.monotonic() + 20
        while not (collected := httpx.get(f"{server.url}/api/v1/bins/collected/requests").json()["requests"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert "#####" in collected[0]["body"]

        up(server.url, parallelism=5)
        _, parallel = async_batch(server.url, 10, f"{server.url}/bin/lab7")
        assert parallel < finished / 2.5, f"five at a time: {parallel:.1f} s instead of {finished:.1f} s"
    finally:
        server.stop()
