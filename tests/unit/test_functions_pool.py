"""FunctionPool against real worker subprocesses running the handlers in tests/functions_fixtures."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

import pytest

from fnflow.errors import Unavailable
from fnflow.functions._output import Emit, OutputForwarder
from fnflow.functions.pool import FunctionPool
from fnflow.functions.spec import InvocationContext, InvocationResult
from tests.unit.functions_harness import (
    BASIC,
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


@async_test
async def test_echo_returns_the_payload_bytes() -> None:
    async with running_pool() as pool:
        before = time.time()
        result = await pool.invoke(spec(), b"\x00hello\xff", ctx())
    assert result == InvocationResult(
        True,
        b"\x00hello\xff",
        None,
        None,
        None,
        result.started_at,
        result.duration,
        200,
        (("X-Duration-Seconds", f"{result.duration:f}"),),
    )
    assert before <= result.started_at <= time.time()
    assert 0 <= result.duration < 1


@async_test
async def test_return_values_are_encoded_like_function_compute() -> None:
    expected = {
        "str": "héllo".encode(),
        "dict": b'{"a":1,"b":[true,null]}',
        "list": b'[1,2.5,"x"]',
        "int": b"42",
        "bool": b"false",
        "none": b"",
        "bytes": b"\x00\xffraw",
    }
    async with running_pool() as pool:
        for kind, body in expected.items():
            result = await pool.invoke(spec("index.returns"), kind.encode(), ctx())
            assert (result.ok, result.body) == (True, body), kind


@async_test
async def test_a_result_that_cannot_be_encoded_is_an_error_and_the_worker_lives_on() -> None:
    async with running_pool() as pool:
        for kind in ("set", "nan"):
            result = await pool.invoke(spec("index.returns"), kind.encode(), ctx())
            assert not result.ok
            assert result.error_type == "FC.Unknown"
            assert result.error_message is not None
            assert result.error_message.startswith("Function result cannot be encoded: ")
        assert pool.stats()["cold_starts"] == 1


@async_test
async def test_context_and_environment_reach_the_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNFLOW_DB", "postgresql://secret@db/fnflow")  # the server's own settings stay out
    context = InvocationContext(
        request_id="req-ctx",
        region="cn-test",
        account_id="1234",
        qualifier="prod",
        version_id="7",
        endpoint="http://127.0.0.1:8080",
        access_key_id="AK",
        access_key_secret="SECRET",
        security_token="TOKEN",
    )
    function = spec("index.context_fields", timeout=30, memory_mb=256, environment={"GREETING": "hi"})
    async with running_pool(environment={"FNFLOW_URL": "http://127.0.0.1:8080"}) as pool:
        result = await pool.invoke(function, b"", context)
    assert json.loads(result.body) == {
        "request_id": "req-ctx",
        "function": ["fn", "index.context_fields", 256, 30],
        "service": ["svc", "prod", "7"],
        "region": "cn-test",
        "account_id": "1234",
        "credentials": ["AK", "SECRET", "TOKEN"],
        "endpoint": "http://127.0.0.1:8080",
        "env": {
            "FNFLOW_URL": "http://127.0.0.1:8080",
            "FC_FUNCTION_NAME": "fn",
            "FC_SERVICE_NAME": "svc",
            "GREETING": "hi",
            "FNFLOW_DB": None,
        },
        "cwd": str(BASIC),
    }


@async_test
async def test_an_exception_reports_its_class_message_and_stack_and_the_worker_lives_on() -> None:
    source = (BASIC / "index.py").read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if "raise ErrorNeedsRetry" in text)
    async with running_pool() as pool:
        result = await pool.invoke(spec("index.fail"), b"", ctx())
        again = await pool.invoke(spec("index.fail"), b"", ctx())
        assert pool.stats()["cold_starts"] == 1
    assert (result.ok, result.error_type) == (False, "ErrorNeedsRetry")
    assert result.error_message == "the backend said try later"
    assert result.stack_trace == [
        [
            f'File "{BASIC / "index.py"}"',
            f"line {line}",
            "in fail",
            'raise ErrorNeedsRetry("the backend said try later")',
        ]
    ]
    assert json.loads(result.error_body()) == {
        "errorMessage": "the backend said try later",
        "errorType": "ErrorNeedsRetry",
        "stackTrace": result.stack_trace,
    }
    assert again.error_type == "ErrorNeedsRetry"


@pytest.mark.parametrize("handler", ["index.exit_", "index.os_exit", "index.segfault"])
@async_test
async def test_a_dying_worker_is_reported_and_replaced(handler: str) -> None:
    async with running_pool() as pool:
        result = await pool.invoke(spec(handler), b"", ctx())
        assert (result.ok, result.error_type) == (False, "FC.Unknown")
        assert result.error_message is not None
        assert CRASH.match(result.error_message), result.error_message
        assert json.loads(result.error_body())["errorMessage"] == result.error_message

        after = await pool.invoke(spec(), b"still here", ctx())
        assert after.body == b"still here"
        await wait_until(lambda: pool.stats()["workers"] == 1)


@async_test
async def test_a_timeout_kills_the_worker_and_its_children_and_the_next_call_works(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    async with running_pool() as pool:
        started = time.monotonic()
        result = await pool.invoke(spec("index.spawn_and_hang", timeout=1.5), str(pid_file).encode(), ctx())
        elapsed = time.monotonic() - started
        assert (result.ok, result.error_type) == (False, "FC.Unknown")
        assert result.error_message == "Function time out after 1.5 seconds"
        assert elapsed >= 1.4  # not before its time (a loaded machine only makes it later)
        child = int(pid_file.read_text())
        await wait_until(lambda: not running(child))

        after = await pool.invoke(spec("index.spawn_and_hang", timeout=1.5), b"/dev/null", ctx())
        assert after.error_message == "Function time out after 1.5 seconds"  # a fresh worker ran it
        assert pool.stats()["cold_starts"] == 2


@async_test
async def test_handlers_that_cannot_be_loaded_fail_with_fc_messages(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "index.py").write_text("def handler(event, context)\n    return event\n")
    cases = {
        spec("nope.handler"): "Unable to import module 'nope': ModuleNotFoundError: No module named 'nope'",
        spec("index.handler", FIXTURES / "import_error"): (
            "Unable to import module 'index': "
            "ModuleNotFoundError: No module named 'module_that_does_not_exist'"
        ),
        spec("index.missing"): "Handler 'missing' is missing on module 'index'",
        spec("index.not_callable"): "Handler 'not_callable' on module 'index' is not callable",
    }
    async with running_pool() as pool:
        for function, message in cases.items():
            result = await pool.invoke(function, b"", ctx())
            assert (result.ok, result.error_type, result.error_message) == (False, "FC.Unknown", message)
        syntax = await pool.invoke(spec("index.handler", broken), b"", ctx())
        assert (
            syntax.error_message
            == "Unable to import module 'index': SyntaxError: expected ':' (index.py, line 1)"
        )
        import_error = await pool.invoke(spec("index.handler", FIXTURES / "import_error"), b"", ctx())
        assert import_error.stack_trace == [
            [f'File "{FIXTURES / "import_error" / "index.py"}"', "line 1", "in <module>", import_error_line()]
        ]
        await wait_until(lambda: pool.stats()["workers"] == 0)


def import_error_line() -> str:
    return (FIXTURES / "import_error" / "index.py").read_text().splitlines()[0]


@async_test
async def test_max_instances_bounds_concurrency_and_is_reached(tmp_path: Path) -> None:
    function = spec("index.record", max_instances=3)
    payload = json.dumps({"dir": str(tmp_path), "sleep": 0.6}).encode()
    async with running_pool() as pool:
        calls = [pool.invoke(function, payload, ctx(f"req-{i}")) for i in range(8)]
        results = await asyncio.gather(*calls)
        assert all(r.ok for r in results)
        stats = pool.stats()["functions"]["svc/fn"]
        assert stats["cold_starts"] == 3
        assert stats["workers"] == 3
    assert max_overlap(tmp_path) == 3
    assert len({json.loads(p.read_text())["pid"] for p in tmp_path.glob("*.json")}) == 3


@async_test
async def test_waiting_calls_are_served_in_arrival_order(tmp_path: Path) -> None:
    function = spec("index.record", max_instances=1)
    payload = json.dumps({"dir": str(tmp_path), "sleep": 0.05}).encode()
    async with running_pool() as pool:
        names = [f"req-{i}" for i in range(6)]
        await asyncio.gather(*(pool.invoke(function, payload, ctx(name)) for name in names))
    starts = {p.stem: json.loads(p.read_text())["start"] for p in tmp_path.glob("*.json")}
    assert sorted(starts, key=starts.__getitem__) == names


@async_test
async def test_a_call_that_waits_longer_than_its_timeout_is_throttled() -> None:
    async with running_pool() as pool:
        busy = asyncio.create_task(
            pool.invoke(spec("index.sleep", max_instances=1, timeout=10), b"1.5", ctx())
        )
        await wait_until(lambda: pool.stats()["busy"] == 1)
        started = time.monotonic()
        throttled = await pool.invoke(spec("index.sleep", max_instances=1, timeout=0.3), b"0", ctx("req-2"))
        assert time.monotonic() - started >= 0.25
        assert not busy.done()  # given up while the one instance was still busy: not after it
        assert (throttled.ok, throttled.error_type) == (False, "FC.ResourceThrottled")
        assert throttled.error_message is not None
        assert "limit of 1 concurrent instances" in throttled.error_message
        assert (await busy).body == b"woke"
        stats = pool.stats()
        assert (stats["throttled"], stats["errors"], stats["invocations"]) == (1, 1, 2)


@async_test
async def test_a_cancelled_caller_frees_its_turn_and_its_worker() -> None:
    slow = spec("index.sleep", max_instances=1, timeout=10)
    async with running_pool() as pool:
        running_call = asyncio.create_task(pool.invoke(slow, b"3600", ctx("req-running")))
        await wait_until(lambda: pool.stats()["busy"] == 1)
        waiting_call = asyncio.create_task(pool.invoke(slow, b"0", ctx("req-waiting")))
        await wait_until(lambda: pool.stats()["waiting"] == 1)
        waiting_call.cancel()
        running_call.cancel()
        for task in (waiting_call, running_call):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert (pool.stats()["busy"], pool.stats()["waiting"]) == (0, 0)
        assert (await pool.invoke(slow, b"0", ctx())).body == b"woke"


@async_test
async def test_a_new_checksum_runs_new_code_and_both_versions_stay_warm() -> None:
    v1 = spec("index.handler", FIXTURES / "v1", checksum="c1")
    v2 = spec("index.handler", FIXTURES / "v2", checksum="c2")
    async with running_pool() as pool:
        assert (await pool.invoke(v1, b"", ctx())).body == b"v1"
        assert (await pool.invoke(v2, b"", ctx())).body == b"v2"
        assert (await pool.invoke(v1, b"", ctx())).body == b"v1"
        assert pool.stats()["cold_starts"] == 2

        await pool.evict("svc", "fn")
        assert pool.stats()["workers"] == 0
        assert (await pool.invoke(v2, b"", ctx())).body == b"v2"
        assert pool.stats()["cold_starts"] == 3


@async_test
async def test_at_max_instances_a_new_version_replaces_an_idle_old_worker() -> None:
    v1 = spec("index.handler", FIXTURES / "v1", checksum="c1", max_instances=1)
    v2 = spec("index.handler", FIXTURES / "v2", checksum="c2", max_instances=1)
    async with running_pool() as pool:
        await pool.invoke(v1, b"", ctx())
        assert (await pool.invoke(v2, b"", ctx())).body == b"v2"
        await wait_until(lambda: pool.stats()["workers"] == 1)


class Sink:
    """Keeps what a pool writes to its log sink."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str, str, str, str]] = []

    def write(self, service: str, function: str, call_id: str, instance: str, stream: str, text: str) -> None:
        self.lines.append((service, function, call_id, instance, stream, text))

    def stream(self, name: str) -> list[str]:
        return [line[5] for line in self.lines if line[4] == name]


