"""Throughput with 1, 2 and 3 fnflow processes on one PostgreSQL database.

For each process count, a fresh database, N processes (the first ones servers, the last a worker
when N is 3), a 3-step flow of no-op function tasks, and ``--count`` executions started through
the servers' APIs (round-robin) as fast as they are accepted, until the last one ends. The
baseline is the single process: the table shows executions/s and the ratio to one process.
Needs PostgreSQL (``FNFLOW_TEST_PG`` or 127.0.0.1:5432).

    .venv/bin/python bench/multinode.py [--count 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from pathlib import Path

import httpx

from fnflow.testing import ServerProcess, throwaway_database

HERE = Path(__file__).parent


def fixture(root: Path) -> Path:
    from flows import fixture as flows_fixture  # the same 3-step flow as bench/flows.py

    return flows_fixture(root)


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


def measure(processes: int, count: int) -> float:
    with tempfile.TemporaryDirectory(prefix="fnflow-multinode-") as tmp, throwaway_database() as db:
        root = Path(tmp)
        kinds = ["server"] * min(processes, 2) + ["worker"] * max(0, processes - 2)
        nodes = []
        try:
            for i, kind in enumerate(kinds):
                extra = ["--apply", str(fixture(root / "fixture"))] if i == 0 else []
                nodes.append(ServerProcess(root / f"{kind}{i}", *extra, db=db, command=kind).start())
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
    args = parser.parse_args()
    import sys

    sys.path.insert(0, str(HERE))
    rates = {n: measure(n, args.count) for n in (1, 2, 3)}
    print(f"{args.count} executions of a 3-step flow of no-op function tasks, PostgreSQL:")
    print("| processes | executions/s | vs one |")
    print("|---|---|---|")
    for n, rate in rates.items():
        print(f"| {n} | {rate:.0f} | {rate / rates[1]:.2f}x |")


if __name__ == "__main__":
    main()
