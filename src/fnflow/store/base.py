"""The store: one interface over SQLite and PostgreSQL; the only place that talks SQL.

Callers hand the store a function of a ``Tx`` (a transaction with domain queries): ``write``
runs it in a write transaction, ``read`` in a snapshot (for reading only). A function passed
to ``write`` is one unit of work — one engine decision with its history and scheduled work —
and is committed whole or not at all. It may be run more than once (after a rollback caused
by another job of the same batch), so it must not have effects outside the transaction.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, Engine, text

from fnflow.store.migrate import upgrade
from fnflow.store.tx import Tx

T = TypeVar("T")


class Store(ABC):
    """Shared logic of the SQL backends; subclasses set up engines and the write path."""

    backend: str
    #: whether several fnflow processes may share this database
    shared: bool = False

    def __init__(self, url: str, read_engine: Engine, *, readers: int = 4) -> None:
        self.url = url
        self._read_engine = read_engine
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="fnflow-read")

    def tx(self, conn: Connection) -> Tx:
        return Tx(conn, for_update=self.shared)

    @property
    def write_stats(self) -> dict[str, int]:
        """Write transactions committed and the jobs they carried (their ratio is the group-commit gain)."""
        return {"batches": 0, "jobs": 0}

    def migrate(self) -> None:
        """Bring the schema to the newest version (idempotent)."""
        with self._read_engine.connect() as conn:
            upgrade(conn)
            conn.commit()

    @abstractmethod
    async def write(self, fn: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def write_sync(self, fn: Callable[[Tx], T]) -> T: ...

    def read_sync(self, fn: Callable[[Tx], T]) -> T:
        with self._read_engine.connect() as conn, conn.begin():
            return fn(self.tx(conn))

    async def read(self, fn: Callable[[Tx], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self.read_sync, fn)

    def ping(self) -> bool:
        try:
            with self._read_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def close(self) -> None:
        self._readers.shutdown(wait=True)
        self._read_engine.dispose()
