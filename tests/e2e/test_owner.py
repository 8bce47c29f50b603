"""One process per SQLite database, and a port taken before anything else: a second server on a
database a live one runs refuses to start and touches nothing; a killed owner never blocks a restart."""

from __future__ import annotations

import base64
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from fnflow.functions.codepkg import pack_directory
from fnflow.testing import ServerProcess

pytestmark = pytest.mark.e2e

GATE = Path(__file__).parent / "fixtures" / "gate"


def deploy_gate(server: ServerProcess, logs: Path) -> None:
    deploy = {
        "runtime": "python3-http",
        "environment": {"LOG_DIR": str(logs)},
        "code": base64.b64encode(pack_directory(GATE)).decode(),
    }
    assert httpx.put(f"{server.url}/api/v1/functions/default/gate", json=deploy).status_code == 200


def wait_for_line(path: Path, line: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and line in path.read_text().splitlines()):
        assert time.monotonic() < deadline, f"{line!r} never appeared in {path}"
        time.sleep(0.02)


def wait_call(server: ServerProcess, call_id: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        call: dict[str, object] = httpx.get(f"{server.url}/api/v1/calls/{call_id}").json()
        if call["status"] in ("Succeeded", "Failed", "Expired", "Stopped"):
            return call
        assert time.monotonic() < deadline, f"call {call_id} did not end: {call}"
        time.sleep(0.05)


def start_second(root: Path, db: str) -> subprocess.CompletedProcess[str]:
    second = ServerProcess(root, db=db)
    return subprocess.run(second.command(), capture_output=True, text=True, timeout=60, env=second.env)


def test_a_second_server_on_a_live_database_refuses_and_touches_nothing(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    first = ServerProcess(tmp_path / "a").start()
    try:
        deploy_gate(first, logs)
        accepted = httpx.post(f"{first.url}/async-function/gate", content=b"x", headers={"X-Call-Id": "held"})
        assert accepted.status_code == 202
        wait_for_line(logs / "ran.log", "start held")

        second = start_second(tmp_path / "b", first.db)
        assert second.returncode == 1
        assert f"is in use by fnflow server (pid {first.process.pid}" in second.stderr
        assert first.url in second.stderr and "PostgreSQL" in second.stderr
        assert "Traceback" not in second.stderr + second.stdout

        (logs / "release").touch()
        call = wait_call(first, "held")
        assert (call["status"], call["attempts"]) == ("Succeeded", 1)
        assert (logs / "ran.log").read_text().split("\n") == ["start held", "end held", ""], "it ran once"
    finally:
        first.stop()
    # Once the owner is gone, the database is free for the next one.
    again = ServerProcess(tmp_path / "b", db=first.db).start()
    again.stop()


def test_a_killed_owner_leaves_no_stale_lock_and_its_work_is_recovered_at_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    # A lease this long means only the start-up recovery can hand the call back within the test.
    server = ServerProcess(tmp_path, "--lease-seconds", "3600").start()
    try:
        deploy_gate(server, logs)
        httpx.post(f"{server.url}/async-function/gate", content=b"x", headers={"X-Call-Id": "cut"})
        wait_for_line(logs / "ran.log", "start cut")
        server.kill()
        assert server.orphans() == 0
        (logs / "release").touch()
        server.start()
        call = wait_call(server, "cut")
        assert (call["status"], call["attempts"]) == ("Succeeded", 2)
    finally:
        server.stop()


def test_a_busy_port_is_named_before_the_database_is_touched(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = ServerProcess(tmp_path)
        server.port = taken.getsockname()[1]
        ran = subprocess.run(server.command(), capture_output=True, text=True, timeout=60, env=server.env)
    assert ran.returncode == 1
    assert f"port {server.port} on 127.0.0.1 is in use by pid " in ran.stderr
    assert "--port" in ran.stderr and "Traceback" not in ran.stderr
    assert not (tmp_path / "fnflow.db").exists()


def test_an_unreachable_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, db="postgresql://fnflow:secret@127.0.0.1:1/nowhere")
    ran = subprocess.run(server.command(), capture_output=True, text=True, timeout=60, env=server.env)
    assert ran.returncode == 1
    assert "fnflow: cannot use the database postgresql://fnflow:***@127.0.0.1:1/nowhere:" in ran.stderr
    assert "secret" not in ran.stderr and "Traceback" not in ran.stderr
