"""Every runtime through FunctionPool, against real processes: statuses, headers, bodies, errors."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from fnflow.errors import InvalidArgument
from fnflow.functions.config import FunctionConfig
from fnflow.functions.pool import FunctionPool
from fnflow.functions.spec import HttpRequest, InvocationResult
from tests.unit.functions_harness import (
    CRASH,
    FIXTURES,
    async_test,
    ctx,
    max_overlap,
    running,
    running_pool,
    spec,
    wait_until,
)

TOOL = f"{sys.executable} tool.py"


def header(result: InvocationResult, name: str) -> str | None:
    return next((v for k, v in result.headers if k.lower() == name.lower()), None)


def http(case: str = "", **fields: Any) -> HttpRequest:
    return HttpRequest(query=f"case={case}" if case else "", **fields)


def http_style(**overrides: Any) -> Any:
    return spec("handler.handle", FIXTURES / "http_style", runtime="python3-http", **overrides)


def command(cmd: str, code: Path | None = FIXTURES / "command", **overrides: Any) -> Any:
    return spec("", code, runtime="command", command=cmd, **overrides)


async def invoke(pool: FunctionPool, function: Any, request: HttpRequest | bytes) -> InvocationResult:
    return await pool.invoke(function, request, ctx())


# --- python3: Function Compute's answers, with an HTTP status for the gateway ---------------------


@async_test
async def test_python3_errors_have_fc_bodies_and_a_status_per_cause() -> None:
    async with running_pool() as pool:
        raised = await invoke(pool, spec("index.fail"), b"")
        crashed = await invoke(pool, spec("index.os_exit"), b"")
        timed_out = await invoke(pool, spec("index.sleep", timeout=0.5), b"5")
        missing = await invoke(pool, spec("nope.handler"), b"")
    assert (raised.status, raised.error_type) == (500, "ErrorNeedsRetry")
    assert raised.body == raised.error_body()
    assert json.loads(raised.body)["errorMessage"] == "the backend said try later"
    assert header(raised, "X-Fc-Error-Type") == "UnhandledInvocationError"
    assert header(raised, "Content-Type") == "application/json"
    assert (crashed.status, crashed.error_type) == (502, "FC.Unknown")
    assert CRASH.match(json.loads(crashed.body)["errorMessage"])
    assert (timed_out.status, timed_out.error_message) == (504, "Function time out after 0.5 seconds")
    assert (missing.status, missing.error_type) == (502, "FC.Unknown")


@async_test
async def test_python3_throttled_calls_are_429() -> None:
    slow = spec("index.sleep", max_instances=1, timeout=5)
    async with running_pool() as pool:
        busy = asyncio.create_task(invoke(pool, slow, b"1"))
        await wait_until(lambda: pool.stats()["busy"] == 1)
        throttled = await invoke(pool, spec("index.sleep", max_instances=1, timeout=0.2), b"0")
        await busy
    assert (throttled.status, throttled.error_type) == (429, "FC.ResourceThrottled")
    assert header(throttled, "X-Fc-Error-Type") == "UnhandledInvocationError"


@async_test
async def test_python3_reads_only_the_body_of_an_http_request() -> None:
    async with running_pool() as pool:
        result = await invoke(pool, spec(), HttpRequest("PUT", "/a/b", "x=1", (("X-A", "b"),), b"the event"))
    assert (result.ok, result.status, result.body) == (True, 200, b"the event")


# --- python3-http -------------------------------------------------------------------------------


@async_test
async def test_python3_http_maps_return_values_as_the_template_does() -> None:
    cases = {
        "none": (200, "text/html; charset=utf-8", b""),
        "dict": (201, "application/json", b'{"a":[true,null],"b":1}\n'),
        "number": (200, "text/html; charset=utf-8", b"42"),
        "nobody": (204, "text/html; charset=utf-8", b""),
        "content-type": (200, "text/plain", b"plain"),
        "string": (200, "text/html; charset=utf-8", b"just a string"),
        "tuple": (201, "text/html; charset=utf-8", b"created"),
        "list": (200, "application/json", b'[1,"two"]\n'),
        "shout": (200, "text/html; charset=utf-8", b"RELATIVE IMPORTS WORK"),
    }
    async with running_pool() as pool:
        for case, (status, content_type, body) in cases.items():
            result = await invoke(pool, http_style(), http(case))
            assert (result.ok, result.status, header(result, "Content-Type"), result.body) == (
                True,
                status,
                content_type,
                body,
            ), case
            assert float(header(result, "X-Duration-Seconds") or "nan") >= 0
        custom = await invoke(pool, http_style(), http("dict"))
        assert header(custom, "X-Custom") == "yes"
        framed = await invoke(pool, http_style(), http("content-type"))
        assert header(framed, "Content-Length") is None  # the server that sends the body frames it
        assert pool.stats()["cold_starts"] == 1


@async_test
async def test_python3_http_event_has_the_request() -> None:
    request = HttpRequest(
        "PATCH",
        "/items/7",
        "a=1&a=2&b=&c=x%20y",
        (("Content-Type", "application/json"), ("x-call-id", "call-9")),
        b'{"k": "v"}',
    )
    async with running_pool(environment={"HOSTNAME": "host-1"}) as pool:
        result = await invoke(pool, http_style(), request)
    assert json.loads(result.body) == {
        "method": "PATCH",
        "path": "/items/7",
        "query": {"a": "1", "b": "", "c": "x y"},
        "contentType": "application/json",
        "callId": "call-9",
        "body": '{"k": "v"}',
        "hostname": "host-1",
    }


@async_test
async def test_python3_http_errors_are_statuses_named_for_flows() -> None:
    async with running_pool() as pool:
        not_found = await invoke(pool, http_style(), http("not-found"))
        raised = await invoke(pool, http_style(), http("raise"))
        bad_status = await invoke(pool, http_style(), http("bad-status"))
        crashed = await invoke(pool, http_style(), http("exit"))
        after = await invoke(pool, http_style(), http("number"))
    assert (not_found.ok, not_found.status, not_found.error_type) == (False, 404, "FC.InvalidArgument")
    assert (not_found.body, not_found.error_message) == (b"no such thing", "no such thing")
    assert (raised.status, raised.error_type, raised.body) == (
        500,
        "FC.InternalServerError",
        b"ValueError: bad input\n",
    )
    assert header(raised, "X-Fc-Error-Type") is None
    assert (bad_status.status, bad_status.error_type) == (500, "FC.InternalServerError")
    assert (crashed.status, crashed.error_type, header(crashed, "Content-Type")) == (
        502,
        "FC.Unknown",
        "text/plain; charset=utf-8",
    )
    assert CRASH.match(crashed.body.decode().strip())
    assert after.ok


@async_test
async def test_python3_flask_returns_what_a_flask_view_may() -> None:
    flask = spec("handler.handle", FIXTURES / "flask_style", runtime="python3-flask")
    async with running_pool() as pool:
        text = await invoke(pool, flask, HttpRequest(body="héllo".encode()))
        missing = await invoke(pool, flask, HttpRequest(body=b"missing"))
        as_json = await invoke(pool, flask, HttpRequest(body=b"json"))
    assert (text.status, text.body, header(text, "Content-Type")) == (
        200,
        "héllo".encode(),
        "text/html; charset=utf-8",
    )
    assert (missing.status, missing.body, missing.error_type) == (404, b"not here", "FC.InvalidArgument")
    assert (as_json.body, header(as_json, "Content-Type")) == (b'{"echo":"json"}\n', "application/json")


# --- python3-classic ----------------------------------------------------------------------------


def classic(**overrides: Any) -> Any:
    return spec("handler.handle", FIXTURES / "classic_style", runtime="python3-classic", **overrides)


@async_test
async def test_python3_classic_prints_the_return_value_and_what_the_handler_printed() -> None:
    async with running_pool() as pool:
        echo = await invoke(pool, classic(), HttpRequest(headers=(("Content-Type", "x/y"),), body=b"\xffraw"))
        printed = await invoke(pool, classic(), HttpRequest(body=b"print"))
        nothing = await invoke(pool, classic(), HttpRequest(body=b"none"))
    assert (echo.status, echo.body, header(echo, "Content-Type")) == (200, b"\xffraw\n", "x/y")
    assert printed.body == b"printed first\nthen returned\n"
    assert (nothing.status, nothing.body) == (200, b"")


@async_test
async def test_python3_classic_sees_the_request_as_http_variables_for_that_call_only() -> None:
    first = HttpRequest(
        "PUT",
        "/sub/path",
        "q=1",
        (("Host", "gw:8080"), ("x-call-id", "c-1"), ("X-Custom", "a"), ("x-custom", "b")),
        b"env",
    )
    async with running_pool() as pool:
        env = json.loads((await invoke(pool, classic(), first)).body)
        again = json.loads((await invoke(pool, classic(), HttpRequest(body=b"env"))).body)
    assert env == {
        "Http_ContentLength": "3",
        "Http_Content_Length": "3",
        "Http_Host": "gw:8080",
        "Http_Method": "PUT",
        "Http_Path": "/sub/path",
        "Http_Query": "q=1",
        "Http_X_Call_Id": "c-1",
        "Http_X_Custom": "a",
    }
    assert again == {
        "Http_ContentLength": "3",
        "Http_Content_Length": "3",
        "Http_Host": "",
        "Http_Method": "POST",
        "Http_Path": "/",
    }


@async_test
async def test_python3_classic_exception_is_a_500_with_the_traceback() -> None:
    async with running_pool() as pool:
        result = await invoke(pool, classic(), HttpRequest(body=b"raise"))
        refused = await invoke(pool, classic(), HttpRequest(method="OPTIONS"))
    assert (result.status, result.error_type) == (500, "FC.InternalServerError")
    body = result.body.decode()
    assert body.startswith("exit status 1\nTraceback (most recent call last):\n")
    assert body.endswith("RuntimeError: classic boom\n")
    assert (refused.status, refused.body, refused.error_type) == (405, b"", "FC.InvalidArgument")


# --- command ------------------------------------------------------------------------------------


@async_test
async def test_command_gets_the_body_on_stdin_and_answers_with_stdout() -> None:
    request = HttpRequest(headers=(("Content-Type", "text/x-test"),), body=b"shout this")
    async with running_pool() as pool:
        result = await invoke(pool, command(f"{TOOL} upper"), request)
        forced = await invoke(pool, command(f"{TOOL} upper", environment={"content_type": "a/b"}), request)
    assert (result.ok, result.status, result.body) == (True, 200, b"SHOUT THIS")
    assert header(result, "Content-Type") == "text/x-test"
    assert float(header(result, "X-Duration-Seconds") or "nan") > 0
    assert header(forced, "Content-Type") == "a/b"


@async_test
async def test_command_environment_has_the_function_settings_and_http_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FNFLOW_DB", "sqlite:///secret.db")  # the server's settings stay out
    request = HttpRequest(
        "DELETE",
        "/a",
        "x=%2F",
        (("user-agent", "curl/8"), ("Host", "h"), ("Transfer-Encoding", "chunked")),
        b"",
    )
    function = command(f"{TOOL} env", environment={"GREETING": "hi"})
    async with running_pool() as pool:
        result = json.loads((await invoke(pool, function, request)).body)
        off = json.loads(
            (await invoke(pool, command(f"{TOOL} env", environment={"cgi_headers": "false"}), request)).body
        )
    assert result["env"] == {
        "GREETING": "hi",
        "Http_User_Agent": "curl/8",
        "Http_Method": "DELETE",
        "Http_ContentLength": "0",
        "Http_Content_Length": "0",
        "Http_Query": "x=%2F",
        "Http_Path": "/a",
        "Http_Transfer_Encoding": "chunked",
        "Http_Host": "h",
    }
    assert result["cwd"] == str(FIXTURES / "command")
    assert off["env"] == {}


@async_test
async def test_command_without_code_runs_in_a_fresh_directory_that_is_removed() -> None:
    async with running_pool() as pool:
        result = await invoke(pool, command("pwd", code=None), b"")
    directory = Path(result.body.decode().strip())
    assert directory.name.startswith("fnflow-command-")
    assert directory.parent == Path(tempfile.gettempdir())
    assert not directory.exists()


@async_test
async def test_command_failures_answer_as_the_classic_watchdog() -> None:
    async with running_pool() as pool:
        failed = await invoke(pool, command(f"{TOOL} fail"), b"")
        separate = await invoke(pool, command(f"{TOOL} stderr", environment={"combine_output": "false"}), b"")
        merged = await invoke(pool, command(f"{TOOL} stderr"), b"")
        missing = await invoke(pool, command("no-such-program-here"), b"")
        refused = await invoke(pool, command("cat"), HttpRequest(method="HEAD"))
    assert (failed.ok, failed.status, failed.error_type) == (False, 500, "FC.InternalServerError")
    assert failed.body.decode().splitlines() == ["exit status 3", "partial output", "to stderr"]
    assert failed.error_message == failed.body.decode()
    assert separate.body == b"to stdout\n"
    assert sorted(merged.body.decode().splitlines()) == ["to stderr", "to stdout"]
    assert (missing.status, missing.error_type) == (500, "FC.InternalServerError")
    assert "no-such-program-here" in missing.body.decode()
    assert (refused.status, refused.error_type) == (405, "FC.InvalidArgument")


@async_test
async def test_command_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    async with running_pool() as pool:
        started = time.monotonic()
        result = await invoke(pool, command(f"{TOOL} hang {pid_file}", timeout=1), b"")
        elapsed = time.monotonic() - started
    assert (result.status, result.body, result.error_type) == (408, b"Killed process.\n", "FC.Unknown")
    assert result.error_message == "Function time out after 1 seconds"
    assert elapsed >= 0.9  # killed at its timeout, not before (a loaded machine only makes it later)
    child = int(pid_file.read_text())
    await wait_until(lambda: not running(child))


def test_a_cancelled_command_call_is_reaped_before_the_cancellation_goes_on(tmp_path: Path) -> None:
    """A stopped call is cancelled; its process is killed and reaped then, so a loop that ends
    right after leaves no subprocess transport for the garbage collector to find open."""
    pid_file = tmp_path / "child.pid"

    async def cancel_a_running_call() -> None:
        async with running_pool() as pool:
            call = asyncio.create_task(invoke(pool, command(f"{TOOL} hang {pid_file}", timeout=60), b""))
            await wait_until(pid_file.exists)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        asyncio.run(cancel_a_running_call())
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    child, deadline = int(pid_file.read_text()), time.monotonic() + 5
    while running(child) and time.monotonic() < deadline:  # its process group was killed
        time.sleep(0.05)
    assert not running(child)


@async_test
async def test_command_calls_honour_max_instances(tmp_path: Path) -> None:
    function = command(f"{TOOL} record {tmp_path} 0.4", max_instances=2)
    async with running_pool() as pool:
        results = await asyncio.gather(*(invoke(pool, function, b"") for _ in range(6)))
        assert pool.stats()["functions"]["svc/fn"]["cold_starts"] == 0
    assert all(r.ok for r in results)
    assert len(list(tmp_path.glob("*.json"))) == 6
    assert max_overlap(tmp_path) == 2


@async_test
async def test_closing_the_pool_kills_running_commands(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    pool = FunctionPool()
    call = asyncio.create_task(invoke(pool, command(f"{TOOL} hang {pid_file}", timeout=30), b""))
    await wait_until(pid_file.exists)
    await pool.close()
    result = await call
    assert (result.status, result.body.splitlines()[0]) == (500, b"signal: killed")
    child = int(pid_file.read_text())
    await wait_until(lambda: not running(child))


def test_a_command_that_is_not_valid_shell_words_is_refused_at_deploy() -> None:
    with pytest.raises(InvalidArgument, match="cannot be split into words"):
        FunctionConfig("svc", "fn", runtime="command", command="echo 'unclosed").validate()
