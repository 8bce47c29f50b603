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
ceiling for a split, not a product.

``--direct N`` measures the other shape: N front processes sharing the port, each committing its
own rows (fnflow's 29-column ``calls`` table and its indexes) in a writer thread of its own,
taking turns for SQLite's write lock through an ``flock`` on a file beside the database (SQLite's
own busy handler sleeps in steps of milliseconds). No owner takes part in a call. Run by hand
(needs wrk):

    .venv/bin/python bench/split_accept.py [--seconds 8] [--direct 1 --direct 2]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import json
import os
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
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

HEAD = struct.Struct("!II")  # frame id, payload length (0 in an acknowledgement)
Frame = tuple[asyncio.Transport, int, list[tuple[Any, ...]]]
Rows = list[tuple[tuple[Any, ...], "asyncio.Future[None]"]]  # rows to commit, each with its waiter


def owner(sock_path: str, db: str, wide: bool) -> None:
    """``wide``: fnflow's ``calls`` table, each frame's rows in one statement (else a narrow table)."""
    if wide:
        _create_calls(db)
    conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    if not wide:
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
            rows = [r for *_, rows in batch for r in rows]
            conn.execute("BEGIN")
            if wide:
                _insert_calls(conn, rows)
            else:
                conn.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?)", rows)
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


class _Committer:
    """A direct front's writer thread: the rows of each event-loop turn in one transaction, the
    write lock taken through ``flock`` first, so fronts wait for one another without polling."""

    def __init__(self, db: str) -> None:
        self.conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.lock = open(db + ".lock", "a+")  # noqa: SIM115 - held for the process's life
        self.loop = asyncio.get_running_loop()
        self.pending: Rows = []
        self.batches: queue.SimpleQueue[Rows] = queue.SimpleQueue()
        threading.Thread(target=self._write, daemon=True).start()

    def commit(self, row: tuple[Any, ...]) -> asyncio.Future[None]:
        future = self.loop.create_future()
        if not self.pending:
            self.loop.call_soon(self._send)
        self.pending.append((row, future))
        return future

    def _send(self) -> None:
        batch, self.pending = self.pending, []
        self.batches.put(batch)

    def _write(self) -> None:
        import fcntl

        while True:
            batch = self.batches.get()
            while not self.batches.empty():
                batch += self.batches.get_nowait()
            fcntl.flock(self.lock, fcntl.LOCK_EX)
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                _insert_calls(self.conn, [row for row, _ in batch])
                self.conn.execute("COMMIT")
            finally:
                fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.loop.call_soon_threadsafe(_resolve, [future for _, future in batch])


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        future.set_result(None)


@functools.cache
def _columns() -> list[str]:
    from fnflow.store.schema import calls

    return [column.name for column in calls.columns]


def _create_calls(db: str) -> None:
    from sqlalchemy import create_engine

    from fnflow.store.schema import calls, metadata

    engine = create_engine(f"sqlite:///{db}")
    metadata.create_all(engine, tables=[calls])
    engine.dispose()


def _insert_calls(conn: sqlite3.Connection, rows: list[Any], chunk: int = 500) -> None:
    """Rows of fnflow's ``calls`` table, a statement per ``chunk`` of them (as fnflow's
    ``ManyRows``: ``executemany`` steps once per row, and SQLite's driver lets go of the GIL
    at each step, a hand-over to the event loop each)."""
    columns = _columns()
    row = "(" + ", ".join("?" * len(columns)) + ")"
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        sql = f"INSERT INTO calls ({', '.join(columns)}) VALUES " + ", ".join([row] * len(part))
        conn.execute(sql, [value for values in part for value in values])


def _row(call_id: str, path: str, headers: str, body: str) -> tuple[Any, ...]:
    """A row of fnflow's ``calls`` table as the gateway would store it, in column order."""
    now = time.time()
    values = {
        "id": call_id, "service": "default", "function": "noop", "queue": "", "status": "Enqueued",
        "method": "POST", "path": path, "query": "", "headers": headers, "body": body,
        "attempts": 0, "max_attempts": 3, "created_at": now, "run_at": now, "expires_at": now + 86400,
        "dead": False,
    }  # fmt: skip
    return tuple(values.get(column) for column in _columns())


