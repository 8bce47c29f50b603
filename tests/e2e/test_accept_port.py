"""``fnflow server --accept-port``: asynchronous calls taken by front processes and stored by the
server (``fnflow.intake``), against real servers, fronts and functions.

A call made on the accept port is the call the gateway makes of the same request (same id, headers,
body, errors, keys); a ``kill -9`` of the server takes its fronts with it and loses no call that was
answered 202; a front that dies is started again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnflow.functions.codepkg import pack_directory
from fnflow.testing import ServerProcess, free_port
from tests.e2e.fnf import create_key
from tests.long import sized

FIXTURES = Path(__file__).parent / "fixtures"
FINAL = ("Succeeded", "Failed", "Stopped", "Expired")
KILL_CALLS = sized(300, 600)  # calls sent around the kill -9 (tests/long.py)


def deploy(url: str, name: str, code: str, **settings: Any) -> None:
    body = {"code": base64.b64encode(pack_directory(FIXTURES / code)).decode(), **settings}
    response = httpx.put(f"{url}/api/v1/functions/default/{name}", json=body, timeout=30)
    assert response.status_code == 200, response.text


def wait_final(
    url: str, call_id: str, timeout: float = 30, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{url}/api/v1/calls/{call_id}", headers=headers, timeout=10)
        if response.status_code == 200 and response.json()["status"] in FINAL:
            result: dict[str, Any] = response.json()
            return result
        assert time.monotonic() < deadline, f"call {call_id}: {response.text}"
        time.sleep(0.05)


def fronts_of(server: ServerProcess) -> list[int]:
    """The pids of the server's accept fronts (its children running ``fnflow.intake.front``)."""
    assert server.process is not None
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == server.process.pid and b"fnflow.intake.front" in cmdline:
            found.append(int(pid))
    return found


def interrupted(
    port: int, function: str, prefix: str, interrupt: Callable[[], object], calls: int = 600
) -> set[str]:
    """Send ``calls`` calls (ids ``{prefix}-{n}``, bodies ``job {n}``) to the accept port, 32 at a
    time, and call ``interrupt`` (in a thread) once 100 are answered; the ids answered 202. A call
    that got no answer the client cannot know about; one refused while the server stops gets 503."""
    accepted: set[str] = set()

    async def one(client: httpx.AsyncClient, gate: asyncio.Semaphore, n: int) -> None:
        async with gate:
            try:
                response = await client.post(
                    f"/async-function/{function}", content=f"job {n}", headers={"X-Call-Id": f"{prefix}-{n}"}
                )
            except httpx.TransportError:
                return
        assert response.status_code in (202, 503), response.text
        if response.status_code == 202:
            accepted.add(f"{prefix}-{n}")

    async def interrupting() -> None:
        while len(accepted) < 100:
            await asyncio.sleep(0.005)
        await asyncio.to_thread(interrupt)

    async def load() -> None:
        gate = asyncio.Semaphore(32)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await asyncio.gather(interrupting(), *(one(client, gate, n) for n in range(calls)))

    asyncio.run(load())
    return accepted


class Accepting:
    def __init__(self, server: ServerProcess, port: int) -> None:
        self.server = server
        self.url = server.url
        self.accept_url = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def acc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accepting]:
    root = tmp_path_factory.mktemp("accept")
    port = free_port()
    server = ServerProcess(root, "--accept-port", str(port), "--accept-processes", "2").start()
    try:
        deploy(server.url, "echo", "gateway/echo", runtime="python3-http")
        yield Accepting(server, port)
    finally:
        server.stop()


