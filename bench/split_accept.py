"""What a second process could give the durable accept path: a bare two-process reference.

Issue 15 asks for durable accepts at half an empty ASGI app's rate; one process (fnflow today, or
the issue's bare raw-ASGI app with group commit, 0.43x) cannot get there on 2 vCPUs. This runs
the leanest split of the work and measures it against the empty app in the same run:

- a front process: a raw ASGI app under uvicorn (uvloop, httptools). Each POST becomes a row;
  the rows of one event-loop turn go to the owner as one frame over a Unix socket, and each
  request is answered 202 when its frame's acknowledgement comes back;
- an owner process: reads frames, and a writer thread commits whatever has arrived as one
  transaction (SQLite, WAL, synchronous=FULL, ``executemany``), then acknowledges those frames.

Every row is committed before its 202, as in fnflow. No validation, no routing, no framework: a
ceiling for a split, not a product. Run by hand (needs wrk):

    .venv/bin/python bench/split_accept.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, cast

HEAD = struct.Struct("!II")  # frame id, payload length (0 in an acknowledgement)
Frame = tuple[asyncio.Transport, int, list[tuple[Any, ...]]]


def owner(sock_path: str, db: str) -> None:
    conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE calls (id TEXT PRIMARY KEY, path TEXT, headers TEXT, body BLOB, created_at REAL)"
    )
    frames: queue.SimpleQueue[Frame] = queue.SimpleQueue()
    loop = asyncio.new_event_loop()

    def acknowledge(batch: list[Frame]) -> None:
        for transport, frame_id, _ in batch:
            transport.write(HEAD.pack(frame_id, 0))

    def write() -> None:
        while True:
            batch = [frames.get()]
            while not frames.empty():
                batch.append(frames.get_nowait())
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO calls VALUES (?, ?, ?, ?, ?)", [r for *_, rows in batch for r in rows]
            )
            conn.execute("COMMIT")
            loop.call_soon_threadsafe(acknowledge, batch)

    class Front(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport, self.buffer = cast(asyncio.Transport, transport), b""  # uvloop's own class

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while len(self.buffer) >= HEAD.size:
                frame_id, size = HEAD.unpack_from(self.buffer)
                if len(self.buffer) < HEAD.size + size:
                    return
                rows = json.loads(self.buffer[HEAD.size : HEAD.size + size])
                self.buffer = self.buffer[HEAD.size + size :]
                frames.put((self.transport, frame_id, [tuple(r) for r in rows]))

    threading.Thread(target=write, daemon=True).start()
    server = loop.run_until_complete(loop.create_unix_server(Front, sock_path))
    loop.run_until_complete(server.serve_forever())


class _Owner(asyncio.Protocol):
    """A front's connection to the owner: one frame per event-loop turn."""

    def __init__(self) -> None:
        self.pending: list[tuple[list[Any], asyncio.Future[None]]] = []
        self.waiting: dict[int, list[asyncio.Future[None]]] = {}
        self.frames = 0
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's own class

    def commit(self, row: list[Any]) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        if not self.pending:
            asyncio.get_running_loop().call_soon(self._send)
        self.pending.append((row, future))
        return future

    def _send(self) -> None:
        batch, self.pending = self.pending, []
        self.frames += 1
        self.waiting[self.frames] = [future for _, future in batch]
        payload = json.dumps([row for row, _ in batch]).encode()
        self.transport.write(HEAD.pack(self.frames, len(payload)) + payload)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= HEAD.size:
            frame_id, _ = HEAD.unpack_from(self.buffer)
            self.buffer = self.buffer[HEAD.size :]
            for future in self.waiting.pop(frame_id):
                future.set_result(None)


_link: list[_Owner] = []


async def front(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The front's ASGI app (``uvicorn split_accept:front``, env ``SPLIT_SOCK``)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            loop = asyncio.get_running_loop()
            _, link = await loop.create_unix_connection(_Owner, os.environ["SPLIT_SOCK"])
            _link.append(link)
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    call_id = str(uuid.uuid4())
    headers = json.dumps([[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]])
    await _link[0].commit([call_id, scope["path"], headers, body.decode("latin-1"), time.time()])
    await send({"type": "http.response.start", "status": 202, "headers": [(b"x-call-id", call_id.encode())]})
    await send({"type": "http.response.body", "body": b""})


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import common

    from fnflow.testing import free_port

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sock, db = f"{tmp}/owner.sock", f"{tmp}/calls.db"
        here = Path(__file__).parent
        started = [subprocess.Popen([sys.executable, __file__, "--owner", sock, db])]
        try:
            common.wait_for(lambda: os.path.exists(sock), 30, "the owner")
            port = free_port()
            command = [sys.executable, "-m", "uvicorn", "split_accept:front", "--port", str(port)]
            quiet = ["--log-level", "warning", "--no-access-log"]
            env = {**os.environ, "SPLIT_SOCK": sock}
            started.append(subprocess.Popen([*command, *quiet], cwd=here, env=env))
            common.wait_for(lambda: _answers(port), 30, "the front")
            with common.empty_app() as url:
                empty = common.wrk(f"{url}/async-function/noop", args.seconds, 50)
            split = common.wrk(f"http://127.0.0.1:{port}/async-function/noop", args.seconds, 50)
        finally:
            for process in started:
                process.kill()
                process.wait()
        rows = sqlite3.connect(db).execute("SELECT count(*) FROM calls").fetchone()[0]
    print(f"empty ASGI app: {empty['requests_per_s']:,.0f} req/s, p99 {empty['p99_ms']} ms")
    print(
        f"split (front + owner): {split['requests_per_s']:,.0f} req/s,"
        f" p99 {split['p99_ms']} ms, non-2xx {split['non_2xx']}, {rows:,} rows committed;"
        f" {split['requests_per_s'] / empty['requests_per_s']:.2f}x the empty app"
    )


def _answers(port: int) -> bool:
    import httpx

    try:
        return httpx.post(f"http://127.0.0.1:{port}/", timeout=1).status_code == 202
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    if sys.argv[1:2] == ["--owner"]:
        owner(sys.argv[2], sys.argv[3])
    else:
        main()
