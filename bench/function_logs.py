"""Micro benchmark: what keeping function logs costs a call.

Calls per second through FunctionPool of a handler that prints ``--lines`` lines per call, with
its output only forwarded to ``logging`` (no log store: the baseline, measured in the same run)
and with it also kept in a SQLite store by ``LogWriter`` (batched writes). Calls run
``--concurrency`` at a time on as many warm workers.

    .venv/bin/python bench/function_logs.py [--calls 3000] [--lines 1] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from fnflow.functions.logs import LogWriter
from fnflow.functions.pool import FunctionPool
from fnflow.functions.spec import FunctionSpec, InvocationContext
from fnflow.store import open_store

HANDLER = """
def handler(event, context):
    for _ in range({lines}):
        print("a line of output")
    return event
"""


async def rate(spec: FunctionSpec, calls: int, concurrency: int, writer: LogWriter | None) -> float:
    pool = FunctionPool(logs=writer)
    try:
        await pool.prewarm(spec, concurrency)
        started = time.perf_counter()

        async def client(n: int) -> None:
            for i in range(n):
                result = await pool.invoke(spec, b"x", InvocationContext(f"r{i}"))
                assert result.ok, result.error_message

        await asyncio.gather(*(client(calls // concurrency) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    return (calls // concurrency * concurrency) / elapsed


async def main(calls: int, lines: int, concurrency: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "index.py").write_text(HANDLER.format(lines=lines))
        spec = FunctionSpec(
            "bench", "printer", "python3", "index.handler", code, "c1", max_instances=concurrency
        )
        store = open_store(f"sqlite:///{tmp}/db")
        results: dict[str, list[float]] = {"logging only": [], "kept in the store": []}
        try:
            for _ in range(rounds):
                results["logging only"].append(await rate(spec, calls, concurrency, None))
                writer = LogWriter(store, max_bytes=1 << 30)
                results["kept in the store"].append(await rate(spec, calls, concurrency, writer))
                await writer.close()
            stored = store.read_sync(lambda tx: len(tx.function_logs("bench", "printer")))
        finally:
            store.close()
    base = statistics.median(results["logging only"])
    print(f"{calls} calls, {lines} line(s) each, {concurrency} at a time, median of {rounds} rounds")
    print(f"{'':20} {'calls/s':>10} {'ratio':>7}")
    for name, rates in results.items():
        print(f"{name:20} {statistics.median(rates):10.0f} {statistics.median(rates) / base:7.2f}")
    print(f"lines stored: {stored} (expected {rounds * calls // concurrency * concurrency * lines})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--lines", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.lines, args.concurrency, args.rounds))