def test_a_call_on_the_accept_port_is_the_gateways_call(acc: Accepting) -> None:
    headers = {"X-Call-Id": "front-1", "X-Extra": "e"}
    response = httpx.post(
        f"{acc.accept_url}/async-function/echo/sub/path?q=1", content=b"hello", headers=headers
    )
    assert response.status_code == 202, response.text
    assert response.headers["x-call-id"] == "front-1" and response.headers["x-start-time"].isdigit()
    call = wait_final(acc.url, "front-1")
    assert call["status"] == "Succeeded", call
    echoed = json.loads(call["result"]["body"])
    assert (echoed["method"], echoed["path"], echoed["query"], echoed["body"]) == (
        "POST",
        "/sub/path",
        {"q": "1"},
        "hello",
    )
    assert echoed["headers"]["x-extra"] == "e" and echoed["headers"]["x-call-id"] == "front-1"
    assert echoed["headers"]["x-start-time"] == response.headers["x-start-time"]

    again = httpx.post(
        f"{acc.accept_url}/async-function/echo", content=b"other", headers={"X-Call-Id": "front-1"}
    )
    assert again.status_code == 202 and again.headers["x-call-id"] == "front-1"
    assert wait_final(acc.url, "front-1")["attempts"] == 1, "the same call id is one call"

    # Calls without an id get one each; many at once (shared frames) are each stored once.
    async def many() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=acc.accept_url) as client:
            return await asyncio.gather(
                *(client.post("/async-function/echo", content=b"x") for _ in range(200))
            )

    def submitted() -> float:
        text = httpx.get(f"{acc.url}/metrics").text
        line = next(
            x
            for x in text.splitlines()
            if x.startswith('queue_worker_messages_submitted_total{queue_name="default"}')
        )
        return float(line.split()[-1])

    before = submitted()
    responses = asyncio.run(many())
    assert all(r.status_code == 202 for r in responses)
    assert submitted() - before == 200, "the server counts the calls its fronts pass on"
    ids = {r.headers["x-call-id"] for r in responses}
    assert len(ids) == 200
    for call_id in list(ids)[:20]:
        assert wait_final(acc.url, call_id)["status"] == "Succeeded"


def test_the_accept_port_answers_the_gateways_errors(acc: Accepting) -> None:
    for path, body in (("/async-function/nope", b"x"), ("/async-function/echo.nowhere", b"x")):
        on_front = httpx.post(f"{acc.accept_url}{path}", content=body)
        on_server = httpx.post(f"{acc.url}{path}", content=body)
        assert (on_front.status_code, on_front.json()) == (on_server.status_code, on_server.json())
        assert on_front.status_code == 404
    too_big = httpx.post(f"{acc.accept_url}/async-function/echo", content=b"x" * 300_000)
    assert too_big.status_code == 413 and too_big.json()["code"] == "PayloadTooLarge"
    long_id = httpx.post(f"{acc.accept_url}/async-function/echo", headers={"X-Call-Id": "x" * 200})
    assert long_id.status_code == 400 and long_id.json()["code"] == "InvalidArgument"
    elsewhere = httpx.get(f"{acc.accept_url}/api/v1/flows")
    assert elsewhere.status_code == 404 and "asynchronous calls only" in elsewhere.json()["message"]
    assert httpx.get(f"{acc.accept_url}/async-function/echo").status_code == 405


def test_a_front_that_dies_is_started_again(acc: Accepting) -> None:
    before = fronts_of(acc.server)
    assert len(before) == 2, before
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while len(after := fronts_of(acc.server)) < 2 or before[0] in after:
        assert time.monotonic() < deadline, f"no new front: {after}"
        time.sleep(0.1)
    for n in range(20):  # whichever front takes each connection, it answers
        response = httpx.post(
            f"{acc.accept_url}/async-function/echo", content=b"again", headers={"X-Call-Id": f"re-{n}"}
        )
        assert response.status_code == 202, response.text


def test_a_server_is_ready_once_its_fronts_serve(tmp_path: Path) -> None:
    """Ready means ready on the accept port too: the server waits for its fronts (each takes about
    a second of imports, several under load) before it serves, so the first call is answered at
    once rather than after the client's timeout."""
    port = free_port()
    server = ServerProcess(tmp_path, "--accept-port", str(port), "--accept-processes", "3").start()
    try:
        assert len(fronts_of(server)) == 3
        began = time.monotonic()
        response = httpx.post(f"http://127.0.0.1:{port}/async-function/nope", content=b"x", timeout=30)
        assert response.status_code == 404, response.text
        assert time.monotonic() - began < 1.5, "the fronts were still starting"
    finally:
        server.stop()


