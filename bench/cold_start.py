"""Cold against warm function starts: the latency of a no-op call when its worker must be started
(the function's workers evicted first) and when a warm worker waits (the pool in this process).

    .venv/bin/python bench/cold_start.py [--size tiny|default|full]
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import common

from fnflow.functions.pool import FunctionPool
from fnflow.functions.spec import InvocationContext

NAME = "cold_start"
TITLE = "Function start: cold (new worker process) vs warm (a worker waits), no-op Python handler"


async def measure(code_dir: Path, colds: int, warms: int) -> tuple[list[float], list[float]]:
    pool = FunctionPool()
    spec, context = common.noop_spec(code_dir), InvocationContext("bench")
    cold, warm = [], []
    try:
        for _ in range(colds):
            await pool.evict("bench", "noop")
            began = time.perf_counter()
            await pool.invoke(spec, b"{}", context)
            cold.append(time.perf_counter() - began)
        for _ in range(warms):
            began = time.perf_counter()
            await pool.invoke(spec, b"{}", context)
            warm.append(time.perf_counter() - began)
    finally:
        await pool.close()
    return cold, warm


def run(size: str) -> common.Result:
    colds, warms = common.pick(size, 3, 30, 100), common.pick(size, 50, 2000, 5000)
    with tempfile.TemporaryDirectory() as tmp:
        cold, warm = asyncio.run(measure(Path(tmp), colds, warms))
    c, w = common.ms(cold), common.ms(warm)
    return common.Result(
        NAME,
        TITLE,
        ["start", "calls", "p50 ms", "p99 ms"],
        [["cold", colds, c["p50_ms"], c["p99_ms"]], ["warm", warms, w["p50_ms"], w["p99_ms"]]],
        {
            "cold_calls": colds,
            "warm_calls": warms,
            "cold_p50_ms": c["p50_ms"],
            "cold_p99_ms": c["p99_ms"],
            "warm_p50_ms": w["p50_ms"],
            "warm_p99_ms": w["p99_ms"],
            "cold_over_warm": common.ratio(c["p50_ms"], w["p50_ms"]),
        },
        [],
    )


if __name__ == "__main__":
    common.main(run)
