"""Group commit micro benchmark: many small concurrent writes vs one write per commit.

Each job appends one history event through ``store.write`` (the engine's hot path). With one
job in flight every job is its own transaction and fsync (the baseline); with many in flight
the SQLite writer commits whatever is queued as one batch. Reports rows/s, batches, jobs per
batch and the speed-up over the baseline measured in the same run.

    .venv/bin/python bench/store_writes.py [--jobs 2000] [--in-flight 1 16 256 0] [--synchronous full]

``--in-flight 0`` means all jobs at once. Not a test: numbers depend on the disk.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fnflow.store import HistoryRecord, Store, Tx, open_store

NOW = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class Result:
    in_flight: int
    jobs: int
    seconds: float
    batches: int

    @property
    def rows_per_second(self) -> float:
        return self.jobs / self.seconds


def job(execution_id: str) -> Callable[[Tx], None]:
    def write(tx: Tx) -> None:
        tx.append_history(execution_id, [HistoryRecord(1, "StepStarted", "a", NOW, '{"input": {"n": 1}}')])

    return write


async def run(store: Store, jobs: int, in_flight: int, label: str) -> Result:
    limit = asyncio.Semaphore(in_flight or jobs)

    async def one(i: int) -> None:
        async with limit:
            await store.write(job(f"{label}-{i}"))

    before = store.write_stats["batches"]
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(jobs)))
    seconds = time.perf_counter() - start
    return Result(in_flight or jobs, jobs, seconds, store.write_stats["batches"] - before)


async def bench(store: Store, jobs: int, levels: list[int]) -> list[Result]:
    await run(store, 200, 0, "warm-up")
    return [await run(store, jobs, level, f"run{n}") for n, level in enumerate(levels)]


@contextmanager
def database(url: str | None, directory: Path | None) -> Iterator[str]:
    """The URL of an empty database for one run."""
    if url is None:
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 16, 256, 0])
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full")
    parser.add_argument("--dir", type=Path, help="where to put the database (default: a temporary directory)")
    parser.add_argument("--db", help="an empty PostgreSQL database: postgresql://user@host:port/db")
    parser.add_argument("--writers", type=int, help="PostgreSQL writer connections (default: the store's)")
    args = parser.parse_args()

    options = {"writers": args.writers} if args.writers else {}
    with database(args.db, args.dir) as url:
        store = open_store(url, synchronous=args.synchronous, **options)
        try:
            results = asyncio.run(bench(store, args.jobs, args.in_flight))
        finally:
            store.close()

    baseline = next((r for r in results if r.in_flight == 1), results[0])
    print(f"store writes: {args.jobs} jobs per run, {store.backend} synchronous={args.synchronous}")
    print(f"{'in flight':>9} {'rows/s':>10} {'batches':>8} {'jobs/batch':>10} {'vs 1 in flight':>15}")
    for r in results:
        ratio = r.rows_per_second / baseline.rows_per_second
        per_batch = r.jobs / r.batches if r.batches else float("nan")
        print(
            f"{r.in_flight:>9} {r.rows_per_second:>10.0f} {r.batches:>8} {per_batch:>10.1f} {ratio:>14.1f}x"
        )


if __name__ == "__main__":
    main()
