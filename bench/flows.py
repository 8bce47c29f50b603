"""Durable flows: executions per second of a 3-step flow of no-op function tasks, and per-step overhead.

Starts a real ``fnflow server`` (SQLite, synchronous=FULL) on a temporary directory, deploys a
no-op Python function and a flow of three task steps calling it, then measures

- latency: executions started and awaited one after another (start + long-poll), per step;
- throughput: ``--count`` executions started through the API at once, until the last one ends.

The baseline, measured in the same run, is DBOS on SQLite running a workflow of three no-op
steps (spec/peers.md §2); it is installed into ``bench/.peers-venv`` on first use. Report
ratios, not absolute numbers: they move from machine to machine.

    .venv/bin/python bench/flows.py [--count 1000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from fnflow.testing import ServerProcess

HERE = Path(__file__).parent
PEERS_VENV = HERE / ".peers-venv"

NOOP = "def handler(event, context):\n    return '{}'\n"
STEP = """  - type: task
    name: {name}
    resourceArn: acs:fc:::services/bench/functions/noop
"""
FLOW = "version: v1\ntype: flow\nsteps:\n" + "".join(STEP.format(name=n) for n in ("one", "two", "three"))
MANIFEST = """functions:
  - {{service: bench, name: noop, handler: index.handler, code: noop, maxInstances: {instances}}}
flows:
  - {{name: three-steps, definition: flow.yaml}}
"""


def fixture(root: Path, max_instances: int = 4) -> Path:
    (root / "noop").mkdir(parents=True)
    (root / "noop" / "index.py").write_text(NOOP)
    (root / "flow.yaml").write_text(FLOW)
    (root / "fnflow.yaml").write_text(MANIFEST.format(instances=max_instances))
    return root


async def latency(client: httpx.AsyncClient, n: int) -> list[float]:
    """Seconds from start to end of ``n`` executions run one after another."""
    times = []
    for _ in range(n):
        began = time.perf_counter()
        started = (await client.post("/api/v1/flows/three-steps/executions", json={})).json()
        done = await client.get(
            f"/api/v1/flows/three-steps/executions/{started['name']}", params={"wait": 30}
        )
        assert done.json()["status"] == "Succeeded", done.text
        times.append(time.perf_counter() - began)
    return times


async def throughput(client: httpx.AsyncClient, count: int, concurrency: int = 64) -> float:
    """Executions per second: ``count`` started at once (``concurrency`` requests in flight)."""
    slots = asyncio.Semaphore(concurrency)

    async def start() -> None:
        async with slots:
            response = await client.post("/api/v1/flows/three-steps/executions", json={})
            assert response.status_code == 201, response.text

    began = time.perf_counter()
    await asyncio.gather(*(start() for _ in range(count)))
    running = {"status": "Running", "limit": 1}
    while True:  # one cheap query every 20 ms until nothing runs
        page = await client.get("/api/v1/flows/three-steps/executions", params=running)
        if not page.json()["executions"]:
            break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - began
    failed = await client.get("/api/v1/flows/three-steps/executions", params={"status": "Failed", "limit": 1})
    assert not failed.json()["executions"], "an execution failed"
    return count / elapsed


def dbos_baseline(count: int) -> dict[str, float]:
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        print("installing DBOS into bench/.peers-venv (first run only) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "dbos"], check=True)
    out = subprocess.run(
        [str(python), str(HERE / "peers" / "dbos_flows.py"), str(count)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def measure(url: str, count: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await latency(client, 20)  # warm the function workers and the caches
        times = await latency(client, 100)
        rate = await throughput(client, count)
    p50 = statistics.median(times)
    return {"latency_p50_ms": p50 * 1000, "per_step_ms": p50 * 1000 / 3, "executions_per_s": rate}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fnflow-bench-") as tmp:
        root = Path(tmp)
        server = ServerProcess(root / "server", "--apply", str(fixture(root / "fixture")))
        server.start()
        try:
            ours = asyncio.run(measure(server.url, args.count))
        finally:
            server.stop()
    print(f"fnflow, {args.count} executions of a 3-step flow (no-op function tasks, SQLite FULL):")
    print(
        f"  latency p50 {ours['latency_p50_ms']:.1f} ms  ({ours['per_step_ms']:.2f} ms per step, sequential)"
    )
    print(f"  throughput  {ours['executions_per_s']:.0f} executions/s")
    if not args.no_baseline:
        peer = dbos_baseline(200)
        best = max(peer.values())
        print("DBOS on SQLite, 3 no-op steps, 200 workflows (same machine, same run):")
        for mode, rate in peer.items():
            print(f"  {mode:15s} {rate:.0f} workflows/s")
        print(f"ratio fnflow / best DBOS: {ours['executions_per_s'] / best:.2f}x")


if __name__ == "__main__":
    main()
