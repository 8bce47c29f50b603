"""Draining the async queue: no-op calls completed per second with 4 workers, against Huey.

fnflow: ``count`` calls of the no-op function (``maxInstances: 4``) are stored as accepted calls
directly through the store while the server is down, then the server starts and runs them; the
rate is calls / (last finished - first started), read from the store. Huey (``SqliteHuey``, 4
worker threads, 1 ms poll; spec/peers.md §3) enqueues the same number, then its consumer drains
them; its rate is tasks / (last done - consumer start). The two run in turn, three rounds at
the default size, and the ratio is the median of the rounds' ratios: on a shared machine one
round of each moved the ratio by a fifth from run to run. Target (issue 15): ≥ 2x Huey.

    .venv/bin/python bench/drain.py [--size tiny|default|full]
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common

from fnflow.store import CallRecord, Store

NAME = "drain"
TITLE = "Async queue drain, no-op calls with 4 workers (SQLite FULL) vs Huey on SQLite (4 threads)"
WORKERS = 4


def queued(count: int) -> Callable[[Store], None]:
    def prepare(store: Store) -> None:
        now = datetime.now(UTC)
        records = [
            CallRecord(
                id=str(uuid.uuid4()),
                service="bench",
                function="noop",
                status="Enqueued",
                method="POST",
                path="/",
                query="",
                headers="[]",
                body=b"{}",
                created_at=now,
                run_at=now,
                expires_at=now + timedelta(days=1),
                max_attempts=1,
            )
            for _ in range(count)
        ]
        for start in range(0, count, 1000):
            store.write_sync(lambda tx, part=records[start : start + 1000]: tx.insert_calls(part))

    return prepare


def counts(db: Path) -> tuple[int, int, float]:
    """(calls succeeded, calls not finished, seconds from the first start to the last finish)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        done, first, last = conn.execute(
            "SELECT count(*), min(started_at), max(finished_at) FROM calls WHERE status = 'Succeeded'"
        ).fetchone()
        (left,) = conn.execute(
            "SELECT count(*) FROM calls WHERE status IN ('Enqueued', 'Running')"
        ).fetchone()
    return done, left, (last - first) if done else float("nan")


def drained_by_fnflow(count: int) -> tuple[int, float]:
    """(calls that succeeded, calls drained per second) of one server draining ``count`` calls."""
    with tempfile.TemporaryDirectory() as tmp:
        fixture = common.noop_fixture(Path(tmp), instances=WORKERS)
        with common.server(fixture, prepare=queued(count)) as server:
            db = Path(server.db.removeprefix("sqlite:///"))
            common.wait_for(lambda: counts(db)[1] == 0, 600, "the queue to drain", every=0.1)
            done, _, seconds = counts(db)
    return done, done / seconds


def run(size: str) -> common.Result:
    count = common.pick(size, 200, 10_000, 20_000)
    rounds = common.pick(size, 1, 3)
    ours: list[float] = []
    peers: list[dict[str, float]] = []
    done = count  # the fewest calls that succeeded in a round
    for _ in range(rounds):
        succeeded, rate = drained_by_fnflow(count)
        done = min(done, succeeded)
        ours.append(rate)
        peers.append(common.run_peer("huey_drain.py", str(count), str(WORKERS)))
    theirs = [peer["drain_per_s"] for peer in peers]
    shares = [common.ratio(a, b) for a, b in zip(ours, theirs, strict=True)]
    share = statistics.median(shares)
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    return common.Result(
        NAME,
        TITLE,
        ["system", "calls drained/s (median)", "vs Huey (median of the rounds' ratios)"],
        [
            [f"fnflow, {WORKERS} function instances (a warm process each)", ours_median, share],
            [f"Huey SqliteHuey, {WORKERS} threads (runs the task in the thread)", theirs_median, 1.0],
        ],
        {
            "calls": count,
            "workers": WORKERS,
            "rounds": rounds,
            "fnflow_succeeded": done,
            "fnflow_drain_per_s": round(ours_median, 1),
            "huey_drain_per_s": round(theirs_median, 1),
            "huey_enqueue_per_s": round(statistics.median(peer["enqueue_per_s"] for peer in peers), 1),
            "ratio": share,
            "ratios": shares,
        },
        [
            "target ≥ 2x Huey with the same worker count",
            f"{rounds} round(s), fnflow then Huey in each; ratios by round: "
            + " / ".join(f"{r:.2f}" for r in shares),
        ],
    )


if __name__ == "__main__":
    common.main(run)