def _call_row(path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[str, list[Any]]:
    """A new call's id and the row a front sends the owner for it."""
    call_id = str(uuid.uuid4())
    text = json.dumps([[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers])
    if os.environ.get("SPLIT_WIDE"):  # the front makes the whole row, as the owner stores it
        return call_id, list(_row(call_id, path, text, body.decode("latin-1")))
    return call_id, [call_id, path, text, body.decode("latin-1"), time.time()]


class _RawFront(asyncio.Protocol):
    """The front without ASGI: httptools' parser called by the connection itself, each answer
    written in one piece. (Requests answered in their order; no ``Expect``, no upgrades.)"""

    def __init__(self, link: _Owner) -> None:
        import httptools

        self.link = link
        self.parser = httptools.HttpRequestParser(self)
        self.answers: collections.deque[asyncio.Future[bytes]] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        import httptools

        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.body = b"", b""
        self.headers: list[tuple[bytes, bytes]] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        call_id, row = _call_row(self.url.decode("latin-1"), self.headers, self.body)
        answer = self.link.commit(row)
        head = b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nx-call-id: " + call_id.encode() + b"\r\n\r\n"
        written: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        answer.add_done_callback(lambda _: written.set_result(head))
        self.answers.append(written)
        written.add_done_callback(self._answer)

    def _answer(self, _: asyncio.Future[bytes]) -> None:
        while self.answers and self.answers[0].done():
            answer = self.answers.popleft().result()
            if not self.transport.is_closing():  # the client may have gone (wrk ends its run)
                self.transport.write(answer)


def raw_front(port: int, sock_path: str) -> None:
    """Serve ``_RawFront`` on ``port`` (uvloop), linked to the owner at ``sock_path``."""
    import uvloop

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        _, link = await loop.create_unix_connection(_Owner, sock_path)
        server = await loop.create_server(lambda: _RawFront(link), "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve())


def _app(link: Callable[[], Awaitable[Any]]) -> Callable[..., Awaitable[None]]:
    """A front's ASGI app: each POST's row goes to ``link()``'s ``commit`` (made at startup), and
    the request is answered 202 once it is committed."""
    links: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                links.append(await link())
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        call_id, row = _call_row(scope["path"], scope["headers"], body)
        await links[0].commit(row)
        await send(
            {"type": "http.response.start", "status": 202, "headers": [(b"x-call-id", call_id.encode())]}
        )
        await send({"type": "http.response.body", "body": b""})

    return app


async def _to_owner() -> _Owner:
    _, link = await asyncio.get_running_loop().create_unix_connection(_Owner, os.environ["SPLIT_SOCK"])
    return link


async def _committing() -> _Committer:
    return _Committer(os.environ["SPLIT_DB"])


front = _app(_to_owner)  # ``uvicorn split_accept:front``, env ``SPLIT_SOCK``
direct = _app(_committing)  # a direct front (``direct_front``), env ``SPLIT_DB``


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import common

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--direct", type=int, action="append", default=[], metavar="FRONTS")
    parser.add_argument("--wide", action="store_true", help="also the split with fnflow's calls table")
    parser.add_argument("--raw", action="store_true", help="also the split with a front without ASGI")
    args = parser.parse_args()
    with common.empty_app() as url:
        empty = common.wrk(f"{url}/async-function/noop", args.seconds, 50)
    print(f"empty ASGI app: {empty['requests_per_s']:,.0f} req/s, p99 {empty['p99_ms']} ms")
    shapes = [("split (front + owner)", functools.partial(_split, False, False))]
    if args.wide:
        shapes.append(("split, fnflow's rows made by the front", functools.partial(_split, True, False)))
    if args.raw:
        shapes.append(("split, front without ASGI", functools.partial(_split, False, True)))
        if args.wide:
            shapes.append(("split, front without ASGI, fnflow's rows", functools.partial(_split, True, True)))
    shapes += [(f"direct ({n} front(s) committing)", functools.partial(_directly, n)) for n in args.direct]
    for label, shape in shapes:
        with tempfile.TemporaryDirectory() as tmp:
            db = f"{tmp}/calls.db"
            with shape(tmp, db) as port:
                measured = common.wrk(f"http://127.0.0.1:{port}/async-function/noop", args.seconds, 50)
            rows = sqlite3.connect(db).execute("SELECT count(*) FROM calls").fetchone()[0]
        print(
            f"{label}: {measured['requests_per_s']:,.0f} req/s, p99 {measured['p99_ms']} ms,"
            f" non-2xx {measured['non_2xx']}, {rows:,} rows committed;"
            f" {measured['requests_per_s'] / empty['requests_per_s']:.2f}x the empty app"
        )


@contextlib.contextmanager
def _split(wide: bool, raw: bool, tmp: str, db: str) -> Iterator[int]:
    """The owner and one front; the front's port. ``wide``: fnflow's ``calls`` table; ``raw``:
    the front without ASGI."""
    import common

    from fnflow.testing import free_port

    sock = f"{tmp}/owner.sock"
    mode = {"SPLIT_WIDE": "1"} if wide else {}
    with _processes([[sys.executable, __file__, "--owner", sock, db, *mode]]):
        common.wait_for(lambda: os.path.exists(sock), 30, "the owner")
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "split_accept:front", "--port", str(port), *QUIET]
        if raw:
            command = [sys.executable, __file__, "--raw-front", str(port), sock]
        with _processes([command], env={"SPLIT_SOCK": sock, **mode}):
            common.wait_for(lambda: _answers(port), 30, "the front")
            yield port


@contextlib.contextmanager
def _directly(fronts: int, tmp: str, db: str) -> Iterator[int]:
    """``fronts`` direct fronts on one listening socket, fnflow's schema in ``db``; their port."""
    import common

    _create_calls(db)
    sqlite3.connect(db).execute("PRAGMA journal_mode=WAL").close()
    listening = socket.create_server(("127.0.0.1", 0), backlog=1024)
    fd = listening.fileno()
    command = [sys.executable, __file__, "--direct-front", str(fd)]
    env = {"SPLIT_DB": db, "SPLIT_WIDE": "1"}
    with listening, _processes([command] * fronts, env=env, pass_fds=(fd,)):
        port = listening.getsockname()[1]
        common.wait_for(lambda: _answers(port), 30, "the fronts")
        yield port


QUIET = ["--log-level", "warning", "--no-access-log"]


@contextlib.contextmanager
def _processes(
    commands: list[list[str]], env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()
) -> Iterator[None]:
    started = [
        subprocess.Popen(
            command, cwd=Path(__file__).parent, env={**os.environ, **(env or {})}, pass_fds=pass_fds
        )
        for command in commands
    ]
    try:
        yield
    finally:
        for process in started:
            process.kill()
            process.wait()


def _answers(port: int) -> bool:
    import httpx

    try:
        return httpx.post(f"http://127.0.0.1:{port}/", timeout=1).status_code == 202
    except httpx.HTTPError:
        return False


def direct_front(fd: int) -> None:
    """Serve ``direct`` on the inherited listening socket ``fd``. (``uvicorn --fd`` takes any
    socket for a Unix one, so TCP_NODELAY is never set and answers wait for delayed ACKs.)"""
    import uvicorn
    import uvloop

    config = uvicorn.Config(direct, http="httptools", log_level="warning", access_log=False)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(uvicorn.Server(config).serve(sockets=[socket.socket(fileno=fd)]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--owner"]:
        owner(sys.argv[2], sys.argv[3], wide=len(sys.argv) > 4)
    elif sys.argv[1:2] == ["--raw-front"]:
        raw_front(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1:2] == ["--direct-front"]:
        direct_front(int(sys.argv[2]))
    else:
        main()
