"""The cost of a synchronous call: ``/function/noop`` over HTTP against calling the handler directly.

Sequential calls, one at a time, with a no-op Python handler: the handler called in this process
(the floor), the same handler through the warm worker pool in this process (``FunctionPool.invoke``:
the process hand-off), ``POST /function/noop`` to a real server (HTTP + gateway + pool), and an empty
ASGI app over the same kind of HTTP connection (the HTTP floor). The overhead is the difference.

    .venv/bin/python bench/gateway_call.py [--size tiny|default|full]
"""

from __future__ import annotations

import asyncio
import importlib.util
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import common
import httpx

from fnflow.functions.pool import FunctionPool
from fnflow.functions.spec import InvocationContext

NAME = "gateway_call"
TITLE = "Synchronous no-op call: /function/noop over HTTP vs the handler called directly (sequential)"
PAYLOAD = b'{"n": 1}'


def timings(call: Callable[[], object], n: int) -> list[float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return times


def direct(code_dir: Path, n: int) -> list[float]:
    spec = importlib.util.spec_from_file_location("bench_noop", code_dir / "index.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return timings(lambda: module.handler(PAYLOAD, None), n)


async def pooled(code_dir: Path, n: int) -> list[float]:
    pool = FunctionPool()
    try:
        spec, context = common.noop_spec(code_dir), InvocationContext("bench")
        await pool.invoke(spec, PAYLOAD, context)
        times = []
        for _ in range(n):
            began = time.perf_counter()
            await pool.invoke(spec, PAYLOAD, context)
            times.append(time.perf_counter() - began)
        return times
    finally:
        await pool.close()


def over_http(url: str, n: int) -> list[float]:
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(20):
            client.post("/function/noop", content=PAYLOAD)
        return timings(lambda: client.post("/function/noop", content=PAYLOAD).raise_for_status(), n)


def run(size: str) -> common.Result:
    n = common.pick(size, 50, 2000, 5000)
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        common.noop_spec(code)
        floor = direct(code, n)
        pool = asyncio.run(pooled(code, n))
        with common.empty_app() as url:
            empty = over_http(url, n)
        with common.server(common.noop_fixture(Path(tmp) / "fixture", service=None)) as server:
            http = over_http(server.url, n)
    rows, metrics = [], {"calls": n}
    base = common.percentile(floor, 50)
    for key, label, times in (
        ("direct", "handler called directly (in process)", floor),
        ("pool", "warm worker pool, in process (FunctionPool.invoke)", pool),
        ("empty_http", "empty ASGI app over HTTP (the HTTP floor)", empty),
        ("gateway", "POST /function/noop to fnflow server", http),
    ):
        stats = {
            "p50_us": round(common.percentile(times, 50) * 1e6, 1),
            "p99_us": round(common.percentile(times, 99) * 1e6, 1),
        }
        overhead = round((common.percentile(times, 50) - base) * 1e6, 1)
        rows.append([label, stats["p50_us"], stats["p99_us"], overhead])
        metrics |= {f"{key}_p50_us": stats["p50_us"], f"{key}_p99_us": stats["p99_us"]}
    metrics["gateway_overhead_us"] = rows[-1][3]
    return common.Result(
        NAME, TITLE, ["path", "p50 µs", "p99 µs", "p50 overhead over direct µs"], rows, metrics, []
    )


if __name__ == "__main__":
    common.main(run)
