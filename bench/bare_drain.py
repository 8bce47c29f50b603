"""What a durable drain with the function in its own process can reach: a bare reference.

Issue 15 asks fnflow to drain no-op calls at twice Huey's rate with the same worker count. Huey
runs its tasks in its consumer's threads; fnflow runs each call in a separate process (function
code never runs in the server) and records two durable writes per call. This runs the leanest
version of that design and measures it against Huey in the same run, as `split_accept.py` does
for the accept path:

- an owner process: an event loop (uvloop) that claims waiting calls in groups of 500, hands
  each to an idle worker as soon as its Running mark is queued, and queues its outcome when the
  worker answers; a writer thread commits whatever is queued as one transaction (SQLite, WAL,
  synchronous=FULL, ``executemany``), as fnflow's group commit does;
- ``WORKERS`` worker processes, each a blocking loop over a Unix socket: read a call (a length,
  then JSON), call a no-op handler, write the answer.

No validation, no retries, no metrics, no logs: a ceiling for the design, not a product. Run by
hand:

    .venv/bin/python bench/bare_drain.py [--calls 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

WORKERS = 4
CLAIM = 500
LENGTH = struct.Struct("!I")
RUNNING = "UPDATE calls SET status = 'Running', attempts = attempts + 1, started_at = ? WHERE id = ?"
SUCCEEDED = "UPDATE calls SET status = 'Succeeded', finished_at = ? WHERE id = ?"
_STATEMENTS = [RUNNING, SUCCEEDED]


def worker(path: str) -> None:
    """Run calls from the owner until it closes the socket."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    stream = sock.makefile("rb")

    def handler(event: Any, context: Any) -> Any:
        return None

    while head := stream.read(LENGTH.size):
        call_id, body = json.loads(stream.read(LENGTH.unpack(head)[0]))
        began = time.time()
        result = handler(body, None)
        answer = json.dumps([call_id, result, began, time.time() - began]).encode()
        sock.sendall(LENGTH.pack(len(answer)) + answer)


class _Worker(asyncio.Protocol):
    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.owner.idle(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= LENGTH.size:
            (size,) = LENGTH.unpack_from(self.buffer)
            if len(self.buffer) < LENGTH.size + size:
                return
            call_id, _result, _began, _duration = json.loads(self.buffer[LENGTH.size : LENGTH.size + size])
            self.buffer = self.buffer[LENGTH.size + size :]
            self.owner.finished(self, call_id)


class Owner:
    def __init__(self, db: str, total: int) -> None:
        self.conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.total = total
        self.ready: list[tuple[str, str]] = []
        self.idle_workers: list[_Worker] = []
        self.writes: queue.SimpleQueue[tuple[str, tuple[Any, ...]]] = queue.SimpleQueue()
        self.committed = 0
        self.done = asyncio.get_running_loop().create_future()
        self.claiming = False

    def idle(self, worker: _Worker) -> None:
        self.idle_workers.append(worker)
        self.start()

    def finished(self, worker: _Worker, call_id: str) -> None:
        self.writes.put((SUCCEEDED, (time.time(), call_id)))
        self.idle(worker)

    def start(self) -> None:
        while self.idle_workers and self.ready:
            call_id, body = self.ready.pop()
            self.writes.put((RUNNING, (time.time(), call_id)))
            message = json.dumps([call_id, body]).encode()
            self.idle_workers.pop().transport.write(LENGTH.pack(len(message)) + message)
        if len(self.ready) < CLAIM // 2 and not self.claiming:
            self.claiming = True
            self.writes.put(("claim", ()))

    def write(self, loop: asyncio.AbstractEventLoop) -> None:
        """The writer thread: each round commits everything queued as one transaction."""
        while True:
            batch = [self.writes.get()]
            while not self.writes.empty():
                batch.append(self.writes.get_nowait())
            claimed: list[tuple[str, str]] = []
            self.conn.execute("BEGIN IMMEDIATE")
            by_sql: dict[str, list[tuple[Any, ...]]] = {}
            for sql, args in batch:
                if sql == "claim":
                    claimed = self.conn.execute(
                        "UPDATE calls SET status = 'Claimed', lease_until = ? WHERE id IN"
                        " (SELECT id FROM calls WHERE status = 'Enqueued' ORDER BY created_at LIMIT ?)"
                        " RETURNING id, body",
                        (time.time() + 30, CLAIM),
                    ).fetchall()
                else:
                    by_sql.setdefault(sql, []).append(args)
            for sql in sorted(by_sql, key=_STATEMENTS.index):  # a call's Running mark before its outcome
                self.conn.executemany(sql, by_sql[sql])
            self.conn.execute("COMMIT")
            was_claim = any(sql == "claim" for sql, _ in batch)
            settled = len(by_sql.get(SUCCEEDED, []))
            loop.call_soon_threadsafe(self.committed_batch, settled, claimed, was_claim)

    def committed_batch(self, settled: int, claimed: list[tuple[str, str]], was_claim: bool) -> None:
        self.committed += settled
        if was_claim:
            self.claiming = False
            self.ready[:0] = claimed[::-1]  # popped from the end: oldest first
        self.start()
        if self.committed >= self.total and not self.done.done():
            self.done.set_result(None)


async def own(db: str, total: int, sock_path: str) -> None:
    loop = asyncio.get_running_loop()
    owner = Owner(db, total)
    threading.Thread(target=owner.write, args=(loop,), daemon=True).start()
    server = await loop.create_unix_server(lambda: _Worker(owner), sock_path)
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", sock_path]) for _ in range(WORKERS)]
    await owner.done
    print(json.dumps({"owner_cpu_us_per_call": time.process_time() * 1e6 / total}), flush=True)
    server.close()
    for process in workers:
        process.kill()
        process.wait()


def prepare(db: str, count: int) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE calls (id TEXT PRIMARY KEY, status TEXT, body TEXT, attempts INTEGER DEFAULT 0,"
        " created_at REAL, lease_until REAL, started_at REAL, finished_at REAL)"
    )
    conn.execute("CREATE INDEX calls_waiting ON calls (status, created_at)")
    now = time.time()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO calls (id, status, body, created_at) VALUES (?, 'Enqueued', '{}', ?)",
        [(str(uuid.uuid4()), now + n * 1e-6) for n in range(count)],
    )
    conn.execute("COMMIT")
    conn.close()


def drained(db: str) -> tuple[int, float]:
    """(calls succeeded, seconds from the first start to the last finish), as drain.py reads fnflow's."""
    with sqlite3.connect(db) as conn:
        done, first, last = conn.execute(
            "SELECT count(*), min(started_at), max(finished_at) FROM calls WHERE status = 'Succeeded'"
        ).fetchone()
    return done, last - first


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import common

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/calls.db"
        prepare(db, args.calls)
        command = [sys.executable, __file__, "--owner", db, str(args.calls), f"{tmp}/w.sock"]
        cpu = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        done, seconds = drained(db)
    peer = common.run_peer("huey_drain.py", str(args.calls), str(WORKERS))
    ours = done / seconds
    print(
        f"bare drain ({WORKERS} worker processes): {ours:,.0f} calls/s ({done:,} calls),"
        f" the owner's CPU {cpu['owner_cpu_us_per_call']:.0f} µs per call"
    )
    huey = peer["drain_per_s"]
    print(f"Huey ({WORKERS} threads): {huey:,.0f} tasks/s; bare / Huey {ours / huey:.2f}x")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2])
    elif sys.argv[1:2] == ["--owner"]:
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            runner.run(own(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    else:
        main()
