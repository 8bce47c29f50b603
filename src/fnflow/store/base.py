"""The store: one interface over SQLite and PostgreSQL; the only place that talks SQL.

Callers hand the store a function of a ``Tx`` (a transaction with domain queries): ``write``
runs it in a write transaction, ``read`` in a snapshot (for reading only). A function passed
to ``write`` is one unit of work — one engine decision with its history and scheduled work —
and is committed whole or not at all. It may be run more than once (after a rollback caused
by another job of the same batch, or by a deadlock with another process), so it must not have
effects outside the transaction.

Both backends are the same machine — a read pool and a group-commit writer — and differ in
how they set up engines, which writer they run (PostgreSQL: writer threads, ``writer.py``;
SQLite: the event loop with its COMMIT in a thread, ``loop_writer.py``), which errors mean
"retry", and whether ``listen`` hears other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from fnflow.store.faults import explain
from fnflow.store.migrate import upgrade
from fnflow.store.tx import Tx
from fnflow.store.writer import BatchWriter, never

if TYPE_CHECKING:
    from fnflow.store.loop_writer import LoopWriter
    from fnflow.store.slots import AdvisorySlots

T = TypeVar("T")


class Store:
    """Shared logic of the SQL backends; subclasses set up the engines."""

    backend: str
    #: whether several fnflow processes may share this database
    shared: bool = False

    def __init__(
        self,
        url: str,
        read_engine: Engine,
        write_engine: Engine,
        *,
        readers: int = 4,
        writers: int = 1,
        retryable: Callable[[BaseException], bool] = never,
    ) -> None:
        self.url = url
        self._read_engine = read_engine
        self._write_engine = write_engine
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="fnflow-read")
        try:
            self.migrate()
        except BaseException:
            self._dispose()
            raise
        self._writer: BatchWriter | LoopWriter = self._make_writer(write_engine, writers, retryable)
        self._pending = 0  # reads and writes awaited on the event loop now

    def _make_writer(
        self, engine: Engine, writers: int, retryable: Callable[[BaseException], bool]
    ) -> BatchWriter | LoopWriter:
        return BatchWriter(
            engine, self.tx, writers=writers, retryable=retryable, send_ahead=Tx.send_decisions
        )

    def tx(self, conn: Connection) -> Tx:
        return Tx(conn, for_update=self.shared)

    @property
    def write_stats(self) -> dict[str, int]:
        """Write transactions committed, the jobs they carried (their ratio is the group-commit gain),
        and batches run again after losing a race (deadlock) with another writer."""
        w = self._writer
        return {"batches": w.batches, "jobs": w.jobs, "retries": w.retries}

    def migrate(self) -> None:
        """Bring the schema to the newest version (idempotent; safe with several processes at once)."""
        with self._write_engine.connect() as conn:
            upgrade(conn)
            conn.commit()

    @property
    def busy(self) -> bool:
        """Whether a read or write awaited on the event loop has not returned yet (a driver of
        virtual time waits for these before it moves the clock)."""
        return self._pending > 0

    @property
    def ordered_writes(self) -> bool:
        """Whether writes commit in the order they are queued, and only this process writes: then a
        write queued now commits before any queued later (one writer, no other process)."""
        return not self.shared and self._writer.ordered

    @property
    def writes_on_loop(self) -> bool:
        """Whether a write job runs on the event loop that queued it (SQLite), not in a thread:
        then what the loop does between queueing a job and the job's start cannot race it."""
        return self._writer.on_loop

    async def write(
        self, fn: Callable[[Tx], T], *, off_loop: bool = False, commit_on_loop: bool = False
    ) -> T:
        """Run ``fn`` in a write transaction; its result once committed. ``off_loop``: ``fn`` commutes
        with every other write (it renews leases this process holds), so SQLite may run it in its
        commit thread rather than on the event loop. ``commit_on_loop``: the loop has nothing else
        to do while ``fn`` commits (it stores an accept front's calls), so SQLite may COMMIT on the
        loop when every job of the batch says so (``loop_writer``)."""
        job = self._writer.submit_async(fn, off_loop=off_loop, commit_on_loop=commit_on_loop)
        return await self._committed(job)

    def write_soon(self, fn: Callable[[Tx], T]) -> asyncio.Future[T]:
        """Queue ``fn`` now (see ``ordered_writes``) and return its outcome to await later,
        so that the caller can go on meanwhile. (A future handed the job's outcome, not a task
        awaiting it: the async queue marks every attempt Running this way.) Cancelling it
        cancels the job, if it has not run yet."""
        job = self._writer.submit_async(fn)
        outcome: asyncio.Future[T] = job.get_loop().create_future()
        self._pending += 1
        job.add_done_callback(functools.partial(self._hand_over, outcome))
        outcome.add_done_callback(lambda _: job.cancel())  # a no-op once the job is done
        return outcome

    def _hand_over(self, outcome: asyncio.Future[T], job: asyncio.Future[T]) -> None:
        self._pending -= 1
        if outcome.done():
            return
        if job.cancelled():
            outcome.cancel()
        elif (error := job.exception()) is not None:
            explained = explain(error)
            if explained is not None:
                explained.__cause__ = error
            outcome.set_exception(explained or error)
        else:
            outcome.set_result(job.result())

    async def _committed(self, job: asyncio.Future[T]) -> T:
        self._pending += 1
        try:
            with explaining_errors():
                return await job
        finally:
            self._pending -= 1

    def write_sync(self, fn: Callable[[Tx], T]) -> T:
        with explaining_errors():
            return self._writer.submit(fn).result()

    def read_sync(self, fn: Callable[[Tx], T]) -> T:
        return self._read(fn, transaction=True)

    def _read(self, fn: Callable[[Tx], T], *, transaction: bool) -> T:
        """``fn`` in a read-only transaction (one snapshot for all its statements), or without one
        (each statement on its own: no BEGIN and COMMIT round trips)."""
        with explaining_errors():
            try:
                return self._read_once(fn, transaction)
            except DBAPIError as e:
                if not e.connection_invalidated:
                    raise
            except _Stale:
                pass
            # A pooled connection had gone stale (the database restarted): the pool has dropped
            # its connections, and the read runs once more on a new one.
            return self._read_once(fn, transaction)

    def _read_once(self, fn: Callable[[Tx], T], transaction: bool) -> T:
        engine = self._read_engine
        with engine.connect() as conn:
            try:
                if not transaction:
                    return fn(self.tx(conn.execution_options(isolation_level="AUTOCOMMIT")))
                with conn.begin():
                    return fn(self.tx(conn))
            except engine.dialect.loaded_dbapi.Error as e:
                # Statements run on the driver (``Prepared``) raise its own errors, which SQLAlchemy
                # has not seen: a lost connection is dropped here, and the pool's others with it.
                if not engine.dialect.is_disconnect(e, conn.connection.dbapi_connection, None):
                    raise
                conn.invalidate(e)
                engine.dispose(close=False)
                raise _Stale from e

    async def read(self, fn: Callable[[Tx], T]) -> T:
        return await self._read_in_thread(fn, transaction=True)

    async def _read_in_thread(self, fn: Callable[[Tx], T], *, transaction: bool) -> T:
        loop = asyncio.get_running_loop()
        self._pending += 1
        try:
            return await loop.run_in_executor(
                self._readers, functools.partial(self._read, fn, transaction=transaction)
            )
        finally:
            self._pending -= 1

    async def read_point(self, fn: Callable[[Tx], T]) -> T:
        """A read of the rows of one key (an execution by name, a call by id, an execution's
        children), which needs no snapshot across statements: SQLite answers it on the event loop
        (``SqliteStore``), others in a reader thread without a transaction around it."""
        return await self._read_in_thread(fn, transaction=False)

    def listen(self, channels: list[str], on_message: Callable[[str, str], None]) -> Callable[[], None]:
        """Call ``on_message(channel, payload)`` for what other processes ``Tx.notify`` (after their
        commit); returns a function that stops listening. A store no other process shares hears
        nothing: wake-ups within one process are the caller's own business."""
        return _nothing

    def cluster_slots(self) -> AdvisorySlots | None:
        """Concurrency limits that hold across the processes sharing this store (None: one process)."""
        return None

    def forget_overwritten(self) -> None:
        """Make the database files stop holding values that were overwritten (a secret sealed in
        place): nothing to do here; SQLite checkpoints its log (``SqliteStore``)."""

    def ping(self) -> bool:
        try:
            with self._read_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def close(self) -> None:
        self._writer.close()
        self._dispose()

    def _dispose(self) -> None:
        self._readers.shutdown(wait=True)
        self._read_engine.dispose()
        self._write_engine.dispose()


class _Stale(Exception):
    """A read found its connection lost (the database restarted): it can run again on a new one."""


def _nothing() -> None:
    pass


@contextlib.contextmanager
def explaining_errors() -> Iterator[None]:
    """Driver errors about the database itself (full, read-only, gone) as DatabaseUnavailable."""
    try:
        yield
    except Exception as e:
        explained = explain(e)
        if explained is None:
            raise
        raise explained from e