@async_test
async def test_output_is_logged_per_request_and_stream_and_does_not_disturb_the_result(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="fnflow.functions")
    sink = Sink()
    async with running_pool(logs=sink) as pool:
        result = await pool.invoke(spec("index.chatty"), b"", ctx("req-chatty"))
        assert result.body == b"done"
        lines = [r.getMessage() for r in caplog.records if r.name == "fnflow.functions.svc.fn"]
    expected = {
        "stdout": ["line from print", "no newline at the end"],
        "stderr": ["line to stderr", "[INFO] root: line from logging", "[WARNING] app: warned"],
    }
    assert {name: sink.stream(name) for name in expected} == expected, "each stream in its own order"
    assert {(s, f, call) for s, f, call, *_ in sink.lines} == {("svc", "fn", "req-chatty")}
    assert len({instance for _, _, _, instance, _, _ in sink.lines}) == 1, "one worker wrote them all"
    assert sorted(lines) == sorted(f"[req-chatty] {text}" for texts in expected.values() for text in texts)


def loud_lines(n: int) -> list[str]:
    """What ``index.loud`` writes for the event ``n`` (a long line by its end)."""
    return sorted([f"print {n}", f"fd {n}", f"child {n}", ("x" * 10_000 + f" {n}")[-40:], f"last {n}"])


