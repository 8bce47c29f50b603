"""Scale: a server with a large store against one with an empty store — memory, reads, start rate.

Two servers run side by side. The large one's store gets ``executions`` finished executions of
one flow, each with ``events`` history events, inserted directly through the store API in batches
while it is down (default 100,000 executions x 2 events; ``--full``: 100,000 x 10 = the issue's
1,000,000 events). The start rate (16 clients starting executions of a one-step flow) is measured
in rounds, empty and large in turn, and compared by its medians, so that both sides share the
machine's ups and downs; then, for each: describe p99 (random executions), list p99 (first page,
and the first page of one status), and the server's RSS after all that. Targets (issue 15): RSS
within 20% of the empty store's, describe/list p99 < 20 ms, start rate within 10%.

    .venv/bin/python bench/scale.py [--size tiny|default|full]
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import httpx

from fnflow.store import ExecutionRecord, HistoryRecord, Store
from fnflow.testing import ServerProcess

NAME = "scale"
TITLE = "Scale: a large store vs an empty one (two servers side by side, same run)"
FLOW = "version: v1\ntype: flow\nsteps:\n  - {type: pass, name: only}\n"
EXECUTIONS = "/api/v1/flows/scale/executions"
CLIENTS = 16
KINDS = ("ExecutionStarted", "StepEntered", "StepExited", "ExecutionSucceeded")


def filled(executions: int, events: int) -> Callable[[Store], None]:
    def prepare(store: Store) -> None:
        flow = store.read_sync(lambda tx: tx.get_flow("scale"))
        assert flow is not None
        began = datetime.now(UTC) - timedelta(days=30)
        detail = json.dumps({"input": {"n": 1}})
        for start in range(0, executions, 2000):

            def batch(tx: Any, start: int = start) -> None:
                for i in range(start, min(start + 2000, executions)):
                    at = began + timedelta(seconds=i)
                    record = ExecutionRecord(
                        id=str(uuid.uuid4()),
                        flow_name="scale",
                        name=f"old-{i:07d}",
                        status="Succeeded",
                        definition_hash=flow.definition_hash,
                        input='{"n": 1}',
                        output='{"n": 1}',
                        started_at=at,
                        stopped_at=at + timedelta(milliseconds=5),
                    )
                    tx.insert_execution(record)
                    tx.append_history(
                        record.id,
                        [
                            HistoryRecord(n + 1, KINDS[n % len(KINDS)], "only", at, detail)
                            for n in range(events)
                        ],
                    )

            store.write_sync(batch)

    return prepare


def start_rate(server: ServerProcess, starts: int) -> float:
    """Executions started per second by ``CLIENTS`` clients (after 50 to warm up)."""
    clients = [httpx.Client(base_url=server.url, timeout=60) for _ in range(CLIENTS)]
    try:

        def start(i: int) -> None:
            clients[i % CLIENTS].post(EXECUTIONS, json={}).raise_for_status()

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(start, range(50)))
            began = time.perf_counter()
            list(pool.map(start, range(starts)))
            return starts / (time.perf_counter() - began)
    finally:
        for c in clients:
            c.close()


def measure(server: ServerProcess, reads: int, old: int) -> dict[str, float]:
    """Describe and list latency, RSS and database size."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        names = [e["name"] for e in client.get(EXECUTIONS).raise_for_status().json()["executions"]]
        pool_of_names = [f"old-{i:07d}" for i in range(old)] or names
        rng = random.Random(15)

        def timed(path: str, **params: Any) -> float:
            began = time.perf_counter()
            client.get(path, params=params).raise_for_status()
            return time.perf_counter() - began

        describe = [timed(f"{EXECUTIONS}/{rng.choice(pool_of_names)}") for _ in range(reads)]
        listing = [timed(EXECUTIONS) for _ in range(reads // 2)]
        listing += [timed(EXECUTIONS, status="Succeeded") for _ in range(reads // 2)]
        assert server.process is not None
        rss = common.rss_mb(server.process.pid)
    db = Path(server.db.removeprefix("sqlite:///"))
    size = sum(f.stat().st_size for f in db.parent.glob(db.name + "*")) / 2**20  # with its WAL
    return {
        "describe_p99_ms": common.ms(describe)["p99_ms"],
        "describe_p50_ms": common.ms(describe)["p50_ms"],
        "list_p99_ms": common.ms(listing)["p99_ms"],
        "list_p50_ms": common.ms(listing)["p50_ms"],
        "rss_mb": round(rss, 1),
        "db_mb": round(size, 1),
    }


def run(size: str) -> common.Result:
    executions = common.pick(size, 500, 100_000, 100_000)
    events = common.pick(size, 2, 2, 10)
    starts, reads, rounds = common.pick(size, 50, 1000), common.pick(size, 40, 400), common.pick(size, 1, 5)
    with tempfile.TemporaryDirectory() as tmp:
        fixture = common.noop_fixture(Path(tmp), flows={"scale": FLOW})
        with common.server(fixture) as empty_server, common.server(fixture) as large_server:
            began = time.perf_counter()
            common.refill(large_server, filled(executions, events))
            filling = time.perf_counter() - began
            rates: dict[str, list[float]] = {"empty": [], "large": []}
            for _ in range(rounds):
                rates["empty"].append(start_rate(empty_server, starts))
                rates["large"].append(start_rate(large_server, starts))
            empty = measure(empty_server, reads, 0) | {
                "start_per_s": round(statistics.median(rates["empty"]), 1)
            }
            large = measure(large_server, reads, executions)
            large["start_per_s"] = round(statistics.median(rates["large"]), 1)
    keys = (
        "rss_mb",
        "start_per_s",
        "describe_p50_ms",
        "describe_p99_ms",
        "list_p50_ms",
        "list_p99_ms",
        "db_mb",
    )
    by_round = " / ".join(f"{b / a:.2f}" for a, b in zip(rates["empty"], rates["large"], strict=True))
    rows: list[list[Any]] = [[k, empty[k], large[k], common.ratio(large[k], empty[k])] for k in keys]
    metrics: dict[str, Any] = {"executions": executions, "history_events": executions * events}
    metrics |= {f"empty_{k}": v for k, v in empty.items()} | {f"large_{k}": v for k, v in large.items()}
    metrics["rss_ratio"] = common.ratio(large["rss_mb"], empty["rss_mb"])
    metrics["start_ratio"] = common.ratio(large["start_per_s"], empty["start_per_s"])
    return common.Result(
        NAME,
        f"{TITLE}: {executions:,} finished executions, {executions * events:,} history events",
        ["measure", "empty store", "large store", "large / empty"],
        rows,
        metrics,
        [
            f"filling the large store (direct store inserts) and restarting took {filling:.0f} s",
            f"start rates: medians of {rounds} rounds of {starts:,} starts, empty and large in turn;"
            f" large / empty by round: {by_round}",
            "targets: RSS within 20%, describe/list p99 < 20 ms, start rate within 10%",
        ],
    )


if __name__ == "__main__":
    common.main(run)