def test_keys_are_checked_on_the_accept_port(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(tmp_path, "--auth", "on", "--accept-port", str(port))
    keys = {scope: create_key(server.db, scope) for scope in ("admin", "report-task")}
    server.start()
    try:
        admin, report = (
            {"Authorization": f"Bearer {i}:{s}"} for i, s in (keys["admin"], keys["report-task"])
        )
        code = base64.b64encode(pack_directory(FIXTURES / "gateway/echo")).decode()
        body = {"code": code, "runtime": "python3-http"}
        deployed = httpx.put(
            f"{server.url}/api/v1/functions/default/echo", json=body, headers=admin, timeout=30
        )
        assert deployed.status_code == 200, deployed.text
        url = f"http://127.0.0.1:{port}/async-function/echo"
        for headers in ({}, {"Authorization": "Bearer nothing"}, report):
            on_front = httpx.post(url, content=b"x", headers=headers)
            on_server = httpx.post(f"{server.url}/async-function/echo", content=b"x", headers=headers)
            assert (on_front.status_code, on_front.json()) == (on_server.status_code, on_server.json())
            assert on_front.status_code in (401, 403), on_front.text
            assert on_front.headers.get("www-authenticate") == on_server.headers.get("www-authenticate")
        allowed = httpx.post(url, content=b"x", headers={**admin, "X-Call-Id": "with-key"})
        assert allowed.status_code == 202, allowed.text
        call = wait_final(server.url, "with-key", headers=admin)
        assert call["status"] == "Succeeded"
        assert "authorization" not in json.loads(call["result"]["body"])["headers"], (
            "a key never reaches a function"
        )
    finally:
        server.stop()


def test_kill_9_takes_the_fronts_along_and_loses_no_accepted_call(tmp_path: Path) -> None:
    """The server is killed once 100 calls are answered (some 110 are by the time it dies), with
    32 in flight, whether 300 calls are sent or 600 (``--long``): fewer only means fewer to send
    again and run after the restart (each holds one of four instances for 50-150 ms)."""
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    server = ServerProcess(tmp_path / "server", "--accept-port", str(port), "--accept-processes", "2").start()
    try:
        deploy(
            server.url,
            "worker",
            "worker",
            runtime="python3-http",
            environment={"LOG_DIR": str(logs)},
            maxInstances=4,
        )
        accepted = interrupted(port, "worker", "job", server.kill, KILL_CALLS)
        assert 100 <= len(accepted) < KILL_CALLS, len(accepted)
        assert server.orphans() == 0, "the fronts (and function workers) exit when their server dies"

        server.start()
        # What the client did not see answered it sends again: the same id is the same call.
        for n in range(KILL_CALLS):
            if f"job-{n}" not in accepted:
                again = httpx.post(
                    f"http://127.0.0.1:{port}/async-function/worker",
                    content=f"job {n}",
                    headers={"X-Call-Id": f"job-{n}"},
                    timeout=30,
                )
                assert again.status_code == 202, again.text
        for n in range(KILL_CALLS):
            call = wait_final(server.url, f"job-{n}", timeout=120)
            assert call["status"] == "Succeeded", call
        ran = Counter((logs / "ran.log").read_text().split())
        assert set(ran) == {f"job-{n}" for n in range(KILL_CALLS)}
    finally:
        server.stop()


def test_sigterm_under_load_stores_every_call_it_answered(tmp_path: Path) -> None:
    """A stop (SIGTERM) while calls pour in: the fronts stop first and finish what they took, the
    server exits cleanly, and every call answered 202 is found after a restart."""
    port = free_port()
    server = ServerProcess(tmp_path, "--accept-port", str(port)).start()
    try:
        deploy(server.url, "echo", "gateway/echo", runtime="python3-http")
        code: list[int] = []
        accepted = interrupted(port, "echo", "term", lambda: code.append(server.stop()))
        # uvicorn shuts down on SIGTERM, then ends by the signal it caught
        assert code in ([0], [-signal.SIGTERM]), server.log()[-3000:]
        assert "Traceback" not in server.log(), server.log()[-3000:]
        server.start()
        for call_id in accepted:
            response = httpx.get(f"{server.url}/api/v1/calls/{call_id}", timeout=10)
            assert response.status_code == 200, (call_id, response.text)
    finally:
        server.stop()