async def loud_calls(sink: Sink, count: int) -> None:
    async with running_pool(logs=sink) as pool:
        for n in range(count):
            result = await pool.invoke(spec("index.loud"), str(n).encode(), ctx(f"call-{n}"))
            assert result.body == b"ok"
    assert len({instance for _, _, _, instance, _, _ in sink.lines}) == 1, "one worker ran them all"
    for n in range(count):
        lines = sorted(text[-40:] for _, _, call, _, _, text in sink.lines if call == f"call-{n}")
        assert lines == loud_lines(n), n
    assert all(call.startswith("call-") for _, _, call, _, _, _ in sink.lines)


@async_test
async def test_every_line_goes_out_as_its_calls_however_it_was_written() -> None:
    await loud_calls(Sink(), 30)


def test_output_still_in_the_pipe_at_the_answer_goes_out_as_that_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The pool reads a worker's pipes once more at the answer only when the worker says output
    # still waits there. Here the pool reads nothing while calls run, so every line waits.
    opened = OutputForwarder.__init__

    def deaf(self: OutputForwarder, fd: int, emit: Emit) -> None:
        opened(self, fd, emit)
        self._loop.remove_reader(fd)

    monkeypatch.setattr(OutputForwarder, "__init__", deaf)
    asyncio.run(loud_calls(Sink(), 5))


