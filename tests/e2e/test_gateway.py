"""The OpenFaaS-compatible gateway against a real server: sync and async invocation, the durable
queue (limits, timeouts, retries, dead letters, cancel, expiry, named queues) and callbacks."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnflow import signing
from fnflow.functions.codepkg import pack_directory
from fnflow.testing import ServerProcess

FIXTURES = Path(__file__).parent / "fixtures" / "gateway"


class Server:
    def __init__(self, process: ServerProcess, logs: Path) -> None:
        self.process = process
        self.url = process.url
        self.logs = logs

    def deploy(self, name: str, code: str | None, **settings: Any) -> None:
        body: dict[str, Any] = {"environment": {"LOG_DIR": str(self.logs)}, **settings}
        if code is not None:
            body["code"] = base64.b64encode(pack_directory(FIXTURES / code)).decode()
        response = httpx.put(f"{self.url}/api/v1/functions/default/{name}", json=body, timeout=30)
        assert response.status_code == 200, response.text

    def call(self, call_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/v1/calls/{call_id}", timeout=10)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def wait_call(
        self, call_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            call = self.call(call_id)
            if until(call):
                return call
            assert time.monotonic() < deadline, f"call {call_id} stuck: {call}"
            time.sleep(0.05)

    def wait_final(self, call_id: str, timeout: float = 30) -> dict[str, Any]:
        final = ("Succeeded", "Failed", "Stopped", "Expired")
        return self.wait_call(call_id, lambda c: c["status"] in final, timeout)

    def submit(self, name: str, body: bytes = b"", path: str = "", **headers: str) -> str:
        response = httpx.post(
            f"{self.url}/async-function/{name}{path}", content=body, headers=headers, timeout=10
        )
        assert response.status_code == 202, response.text
        call_id: str = response.headers["x-call-id"]
        return call_id


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("gateway")
    logs = root / "logs"
    logs.mkdir()
    process = ServerProcess(root, "--queue", "slow=1").start()
    server = Server(process, logs)
    server.deploy("echo", "echo", runtime="python3-http")
    server.deploy("collector", "collector", runtime="python3")
    server.deploy("sleeper", "sleeper", runtime="python3-http", maxInstances=2)
    server.deploy(
        "flaky", "flaky", runtime="python3-http", asyncPolicy={"retries": 3, "minWait": 0.2, "maxWait": 5}
    )
    yield server
    process.stop()
    assert "Traceback" not in process.log(), process.log()[-5000:]


class Receiver:
    """A callback receiver on a loopback port (a real HTTP server, not a mock)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = 500 if len(received.requests) <= received.fail_first else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"got {len(self.requests)} callbacks, expected {count}"
            time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_sync_invocation_passes_method_path_query_headers_and_status(gw: Server) -> None:
    response = httpx.put(f"{gw.url}/function/echo/a/b?x=1", content=b"hi", headers={"X-Custom": "v"})
    assert response.status_code == 200
    assert (
        response.headers["x-echo"] == "yes"
        and response.headers["x-call-id"]
        and response.headers["x-start-time"]
    )
    seen = response.json()
    assert (seen["method"], seen["path"], seen["query"], seen["body"]) == ("PUT", "/a/b", {"x": "1"}, "hi")
    assert seen["headers"]["x-custom"] == "v"
    mine = httpx.post(f"{gw.url}/function/echo", headers={"X-Call-Id": "my-id"})
    assert mine.json()["headers"]["x-call-id"] == "my-id"
    missing = httpx.post(f"{gw.url}/function/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"


def test_async_accept_answers_202_with_the_call_id(gw: Server) -> None:
    response = httpx.post(f"{gw.url}/async-function/echo", content=b"x")
    assert (response.status_code, response.content) == (202, b"")
    assert response.headers["x-call-id"] and response.headers["x-start-time"].isdigit()
    mine = httpx.post(f"{gw.url}/async-function/echo", headers={"X-Call-Id": "caller-chosen"})
    assert mine.headers["x-call-id"] == "caller-chosen"
    assert gw.wait_final("caller-chosen")["status"] == "Succeeded"
    again = httpx.post(f"{gw.url}/async-function/echo", headers={"X-Call-Id": "caller-chosen"})
    assert again.status_code == 202 and gw.call("caller-chosen")["attempts"] == 1, (
        "the same call id runs once"
    )


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [
        ("POST", "/async-function/nope", {}, b"", 404, "NotFound"),
        ("GET", "/async-function/echo", {}, b"", 405, "MethodNotAllowed"),
        ("POST", "/async-function/echo", {}, b"x" * 256_001, 413, "PayloadTooLarge"),
        ("POST", "/async-function/echo", {"X-Callback-Url": "not a url"}, b"", 400, "InvalidArgument"),
        (
            "POST",
            "/async-function/echo",
            {"X-Callback-Url": "http://169.254.169.254/"},
            b"",
            400,
            "InvalidArgument",
        ),
        ("POST", "/async-function/echo", {"X-Callback-Url": "http://10.1.2.3/"}, b"", 400, "InvalidArgument"),
    ],
)
def test_bad_async_requests_are_refused_and_store_nothing(
    gw: Server, method: str, path: str, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    before = httpx.get(f"{gw.url}/api/v1/calls", params={"limit": 1000}).json()["calls"]
    response = httpx.request(method, f"{gw.url}{path}", headers=headers, content=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    after = httpx.get(f"{gw.url}/api/v1/calls", params={"limit": 1000}).json()["calls"]
    assert len(after) == len(before)


def test_callback_has_the_openfaas_headers_and_a_valid_signature(gw: Server, receiver: Receiver) -> None:
    call_id = gw.submit("echo", b"payload", "/sub", **{"X-Callback-Url": receiver.url})
    receiver.wait(1)
    headers, body = receiver.requests[0]
    assert headers["x-call-id"] == call_id
    assert headers["x-function-name"] == "echo"
    assert headers["x-function-status"] == "200"
    assert float(headers["x-duration-seconds"]) > 0
    assert (headers["x-retry"], headers["x-retry-max"]) == ("0", "3")
    assert headers["x-echo"] == "yes", "the function's own headers come along"
    assert json.loads(body)["body"] == "payload" and json.loads(body)["path"] == "/sub"
    key = httpx.get(f"{gw.url}/api/v1/system/callback-key").json()["key"]
    assert signing.verify(key, headers["x-fnflow-signature"], call_id, body)
    assert not signing.verify(key, headers["x-fnflow-signature"], call_id, body + b"x")
    delivered = gw.wait_call(
        call_id, lambda c: c["deliveries"] and c["deliveries"][0]["status"] == "Delivered"
    )
    assert delivered["deliveries"][0]["attempts"] == 1


def test_a_failing_receiver_is_retried(gw: Server, receiver: Receiver) -> None:
    receiver.fail_first = 2
    call_id = gw.submit("echo", b"x", **{"X-Callback-Url": receiver.url})
    receiver.wait(3)
    call = gw.wait_call(call_id, lambda c: c["deliveries"][0]["status"] == "Delivered")
    assert call["deliveries"][0]["attempts"] == 3
    assert {h["x-call-id"] for h, _ in receiver.requests} == {call_id}


def test_callback_to_another_function(gw: Server) -> None:
    call_id = gw.submit("echo", b"forward me", **{"X-Callback-Url": f"{gw.url}/function/collector"})
    gw.wait_call(call_id, lambda c: bool(c["deliveries"]) and c["deliveries"][0]["status"] == "Delivered")
    collected = (gw.logs / "collected.log").read_text()
    assert '"body":"forward me"' in collected


def test_the_function_concurrency_limit_is_never_exceeded(gw: Server) -> None:
    runs = gw.logs / "runs.log"
    runs.unlink(missing_ok=True)
    ids = [gw.submit("sleeper", path="?seconds=0.3") for _ in range(8)]
    for call_id in ids:
        assert gw.wait_final(call_id)["status"] == "Succeeded"
    spans = [tuple(map(float, line.split()[:2])) for line in runs.read_text().splitlines()]
    assert len(spans) == 8
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    assert peak <= 2, f"maxInstances is 2; {peak} ran at once"


def test_retries_back_off_and_then_succeed(gw: Server) -> None:
    call_id = gw.submit("flaky")
    call = gw.wait_final(call_id)
    assert (call["status"], call["attempts"]) == ("Succeeded", 3)
    times = [float(t) for t in (gw.logs / f"{call_id}.attempts").read_text().split()]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # minWait 0.2 s, doubling, equal jitter: the first wait is at least 0.1 s, the second 0.2 s
    # (a loaded machine only makes them longer, so no upper bound)
    assert gaps[0] >= 0.08 and gaps[1] >= 0.18, gaps


def test_exhausted_retries_go_to_the_dead_letter_list_and_can_be_redriven(gw: Server) -> None:
    gw.deploy(
        "flaky5",
        "flaky",
        runtime="python3-http",
        environment={"LOG_DIR": str(gw.logs), "FAIL_TIMES": "3"},
        asyncPolicy={"retries": 1, "minWait": 0.05},
    )
    call_id = gw.submit("flaky5")
    call = gw.wait_final(call_id)
    assert (call["status"], call["attempts"], call["deadLetter"]) == ("Failed", 2, True)
    assert call["result"]["status"] == 503
    dead = httpx.get(f"{gw.url}/api/v1/calls", params={"deadLetter": "true", "function": "flaky5"}).json()[
        "calls"
    ]
    assert [c["callId"] for c in dead] == [call_id]
    redriven = httpx.post(f"{gw.url}/api/v1/calls/redrive", json={"callIds": [call_id]})
    assert redriven.status_code == 200 and redriven.json()["calls"][0]["status"] == "Enqueued"
    call = gw.wait_final(call_id)
    assert (call["status"], call["deadLetter"], call["attempts"]) == ("Succeeded", False, 2)


def test_a_timeout_fails_the_call(gw: Server) -> None:
    gw.deploy("slowpoke", "sleeper", runtime="python3-http", timeout=1, asyncPolicy={"retries": 0})
    call_id = gw.submit("slowpoke", path="?seconds=5")
    call = gw.wait_final(call_id, timeout=20)
    assert call["status"] == "Failed" and call["result"]["status"] in (408, 504)
    assert "time out" in (call["error"] or "")


def test_cancel_a_running_call_and_a_queued_one(gw: Server) -> None:
    gw.deploy("single", "sleeper", runtime="python3-http", maxInstances=1)
    running = gw.submit("single", path="?seconds=30")
    queued = gw.submit("single", path="?seconds=30")
    gw.wait_call(running, lambda c: c["status"] == "Running")
    assert gw.call(queued)["status"] == "Enqueued"
    stopped = httpx.post(f"{gw.url}/api/v1/calls/{queued}/stop")
    assert stopped.json()["status"] == "Stopped"
    assert httpx.delete(f"{gw.url}/async-function/{running}").status_code == 202
    assert gw.wait_final(running, timeout=10)["status"] == "Stopped"
    assert gw.call(queued)["attempts"] == 0, "a stopped queued call never runs"
    unknown = httpx.delete(f"{gw.url}/async-function/nope")
    assert unknown.status_code == 404


def test_a_call_too_old_to_run_expires(gw: Server) -> None:
    gw.deploy("brief", "sleeper", runtime="python3-http", maxInstances=1, asyncPolicy={"maxEventAge": 1})
    first = gw.submit("brief", path="?seconds=2")
    second = gw.submit("brief", path="?seconds=0")
    assert gw.wait_final(first)["status"] == "Succeeded"
    expired = gw.wait_final(second)
    assert (expired["status"], expired["deadLetter"], expired["attempts"]) == ("Expired", True, 0)


def test_a_named_queue_keeps_slow_calls_from_starving_fast_ones(gw: Server) -> None:
    gw.deploy("slowq", "sleeper", runtime="python3-http", maxInstances=4, asyncPolicy={"queue": "slow"})
    slow = [gw.submit("slowq", path="?seconds=3") for _ in range(3)]
    fast = gw.submit("echo")
    done = gw.wait_final(fast)
    assert done["status"] == "Succeeded"
    finished = sorted(gw.wait_final(c)["finishedTime"] for c in slow)
    assert done["finishedTime"] < finished[0], "a fast call waited behind the slow queue"
    assert len(set(finished)) == 3 and gw.call(slow[0])["queue"] == "slow"


def test_metrics_use_openfaas_names(gw: Server) -> None:
    httpx.post(f"{gw.url}/function/echo")
    text = httpx.get(f"{gw.url}/metrics").text
    assert 'gateway_function_invocation_total{code="200",function_name="echo"}' in text
    assert 'gateway_functions_seconds_count{code="200",function_name="echo"}' in text
    assert 'gateway_function_invocation_started{function_name="echo"}' in text
    assert "queue_worker_messages_submitted_total" in text


def test_destinations_on_success_and_on_failure(gw: Server) -> None:
    """Function Compute's destinations: a URL gets the destination event, a function is called with it."""
    gw.deploy(
        "dest-ok", "echo", runtime="python3-http", asyncPolicy={"onSuccess": f"{gw.url}/bin/on-success"}
    )
    gw.deploy(
        "dest-fail",
        "flaky",
        runtime="python3-http",
        environment={"LOG_DIR": str(gw.logs), "FAIL_TIMES": "9"},
        asyncPolicy={"retries": 0, "onFailure": "collector"},
    )
    ok = gw.submit("dest-ok", b"fine")
    assert gw.wait_final(ok)["status"] == "Succeeded"
    deadline = time.monotonic() + 20
    while not (got := httpx.get(f"{gw.url}/api/v1/bins/on-success/requests").json()["requests"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    event = json.loads(got[0]["body"])
    assert event["requestContext"]["requestId"] == ok and event["requestContext"]["condition"] == ""
    assert event["requestContext"]["functionArn"] == "acs:fc:::services/default/functions/dest-ok"
    assert event["requestPayload"] == "fine" and event["responseContext"]["statusCode"] == 200

    failed = gw.submit("dest-fail")
    assert gw.wait_final(failed)["status"] == "Failed"
    deadline = time.monotonic() + 20
    collected = gw.logs / "collected.log"
    while not collected.exists() or f'"requestId": "{failed}"' not in collected.read_text():
        assert time.monotonic() < deadline, "the onFailure function was not called"
        time.sleep(0.05)


def test_a_finished_call_is_removed_once_its_retention_has_passed(tmp_path: Path) -> None:
    """With ``--call-retention 1`` a finished call is gone a second after it finished: its status
    answers 404 and its id is free again. The sweeper runs as the server starts, then every minute."""
    process = ServerProcess(tmp_path, "--call-retention", "1").start()
    try:
        server = Server(process, tmp_path)
        server.deploy("echo", "echo", runtime="python3-http")
        kept = httpx.post(f"{server.url}/async-function/echo", headers={"X-Call-Id": "kept"}, timeout=10)
        assert kept.status_code == 202
        assert server.wait_final("kept")["status"] == "Succeeded"
        time.sleep(1.2)
        process.stop()
        process.start()
        deadline = time.monotonic() + 10  # the first sweep runs beside the server's first requests
        while (gone := httpx.get(f"{server.url}/api/v1/calls/kept", timeout=10)).status_code == 200:
            assert time.monotonic() < deadline, "the finished call was not removed"
            time.sleep(0.05)
        assert (gone.status_code, gone.json()["code"]) == (404, "NotFound")
        again = httpx.post(f"{server.url}/async-function/echo", headers={"X-Call-Id": "kept"}, timeout=10)
        assert again.status_code == 202
        assert server.wait_final("kept")["attempts"] == 1, "the id names a new call"
    finally:
        process.stop()
    assert "Traceback" not in process.log(), process.log()[-5000:]
