"""Micro benchmark: no-op function invocations per second through FunctionPool.

Baselines measured in the same run, on the same machine:
  fork per call   a new Python process per call, stdin -> stdout (OpenFaaS classic watchdog's model)
  socket floor    a blocking round trip over a socketpair to an echo subprocess (the IPC floor)
  asyncio floor   the same round trip driven from an asyncio event loop (the floor for any pool
                  that is called from the server's loop)

    .venv/bin/python bench/function_calls.py [--calls 3000] [--loops asyncio,uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fnflow.functions.pool import FunctionPool
from fnflow.functions.spec import FunctionSpec, InvocationContext

HANDLER = "def handler(event, context):\n    return event\n"
ECHO = """
import socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
while data := s.recv(1 << 20):
    s.sendall(data)
"""
PAYLOAD = b'{"step": "noop", "n": 1}'


def fork_per_call(calls: int) -> float:
    code = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"
    started = time.perf_counter()
    for _ in range(calls):
        subprocess.run([sys.executable, "-c", code], input=PAYLOAD, capture_output=True, check=True)
    return calls / (time.perf_counter() - started)


def echo_process() -> tuple[socket.socket, subprocess.Popen[bytes]]:
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-c", ECHO, str(theirs.fileno())], pass_fds=(theirs.fileno(),))
    theirs.close()
    return ours, proc


def socket_floor(calls: int) -> float:
    sock, proc = echo_process()
    started = time.perf_counter()
    for _ in range(calls):
        sock.sendall(PAYLOAD)
        sock.recv(1 << 20)
    rate = calls / (time.perf_counter() - started)
    sock.close()
    proc.wait()
    return rate


async def asyncio_floor(calls: int) -> float:
    sock, proc = echo_process()
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    started = time.perf_counter()
    for _ in range(calls):
        writer.write(PAYLOAD)
        await reader.read(1 << 20)
    rate = calls / (time.perf_counter() - started)
    writer.close()
    await writer.wait_closed()
    proc.wait()
    return rate


async def pool_rates(code_dir: Path, calls: int) -> dict[str, float]:
    rates: dict[str, float] = {}
    pool = FunctionPool()
    try:
        spec = FunctionSpec("bench", "noop", "python3", "index.handler", code_dir, "c1", max_instances=4)
        context = InvocationContext("bench")
        colds = []
        for _ in range(5):
            await pool.evict("bench", "noop")
            started = time.perf_counter()
            await pool.invoke(spec, PAYLOAD, context)
            colds.append(time.perf_counter() - started)
        rates["cold start (median of 5)"] = statistics.median(colds)  # seconds, not a rate

        await pool.prewarm(spec, 4)
        started = time.perf_counter()
        for _ in range(calls):
            await pool.invoke(spec, PAYLOAD, context)
        rates["sequential"] = calls / (time.perf_counter() - started)

        for callers in (4, 16):

            async def caller(n: int) -> None:
                for _ in range(n):
                    await pool.invoke(spec, PAYLOAD, context)

            started = time.perf_counter()
            await asyncio.gather(*(caller(calls // callers) for _ in range(callers)))
            rates[f"{callers} concurrent callers, 4 workers"] = (
                calls // callers * callers / (time.perf_counter() - started)
            )

        big = b"x" * (1024 * 1024)
        n = max(calls // 20, 10)
        started = time.perf_counter()
        for _ in range(n):
            await pool.invoke(spec, big, context)
        rates["sequential, 1 MiB payload"] = n / (time.perf_counter() - started)
        assert pool.stats()["errors"] == 0, pool.stats()
    finally:
        await pool.close()
    return rates


def run(loop: str, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


def row(loop: str, name: str, rate: float, fork: float, floor: float) -> str:
    return f"{loop:8} {name:38} {rate:10.0f} {1e6 / rate:9.0f} {rate / fork:8.1f} {rate / floor:8.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--loops", default="asyncio,uvloop")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        code_dir = Path(tmp)
        (code_dir / "index.py").write_text(HANDLER)
        fork = fork_per_call(max(args.calls // 100, 10))
        floor = socket_floor(args.calls)
        print(f"python {sys.version.split()[0]}, {args.calls} calls, payload {len(PAYLOAD)} B\n")
        print(f"{'loop':8} {'measure':38} {'calls/s':>10} {'us/call':>9} {'x fork':>8} {'/ floor':>8}")
        print(row("-", "baseline: fork per call", fork, fork, floor))
        print(row("-", "baseline: socket floor", floor, fork, floor))
        for loop in args.loops.split(","):
            print(
                row(
                    loop, "baseline: asyncio floor", run(loop, lambda: asyncio_floor(args.calls)), fork, floor
                )
            )
            for name, value in run(loop, lambda: pool_rates(code_dir, args.calls)).items():
                if name.startswith("cold"):
                    print(f"{loop:8} {'pool: ' + name:38} {'':>10} {value * 1e6:9.0f}")
                else:
                    print(row(loop, "pool: " + name, value, fork, floor))


if __name__ == "__main__":
    main()