@async_test
async def test_failures_are_logged_with_the_function_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="fnflow.functions")
    sink = Sink()
    async with running_pool(logs=sink) as pool:
        crashed = await pool.invoke(spec("index.os_exit"), b"", ctx("req-crash"))
        assert (crashed.ok, crashed.status) == (False, 502)
        command = spec("", code=None, runtime="command", command="sh -c 'echo oops >&2; exit 3'")
        command_env = spec("", code=None, runtime="command", command="cat", name="cat")
        assert (await pool.invoke(command, b"", ctx("req-exit"))).status == 500
        assert (await pool.invoke(command_env, b"hello", ctx("req-cat"))).body == b"hello"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[0].startswith(
        "function svc/fn failed (call req-crash, HTTP 502): FC.Unknown: Process exited"
    )
    assert (
        warnings[1]
        == "function svc/fn failed (call req-exit, HTTP 500): FC.InternalServerError: exit status 3"
    )
    notes = [(call, text) for _, _, call, _, _, text in sink.lines]
    assert (
        "req-crash",
        warnings[0].replace(
            "function svc/fn failed (call req-crash, HTTP 502)", "fnflow: the call failed (HTTP 502)"
        ),
    ) in notes
    forked, wrote = (text for call, text in notes if call == "req-cat")
    assert (forked, wrote[: len("Wrote 5 Bytes - Duration: ")]) == (
        "Forking fprocess.",
        "Wrote 5 Bytes - Duration: ",
    )
    assert ("req-exit", "oops") not in notes, (
        "a command's stderr is part of its answer unless combine_output=false"
    )


@async_test
async def test_a_five_megabyte_payload_round_trips() -> None:
    payload = os.urandom(5 * 1024 * 1024)
    async with running_pool() as pool:
        result = await pool.invoke(spec("index.big"), payload, ctx())
    assert result.ok
    assert result.body == payload + payload[:1]


