"""Throughput with 1, 2 and 3 fnflow processes on one PostgreSQL database.

For each process count, a fresh database, N processes (the first ones servers, the last a worker
when N is 3), a 3-step flow of no-op function tasks, and ``--count`` executions started through
the servers' APIs (round-robin) as fast as they are accepted, until the last one ends. The
baseline is the single process: the table shows executions/s and the ratio to one process.
Needs PostgreSQL, found as the tests find it (``fnflow.testing.admin_url``).

    .venv/bin/python bench/multinode.py [--count 1000]          # CPU-bound steps
    .venv/bin/python bench/multinode.py --step-seconds 0.1 --parallelism 8   # I/O-bound steps
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from pathlib import Path

import httpx

from fnflow.testing import ServerProcess, throwaway_database

HERE = Path(__file__).parent


def fixture(root: Path, step_seconds: float) -> Path:
    """The 3-step flow of bench/flows.py, each step sleeping ``step_seconds``; its function may run
    24 instances in the cluster (a limit of the whole cluster: 4, as in flows.py, would cap every
    process count alike)."""
    from flows import fixture as flows_fixture

    made = flows_fixture(root, max_instances=24)
    if step_seconds:
        sleeping = f"time.sleep({step_seconds})\n    return '{{}}'"
        (made / "noop" / "index.py").write_text(
            f"import time\n\ndef handler(event, context):\n    {sleeping}\n"
        )
    return made


async def run(urls: list[str], count: int, concurrency: int = 64) -> float:
    slots = asyncio.Semaphore(concurrency)
    targets = itertools.cycle(urls)
    async with httpx.AsyncClient(timeout=120) as client:

        async def start() -> None:
            async with slots:
                response = await client.post(f"{next(targets)}/api/v1/flows/three-steps/executions", json={})
                assert response.status_code == 201, response.text

        began = time.perf_counter()
        await asyncio.gather(*(start() for _ in range(count)))
        running = {"status": "Running", "limit": 1}
        while (await client.get(f"{urls[0]}/api/v1/flows/three-steps/executions", params=running)).json()[
            "executions"
        ]:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - began
        failed = await client.get(
            f"{urls[0]}/api/v1/flows/three-steps/executions", params={"status": "Failed"}
        )
        assert not failed.json()["executions"], "an execution failed"
    return count / elapsed


def measure(processes: int, count: int, step_seconds: float, options: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="fnflow-multinode-") as tmp, throwaway_database() as db:
        root = Path(tmp)
        kinds = ["server"] * min(processes, 2) + ["worker"] * max(0, processes - 2)
        nodes = []
        try:
            for i, kind in enumerate(kinds):
                extra = ["--apply", str(fixture(root / "fixture", step_seconds))] if i == 0 else []
                node = ServerProcess(root / f"{kind}{i}", *extra, *options, db=db, command=kind)
                nodes.append(node.start())
            servers = [n.url for n in nodes if n.kind == "server"]
            asyncio.run(run(servers, 100))  # warm every process's function workers
            return asyncio.run(run(servers, count))
        finally:
            for node in nodes:
                node.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--step-seconds", type=float, default=0.0, help="each task sleeps this long")
    parser.add_argument("--parallelism", type=int, help="task steps at once per process")
    args = parser.parse_args()
    import sys

    sys.path.insert(0, str(HERE))
    options = ["--parallelism", str(args.parallelism)] if args.parallelism else []
    rates = {n: measure(n, args.count, args.step_seconds, options) for n in (1, 2, 3)}
    what = f"sleeping {args.step_seconds:g} s" if args.step_seconds else "no-op"
    per_process = f", --parallelism {args.parallelism}" if args.parallelism else ""
    print(
        f"{args.count} executions of a 3-step flow of {what} function tasks{per_process}, PostgreSQL"
        f" on this machine ({os.cpu_count()} CPUs, shared by PostgreSQL, the processes and the client):"
    )
    print("| processes | executions/s | vs one |")
    print("|---|---|---|")
    for n, rate in rates.items():
        print(f"| {n} | {rate:.0f} | {rate / rates[1]:.2f}x |")


if __name__ == "__main__":
    main()
