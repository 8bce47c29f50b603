"""End-to-end: the timer example (FunctionFlow best practice 7) against a real server.

The example's schedule fires once a minute; to see ticks within seconds, the server runs with
``FNFLOW_SCHEDULE_MIN_INTERVAL=1`` (for tests only) and the test adds a two-second schedule.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from fnflow import Client, Execution, NotFoundError
from fnflow.testing import ServerProcess
from tests.e2e.cli import fnflow

HERE = Path(__file__).parent


def wait_started(client: Client, name: str, timeout: float = 30) -> Execution:
    """Wait for the execution to exist (its tick to come) and then to end."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.wait_execution("timer", name, timeout=timeout)
        except NotFoundError:
            assert time.monotonic() < deadline, f"{name} did not start in {timeout}s"
            time.sleep(0.1)


@pytest.mark.e2e
def test_the_flow_calls_hello_on_schedule_with_the_payload(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--apply", str(HERE), env={"FNFLOW_SCHEDULE_MIN_INTERVAL": "1"}).start()
    try:
        listed = fnflow("schedule", "list", "timer", url=server.url)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines()[1].split()[:8] == [
            "timer",
            "every-minute",
            "0",
            "*",
            "*",
            "*",
            "*",
            "*",
        ]
        with Client(server.url) as client:
            every_minute = client.get_schedule("timer", "every-minute")
            assert every_minute.enabled and every_minute.payload == {"name": "fnflow"}
            assert every_minute.next_fire_time is not None and every_minute.next_fire_time.second == 0

            fast = client.put_schedule("timer", "fast", "*/2 * * * * *", payload={"name": "test"})
            tick = fast.next_fire_time
            assert tick is not None
            done = wait_started(client, f"fast-{tick:%Y%m%dT%H%M%SZ}")
            assert done.succeeded and done.input == {"name": "test"}
            assert done.output == {"message": "hello, test"}
            assert done.started_time is not None
            late = done.started_time - tick
            assert timedelta(0) <= late < timedelta(seconds=1.5), f"fired {late} after its tick"
    finally:
        server.stop()
