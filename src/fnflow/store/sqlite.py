"""SQLite backend: WAL, group commit on the event loop (``loop_writer.py``), readers in a small pool.

Durability: ``synchronous=FULL`` by default, so a committed call or step survives a power
cut, not only a process crash; group commit keeps that affordable. ``normal`` trades the
power-cut guarantee for speed (a process crash still loses nothing).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from fnflow.store.base import Store, explaining_errors
from fnflow.store.loop_writer import LoopWriter
from fnflow.store.tx import Tx

T = TypeVar("T")


def _engine(url: str, *, synchronous: str, begin: str, pool_size: int) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=pool_size)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        _write_ahead_log(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-16000")
        # Zero what a change removes from a page it writes anyway (no extra I/O), so that a
        # secret sealed in place leaves no copy in the file (see forget_overwritten).
        cursor.execute("PRAGMA secure_delete=FAST")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # On the driver: through SQLAlchemy, the BEGIN cost more than a batch's insert of accepted
        # calls (28% of the writer's time under the accept port's load).
        conn.connection.dbapi_connection.execute(begin)

    return engine


def _write_ahead_log(connection: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch the database to WAL. Two connections switching a new file at once both read it and
    then both need it alone: SQLite answers "database is locked" to one of them at once, without
    waiting (that wait could never end), so the loser tries again shortly."""
    for attempt in range(attempts):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == attempts - 1:
                raise
            time.sleep(0.01 + random.random() * 0.02)


class SqliteStore(Store):
    backend = "sqlite"

    async def read_point(self, fn: Callable[[Tx], T]) -> T:
        """Right here on the event loop. Such a read costs SQLite tens of µs, less than the hop to a
        reader thread and back, and under load that thread waits for the GIL at each call into
        SQLite (3-step flows, 16 clients starting and long-polling: 1.2x executions/s; bench/README.md).
        WAL readers never wait for the writer. No transaction around it (a point read needs no
        snapshot across statements): SQLAlchemy's BEGIN and COMMIT cost more than the read; a
        statement through Core still opens one, which the connection's return to the pool ends."""
        with explaining_errors(), self._read_engine.connect() as conn:
            return fn(self.tx(conn))

    def _make_writer(
        self, engine: Engine, writers: int, retryable: Callable[[BaseException], bool]
    ) -> LoopWriter:
        """Jobs on the event loop, the COMMIT in a thread (``loop_writer.py``)."""
        return LoopWriter(engine, self.tx)

    def forget_overwritten(self) -> None:
        """Copy the log into the database file and empty it: the pages of the file that held the
        old values are replaced by their new (zeroed) versions, and the log holds nothing."""
        with self._write_engine.connect() as conn:  # outside a transaction, which would block it
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").close()

    def __init__(self, url: str, *, synchronous: str = "full") -> None:
        if synchronous.upper() not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be 'full' or 'normal'")
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        sync = synchronous.upper()
        super().__init__(
            url,
            _engine(url, synchronous=sync, begin="BEGIN", pool_size=5),
            # One writer: SQLite has one write lock, and BEGIN IMMEDIATE takes it up front.
            _engine(url, synchronous=sync, begin="BEGIN IMMEDIATE", pool_size=1),
        )
