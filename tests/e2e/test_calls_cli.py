"""Invoking through the gateway and following asynchronous calls, against a real server: the
``fnflow.Client`` methods (invoke, calls, bins, verify_callback) and the commands ``fnflow fn
invoke``, ``fnflow call …``, ``fnflow bin show`` and ``fnflow keys callback-key``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from fnflow import BinRequest, Call, Client, NotFoundError, verify_callback
from fnflow.functions.config import AsyncPolicy
from fnflow.testing import ServerProcess
from tests.e2e.cli import fields, fnflow

pytestmark = pytest.mark.e2e

T = TypeVar("T")
FIXTURES = Path(__file__).parent / "fixtures" / "gateway"
# python3-http functions written for these tests: one answers 404 with a JSON body shaped like
# fnflow's own errors, one fails until the file named by $GATE exists.
MISSING = """\
def handle(event, context):
    return {
        "statusCode": 404,
        "body": {"code": "NotFound", "message": "no such item"},
        "headers": {"Content-Type": "application/json"},
    }
"""
GATE = """\
import os


def handle(event, context):
    if os.path.exists(os.environ["GATE"]):
        return {"statusCode": 200, "body": "passed " + event.body.decode()}
    return {"statusCode": 500, "body": "the gate is closed"}
"""


class Server:
    def __init__(self, url: str, root: Path) -> None:
        self.url = url
        self.root = root
        self.client = Client(url, api_key="")

    def run(self, *args: str) -> tuple[int, str, str]:
        done = fnflow(*args, url=self.url)
        return done.returncode, done.stdout, done.stderr

    def gate(self, name: str) -> Path:
        """Deploy a gate function that fails (without retries) until the returned file exists."""
        code = self.root / name
        code.mkdir()
        (code / "handler.py").write_text(GATE)
        gate = self.root / f"{name}.open"
        self.client.deploy_function(
            name,
            code,
            runtime="python3-http",
            environment={"GATE": str(gate)},
            async_policy=AsyncPolicy(retries=0),
        )
        return gate


def eventually(read: Callable[[], T], ok: Callable[[T], bool], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {timeout}s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("calls")
    process = ServerProcess(root).start()
    server = Server(process.url, root)
    missing = root / "missing"
    missing.mkdir()
    (missing / "handler.py").write_text(MISSING)
    logs = root / "logs"
    logs.mkdir()
    deploy = server.client.deploy_function
    deploy("echo", FIXTURES / "echo", runtime="python3-http")
    deploy("sleeper", FIXTURES / "sleeper", runtime="python3-http", environment={"LOG_DIR": str(logs)})
    deploy("missing", missing, runtime="python3-http")
    yield server
    server.client.close()
    process.stop()
    assert "Traceback" not in process.log(), process.log()[-5000:]


# --- fnflow.Client ----------------------------------------------------------------------------------


def test_invoke_returns_what_the_function_answered_and_raises_what_fnflow_refused(server: Server) -> None:
    c = server.client
    answer = c.invoke("missing")  # a 404 with {code, message} from the function is its answer
    assert (answer.ok, answer.status, json.loads(answer.body)["message"]) == (False, 404, "no such item")
    assert answer.call_id and answer.header("x-duration-seconds")
    with pytest.raises(NotFoundError, match="function default/nope does not exist"):
        c.invoke("nope")

    echo = c.invoke(
        "echo",
        b"hi",
        method="PUT",
        path="a/b",
        query={"x": "1"},
        headers={"X-Custom": "v", "X-Call-Id": "mine"},
    )
    seen = json.loads(echo.body)
    assert (echo.ok, echo.header("X-Echo"), echo.call_id) == (True, "yes", "mine")
    assert (seen["method"], seen["path"], seen["query"], seen["body"]) == ("PUT", "/a/b", {"x": "1"}, "hi")
    assert seen["headers"]["x-custom"] == "v"


def test_async_call_is_followed_by_id_and_its_callback_verified_from_a_bin(server: Server) -> None:
    c = server.client
    call_id = c.invoke_async(
        "echo", b"later", path="/job", call_id="client-1", callback_url=f"{server.url}/bin/client"
    )
    assert call_id == "client-1"
    done = c.wait_call(call_id, timeout=30)
    assert (done.succeeded, done.function, done.service, done.attempts) == (True, "echo", "default", 1)
    assert done.result is not None and done.result.status == 200 and done.result.header("x-echo") == "yes"
    assert json.loads(done.result.body)["path"] == "/job"
    assert call_id in [x.call_id for x in c.iter_calls(function="echo", page_size=1)]

    [request] = eventually(lambda: c.bin_requests("client"), bool)
    assert isinstance(request, BinRequest) and request.header("X-Function-Name") == "echo"
    key = c.callback_key()
    assert verify_callback(request.headers, request.body, key)
    assert verify_callback(dict(request.headers), request.body, key)
    assert not verify_callback(request.headers, request.body + b"!", key)
    assert not verify_callback(request.headers, request.body, "another key")
    delivered = eventually(
        lambda: c.get_call(call_id), lambda x: bool(x.deliveries) and x.deliveries[0].status != "Pending"
    )
    assert [(d.kind, d.status, d.last_status) for d in delivered.deliveries] == [
        ("callback", "Delivered", 200)
    ]


def test_stop_and_cancel_calls(server: Server) -> None:
    c = server.client
    running = c.invoke_async("sleeper", query="seconds=30")
    eventually(lambda: c.get_call(running), lambda x: x.status == "Running")
    assert c.stop_call(running) in ("Stopping", "Stopped")
    assert c.wait_call(running, timeout=30).status == "Stopped"
    cancelled = c.invoke_async("sleeper", query={"seconds": "30"})
    c.cancel_call(cancelled)
    assert c.wait_call(cancelled, timeout=30).status == "Stopped"
    still: Call = c.wait_call(c.invoke_async("sleeper", query="seconds=2"), timeout=0.2)
    assert not still.finished
    with pytest.raises(NotFoundError):
        c.get_call("no-such-call")


def test_dead_letters_are_listed_and_redriven(server: Server) -> None:
    c = server.client
    gate = server.gate("gate-client")
    call_id = c.invoke_async("gate-client", b"x")
    failed = c.wait_call(call_id, timeout=30)
    assert (failed.status, failed.dead_letter, failed.result and failed.result.status) == (
        "Failed",
        True,
        500,
    )
    assert [x.call_id for x in c.list_calls(function="gate-client", dead_letter=True).items] == [call_id]
    gate.touch()
    [redriven] = c.redrive_calls([call_id, c.invoke_async("echo")])  # a call that is not dead is left
    assert (redriven.call_id, redriven.status, redriven.dead_letter) == (call_id, "Enqueued", False)
    done = c.wait_call(call_id, timeout=30)
    assert done.succeeded and done.result is not None and done.result.body == b"passed x"


# --- the command line -------------------------------------------------------------------------------


def test_fn_invoke_prints_the_body_and_exits_1_unless_2xx(server: Server) -> None:
    code, out, err = server.run("fn", "invoke", "missing")
    assert (code, json.loads(out)) == (1, {"code": "NotFound", "message": "no such item"})
    assert "the function failed (HTTP 404, call " in err
    code, out, err = server.run("fn", "invoke", "nope", "--data", "x")
    assert (code, out) == (2, "")
    assert "function default/nope does not exist" in err


def test_fn_invoke_passes_method_path_query_headers_and_body(server: Server) -> None:
    code, out, err = server.run(
        "fn", "invoke", "echo", "-m", "patch", "--path", "/items/1", "--query", "a=1", "--query", "b=2",
        "-H", "X-One: 1", "-H", "X-Two=2", "--content-type", "text/csv", "--data", "a,b",
    )  # fmt: skip
    assert code == 0, err
    seen = json.loads(out)
    assert (seen["method"], seen["path"], seen["query"], seen["body"]) == (
        "PATCH",
        "/items/1",
        {"a": "1", "b": "2"},
        "a,b",
    )
    headers = seen["headers"]
    assert (headers["x-one"], headers["x-two"], headers["content-type"]) == ("1", "2", "text/csv")
    assert server.run("fn", "invoke", "echo", "-H", "no separator")[0] == 2


def test_fn_invoke_async_then_call_wait_get_and_list(server: Server) -> None:
    code, out, err = server.run("fn", "invoke", "echo", "--async", "--data", "queued")
    assert code == 0 and err == "Function submitted asynchronously.\n"
    call_id = out.strip()
    code, out, err = server.run("call", "wait", call_id, "--timeout", "30")
    assert code == 0, err
    assert json.loads(out)["body"] == "queued"

    code, out, _ = server.run("call", "get", call_id, "-o", "json")
    call = json.loads(out)
    assert (code, call["callId"], call["status"], call["function"]) == (0, call_id, "Succeeded", "echo")
    shown = fields(server.run("call", "get", call_id)[1])
    assert (shown["status"], shown["function"], shown["attempts"]) == ("Succeeded", "default/echo", "1 of 4")
    assert shown["result"].startswith("HTTP 200: {")

    code, out, _ = server.run("fn", "invoke", "echo", "--async", "-o", "json")
    second = json.loads(out)["callId"]
    listed = server.run("call", "list", "--function", "echo", "--status", "Succeeded")[1]
    assert listed.startswith("CALL ID") and call_id in listed
    server.client.wait_call(second, timeout=30)
    ids = [
        c["callId"] for c in json.loads(server.run("call", "list", "-o", "json", "--limit", "2")[1])["calls"]
    ]
    assert second in ids
    assert server.run("call", "get", "no-such-call")[0] == 2
    assert server.run("fn", "invoke", "echo", "--async", "-m", "GET")[0] == 2


def test_call_wait_times_out_and_call_stop_stops(server: Server) -> None:
    call_id = server.run("fn", "invoke", "sleeper", "--async", "--query", "seconds=30")[1].strip()
    code, _, err = server.run("call", "wait", call_id, "--timeout", "0.5")
    assert code == 1 and f"call {call_id} is still" in err
    eventually(lambda: server.client.get_call(call_id), lambda x: x.status == "Running")
    code, out, _ = server.run("call", "stop", call_id)
    assert code == 0 and out.strip() in (f"call {call_id}: Stopping", f"call {call_id}: Stopped")
    code, out, err = server.run("call", "wait", call_id, "--timeout", "30")
    assert code == 1 and f"call {call_id} ended Stopped" in err
    assert fields(out)["status"] == "Stopped"


def test_call_dlq_and_redrive_all_dead(server: Server) -> None:
    gate = server.gate("gate-cli")
    ids = [server.client.invoke_async("gate-cli", str(i).encode()) for i in range(3)]
    for call_id in ids:
        assert server.client.wait_call(call_id, timeout=30).status == "Failed"
    dead = json.loads(server.run("call", "dlq", "--function", "gate-cli", "-o", "json")[1])["calls"]
    assert sorted(c["callId"] for c in dead) == sorted(ids)
    assert all(c["deadLetter"] and c["status"] == "Failed" for c in dead)

    assert server.run("call", "redrive")[0] == 2  # ids or --all-dead
    assert server.run("call", "redrive", ids[0], "--all-dead")[0] == 2
    gate.touch()
    code, out, err = server.run("call", "redrive", "--all-dead", "--function", "gate-cli")
    assert code == 0, err
    assert out.splitlines()[0] == "redrove 3 call(s)" and sorted(out.splitlines()[1:]) == sorted(ids)
    assert [server.client.wait_call(call_id, timeout=30).status for call_id in ids] == ["Succeeded"] * 3
    assert server.run("call", "dlq", "--function", "gate-cli")[1].splitlines() == [
        "CALL ID  FUNCTION  STATUS  ATTEMPTS  CREATED  DURATION  ERROR"
    ]
    code, out, _ = server.run("call", "redrive", ids[0])
    assert (code, out) == (0, "redrove 0 call(s) (1 not dead letters, left alone)\n")


def test_bin_show_and_the_callback_key(server: Server) -> None:
    hook = f"X-Callback-Url: {server.url}/bin/cli"
    call_id = server.run("fn", "invoke", "echo", "--async", "-H", hook, "--data", "to the bin")[1].strip()
    [request] = eventually(lambda: server.client.bin_requests("cli"), bool)
    code, out, _ = server.run("bin", "show", "cli")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith(f"POST /  ({len(request.body)} bytes)")
    assert f"  X-Call-Id: {call_id}" in lines and "  X-Function-Name: echo" in lines
    assert "  X-Function-Status: 200" in lines and lines[-1].startswith('  body: {"body":"to the bin"')
    shown = json.loads(server.run("bin", "show", "cli", "-o", "json")[1])
    assert shown == {"requests": [request.raw]}
    assert (
        server.run("bin", "show", "empty")[1]
        == "bin empty received nothing yet (send requests to /bin/empty)\n"
    )

    code, out, _ = server.run("keys", "callback-key")
    assert code == 0 and verify_callback(request.headers, request.body, out.strip())
