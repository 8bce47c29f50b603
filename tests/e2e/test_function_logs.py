"""Function logs through a real server: OpenFaaS' ``/system/logs`` as ``faas-cli logs`` asks for it
(openfaas/faas-cli proxy/logs.go: ``name``, ``namespace``, ``follow``, ``since`` RFC 3339, ``tail``),
fnflow's own route, the Python client and ``fnflow fn logs``; follow; bad queries; failures in the
server log; and, on PostgreSQL, one process reading the lines another's function wrote."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import fnflow
from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.postgres import no_postgres

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "functions_fixtures"
CHATTY_LINES = ["line from print", "line to stderr", "no newline at the end"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    started = ServerProcess(tmp_path_factory.mktemp("logs")).start()
    with fnflow.Client(started.url) as client:
        client.deploy_function("chatty", FIXTURES / "basic", handler="index.chatty")
        client.deploy_function("chatty", FIXTURES / "basic", handler="index.chatty", service="team")
        client.deploy_function("crashy", FIXTURES / "basic", handler="index.os_exit")
    yield started
    started.stop()


def system_logs(url: str, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/system/logs", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def eventually(read: Callable[[], list[dict[str, Any]]], done: Callable[[list[dict[str, Any]]], bool]) -> Any:
    """What ``read`` returns once ``done`` says so (lines reach the store within a moment)."""
    deadline = time.monotonic() + 15
    while not done(found := read()):
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def call(url: str, name: str, call_id: str) -> httpx.Response:
    return httpx.post(f"{url}/function/{name}", headers={"X-Call-Id": call_id}, timeout=30)


def test_faas_cli_logs_reads_each_line_with_its_function_and_time(server: ServerProcess) -> None:
    before = datetime.now(UTC)
    assert call(server.url, "chatty", "call-1").text == "done"
    params = {"name": "chatty", "follow": "false"}  # faas-cli logs --tail=false
    lines = eventually(lambda: system_logs(server.url, **params), lambda f: len(f) >= 5)
    assert {line["text"] for line in lines} >= set(CHATTY_LINES)
    for line in lines:
        assert set(line) == {"name", "namespace", "instance", "timestamp", "text"}
        assert (line["name"], line["namespace"]) == ("chatty", "openfaas-fn")
        assert line["instance"].isdigit(), "the worker's pid"
        assert datetime.fromisoformat(line["timestamp"]) >= before - timedelta(seconds=1)
    assert system_logs(server.url, name="chatty", namespace="team") == [], "another namespace's function"


def test_tail_and_since_as_faas_cli_sends_them(server: ServerProcess) -> None:
    call(server.url, "chatty", "call-tail")
    eventually(lambda: fnflow_logs(server, callId="call-tail"), lambda f: len(f) == 5)
    everything = system_logs(server.url, name="chatty")
    last_two = system_logs(server.url, name="chatty", tail="2")
    assert last_two == everything[-2:]
    assert system_logs(server.url, name="chatty", tail="-1") == everything, "tail <= 0: all (--lines -1)"
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    assert system_logs(server.url, name="chatty", since=later) == []
    since = everything[-1]["timestamp"]
    assert system_logs(server.url, name="chatty", since=since)[-1] == everything[-1]


def fnflow_logs(server: ServerProcess, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/v1/functions/default/chatty/logs", params=params)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def test_lines_of_one_call_through_the_native_route_the_client_and_the_cli(server: ServerProcess) -> None:
    call(server.url, "chatty", "call-mine")
    mine = eventually(lambda: fnflow_logs(server, callId="call-mine"), lambda f: len(f) == 5)
    assert {(line["callId"], line["service"], line["function"]) for line in mine} == {
        ("call-mine", "default", "chatty")
    }
    streams = {line["text"]: line["stream"] for line in mine}
    assert (streams["line from print"], streams["line to stderr"]) == ("stdout", "stderr")
    with fnflow.Client(server.url) as client:
        read = client.function_logs("chatty", call_id="call-mine")
    assert [(line.call_id, line.text) for line in read] == [(line["callId"], line["text"]) for line in mine]
    cli = subprocess.run(
        [sys.executable, "-m", "fnflow", "fn", "logs", "chatty", "--call", "call-mine", "--since", "1h"],
        capture_output=True,
        text=True,
        env={"FNFLOW_URL": server.url, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert [line.split(" ", 2)[1:] for line in cli.stdout.splitlines()] == [
        ["call-mine", line["text"]] for line in mine
    ]


def test_follow_streams_new_lines_as_they_are_written(server: ServerProcess) -> None:
    seen: list[str] = []

    def follow() -> None:
        with fnflow.Client(server.url) as client:
            for line in client.follow_function_logs("chatty", since=datetime.now(UTC)):
                seen.append(line.call_id)
                if line.call_id == "call-followed":
                    return

    reader = threading.Thread(target=follow, daemon=True)
    with httpx.stream("GET", f"{server.url}/system/logs", params={"name": "chatty", "follow": "true"}) as r:
        assert r.status_code == 200  # faas-cli logs (it follows by default) gets its answer at once
    reader.start()  # whether its first read comes before the call or after, the lines reach it
    call(server.url, "chatty", "call-followed")
    reader.join(timeout=20)
    assert not reader.is_alive() and "call-followed" in seen


def test_bad_queries_are_400_and_unknown_functions_404(server: ServerProcess) -> None:
    url = server.url
    for params, message in [
        (
            {"name": "chatty", "since": "yesterday"},
            "since must be an RFC 3339 time with a zone, such as 2024-05-01T12:00:00Z, got 'yesterday'",
        ),
        (
            {"name": "chatty", "since": "2024-05-01T12:00:00"},
            "since must be an RFC 3339 time with a zone, such as 2024-05-01T12:00:00Z,"
            " got '2024-05-01T12:00:00'",
        ),
        ({"name": ""}, "name is required: the function whose logs to read"),
        (
            {"name": "chatty", "namespace": "nowhere"},
            "namespace 'nowhere' does not exist (it has no functions)",
        ),
    ]:
        response = httpx.get(f"{url}/system/logs", params=params)
        assert (response.status_code, response.json()) == (
            400,
            {"code": "InvalidArgument", "message": message},
        )
    tail = httpx.get(f"{url}/system/logs", params={"name": "chatty", "tail": "ten"})
    assert tail.status_code == 400 and tail.json()["code"] == "InvalidArgument"
    missing = httpx.get(f"{url}/system/logs", params={"name": "nobody"})
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    native = httpx.get(f"{url}/api/v1/functions/default/chatty/logs", params={"since": "soon"})
    assert native.status_code == 400


def test_a_crash_is_in_the_function_log_and_the_server_log_with_its_name(server: ServerProcess) -> None:
    assert call(server.url, "crashy", "call-crash").status_code == 502
    lines = eventually(
        lambda: system_logs(server.url, name="crashy"),
        lambda f: any("fnflow: the call failed" in line["text"] for line in f),
    )
    assert "fnflow: the call failed (HTTP 502): FC.Unknown: Process exited unexpectedly" in lines[-1]["text"]
    assert "function default/crashy failed (call call-crash, HTTP 502): FC.Unknown" in server.log()


def test_a_command_function_logs_what_the_classic_watchdog_does(server: ServerProcess) -> None:
    body = {"service": "catter", "image": "functions/alpine:latest", "envProcess": "cat"}
    httpx.post(f"{server.url}/system/functions", json=body).raise_for_status()
    assert call(server.url, "catter", "call-cat").text == ""
    lines = eventually(lambda: system_logs(server.url, name="catter"), lambda f: len(f) == 2)
    assert lines[0]["text"] == "Forking fprocess."
    assert lines[1]["text"].startswith("Wrote 0 Bytes - Duration: ")


def test_logs_written_in_one_process_are_read_in_another(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        try:
            db = stack.enter_context(throwaway_database())
        except NoPostgres as e:
            no_postgres("LOGS TEST", e)
        a, b = (ServerProcess(tmp_path / name, db=db).start() for name in "ab")
        stack.callback(a.stop)
        stack.callback(b.stop)
        with fnflow.Client(a.url) as client:
            client.deploy_function("chatty", FIXTURES / "basic", handler="index.chatty")
        assert call(a.url, "chatty", "call-on-a").text == "done"
        lines = eventually(lambda: system_logs(b.url, name="chatty"), lambda f: len(f) == 5)
        assert {line["text"] for line in lines} >= set(CHATTY_LINES)