@async_test
async def test_memory_mb_caps_what_a_handler_can_allocate() -> None:
    function = spec("index.allocate", memory_mb=64)
    async with running_pool() as pool:
        assert (await pool.invoke(function, b"16", ctx())).body == str(16 * 1024 * 1024).encode()
        too_much = await pool.invoke(function, b"256", ctx())
        assert (too_much.ok, too_much.error_type) == (False, "MemoryError")
        assert (await pool.invoke(function, b"16", ctx())).ok


@async_test
async def test_prewarm_starts_workers_up_to_max_instances() -> None:
    function = spec(max_instances=2)
    async with running_pool() as pool:
        assert await pool.prewarm(function, 5) == 2
        assert pool.stats()["idle"] == 2
        await asyncio.gather(pool.invoke(function, b"a", ctx()), pool.invoke(function, b"b", ctx()))
        assert pool.stats()["cold_starts"] == 0


@async_test
async def test_idle_workers_stop_after_the_idle_timeout() -> None:
    async with running_pool(idle_timeout=0.3) as pool:
        pids = await pool.invoke(spec("index.spawn_child"), b"", ctx())
        worker, child = json.loads(pids.body).values()
        await wait_until(lambda: pool.stats()["workers"] == 0)
        await wait_until(lambda: not running(worker) and not running(child))


@async_test
async def test_warm_workers_outlive_the_idle_timeout_and_extra_ones_do_not() -> None:
    function = spec(max_instances=3)
    async with running_pool(idle_timeout=0.2) as pool:
        assert await pool.keep_warm(function, 1) == 1
        assert (pool.is_warm("svc", "fn"), pool.workers("svc", "fn")) == (True, 1)
        await asyncio.gather(*(pool.invoke(function, b"x", ctx()) for _ in range(3)))  # a burst: 3 workers
        await wait_until(lambda: pool.stats()["workers"] == 1)  # the two extra ones stop
        await asyncio.sleep(0.5)  # over two idle timeouts more: the warm one stays
        assert pool.workers("svc", "fn") == 1
        assert await pool.keep_warm(function, 0) == 1
        assert not pool.is_warm("svc", "fn")
        await wait_until(lambda: pool.stats()["workers"] == 0)


@async_test
async def test_close_leaves_no_processes_behind() -> None:
    pool = FunctionPool()
    function = spec("index.spawn_child", max_instances=3)
    results = await asyncio.gather(*(pool.invoke(function, b"", ctx()) for _ in range(3)))
    pids = [pid for r in results for pid in json.loads(r.body).values()]
    assert len(pids) == 6 and all(running(pid) for pid in pids)
    busy = asyncio.create_task(pool.invoke(spec("index.sleep"), b"3600", ctx("req-busy")))
    await wait_until(lambda: pool.stats()["busy"] == 1)

    await pool.close()
    interrupted = await busy
    assert interrupted.error_type == "FC.Unknown"
    assert pool.stats()["workers"] == 0
    await wait_until(lambda: not any(running(pid) for pid in pids))
    with pytest.raises(Unavailable):
        await pool.invoke(function, b"", ctx())


@async_test
async def test_a_call_cancelled_while_its_worker_starts_leaves_no_half_started_worker() -> None:
    async with running_pool() as pool:
        for turns in range(12):  # cancel after 0, 1, 2 … turns of the event loop: every await of a cold start
            cold = spec(name=f"cold{turns}")
            call = asyncio.create_task(pool.invoke(cold, b"first", ctx()))
            for _ in range(turns):
                await asyncio.sleep(0)
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)
            result = await pool.invoke(cold, b"second", ctx())
            assert (result.ok, result.body) == (True, b"second"), result


@async_test
async def test_a_worker_imports_only_the_fnflow_modules_it_runs_on() -> None:
    """Not the client (nor httpx) that ``fnflow``'s lazy attributes would bring: importing them
    tripled the CPU a worker's start cost."""
    async with running_pool() as pool:
        result = await pool.invoke(spec("index.fnflow_modules"), b"", ctx())
    imported = json.loads(result.body)
    assert "fnflow.scheduling" in imported
    assert [m for m in imported if m.startswith(("fnflow.client", "httpx", "httpcore"))] == []
