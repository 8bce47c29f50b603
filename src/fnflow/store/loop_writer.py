"""SQLite's group commit: the jobs run on the event loop that awaits them; only the COMMIT — the
fsync — runs in a thread.

A writer thread (``writer.py``, PostgreSQL's) runs its jobs' Python and SQLite's C in turns, and
at every turn it gives the GIL to the event loop and waits to get it back: under load each
statement of a job became a hand-over, and a report of a task result waited ~8 ms behind a
batch of 16 jobs that held the thread (bench/README.md, sixth round). SQLite answers a statement
in microseconds from its page cache, so here the loop runs the jobs itself, in one transaction
per batch, and only the COMMIT — which waits for the disk — goes to a thread, which hands the
outcomes back to the loop in one step. Jobs queued meanwhile form the next batch. Commits happen
in queue order. The price: SQLite's own work no longer runs beside the loop, so a job that reads
or writes many rows (a claim of hundreds of queued calls) takes the loop's time.

A job that raises fails alone: the batch is rolled back and its jobs run again, each in a
savepoint of its own. A thread without an event loop (the CLI, a test's setup) runs its job
at once on the same connection, in turn with the loop's batches.

A job that commutes with every other write (renewing the leases this process holds: 10,000 rows
took the loop 35 to 80 ms) may run off it: in the commit thread, after the rest of its batch and
before its COMMIT, in a savepoint of its own; SQLite's C work there leaves the GIL to the loop.

A batch whose every job asks for it (``commit_on_loop``: calls an accept front passed on, whose
process does nothing else meanwhile) commits on the loop itself: the fsync then blocks the loop,
but saves the two hand-overs to the thread and back, which such a batch's frames wait for —
the accept port took 1.36x the calls per second (bench/README.md, sixteenth round). A batch with
any other job, which may have other work for the loop, commits in the thread as above.

The loop wakes the commit thread once a batch; it runs under SCHED_BATCH (``fnflow.scheduling``),
so that it does not preempt the loop that woke it in the middle of its turn, GIL held.

Another process may hold SQLite's write lock (``fnflow keys create`` on a live server's
database): the loop's connection does not wait for it (``busy_timeout`` 0), and when BEGIN finds
it taken, the thread waits for it instead of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import RootTransaction
from sqlalchemy.exc import OperationalError

from fnflow.scheduling import run_as_batch
from fnflow.store.writer import JobFailed, Outcomes, run_jobs, settle

T = TypeVar("T")
Job = tuple[Callable[[Any], Any], "asyncio.Future[Any]"]
#: how long a thread's BEGIN waits for another process's write lock (the loop's never does)
BUSY_TIMEOUT_MS = 30_000


class LoopWriter:
    ordered = True  # one connection, batches in queue order
    on_loop = True  # a job runs on the event loop that queued it
    retries = 0  # SQLite's one write lock: a transaction never loses a race to run again

    def __init__(self, engine: Engine, make_tx: Callable[[Connection], Any], *, max_batch: int = 512) -> None:
        self._engine = engine
        self._make_tx = make_tx
        self._max_batch = max_batch
        self._queues: dict[asyncio.AbstractEventLoop, list[Job]] = {}  # jobs waiting, by their loop
        self._drains: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._using = threading.Lock()  # the connection: a batch (until its commit ends) or a thread's job
        self._conn: Connection | None = None
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="fnflow-commit", initializer=run_as_batch)
        self._closed = False
        self.batches = 0
        self.jobs = 0

    def submit_async(
        self, fn: Callable[[Any], T], *, off_loop: bool = False, commit_on_loop: bool = False
    ) -> asyncio.Future[T]:
        """Queue ``fn`` for the running event loop to await; it runs in the loop's next batch (with
        ``off_loop``, in its commit thread; ``commit_on_loop``: see the module's docstring)."""
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = _OffLoop(fn) if off_loop else _CommitOnLoop(fn) if commit_on_loop else fn
        self._queues.setdefault(loop, []).append((job, future))
        if loop not in self._drains:
            self._drains[loop] = loop.create_task(self._drain(), name="fnflow store writes")
        return future

    def submit(self, fn: Callable[[Any], T]) -> Future[T]:
        """Run ``fn`` now in a transaction of its own, in this thread (which runs no event loop
        with writes of its own in flight), once the connection is free; its outcome."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None and loop in self._drains:
            raise RuntimeError("a synchronous write from an event loop with writes in flight: await write()")
        if self._closed:
            raise RuntimeError("the store is closed")
        future: Future[T] = Future()
        with self._using:
            conn = self._connection()
            transaction = _begin_waiting(conn)
            try:
                result = fn(self._make_tx(conn))
                _commit_or_roll_back(transaction)
            except BaseException as e:  # whatever a job raises is its own
                if transaction.is_active:
                    transaction.rollback()
                future.set_exception(e)
            else:
                future.set_result(result)
                self.batches += 1
                self.jobs += 1
        return future

    def close(self) -> None:
        """Let a commit in flight end, then close the connection; a job still queued fails."""
        self._closed = True
        self._committer.shutdown(wait=True)
        with self._using:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queues[loop]
        try:
            while queue:
                held = await self._hold()
                taken = queue[: self._max_batch]
                del queue[: len(taken)]
                batch = [job for job in taken if not job[1].cancelled()]
                try:
                    if held is not None:
                        raise held
                    outcomes = await self._commit_batch(loop, batch)
                except Exception as e:  # nothing of the batch was stored
                    outcomes = [(future, None, e) for _, future in batch]
                settle(outcomes)
        finally:
            del self._drains[loop]
            if not queue:
                del self._queues[loop]

    async def _commit_batch(self, loop: asyncio.AbstractEventLoop, batch: list[Job]) -> Outcomes:
        """Run and commit ``batch`` on the connection this loop holds: each job's outcome. The
        commit thread frees the connection once it has committed; before that, this does."""
        freed_elsewhere = False
        try:
            if self._closed:
                raise RuntimeError("the store is closed")
            if not batch:
                return []
            here = [job for job in batch if not isinstance(job[0], _OffLoop)]
            there = [job for job in batch if isinstance(job[0], _OffLoop)]
            inline = all(isinstance(job[0], _CommitOnLoop) for job in batch)
            conn = self._connection()
            for isolate in (False, True):
                transaction = _begin_now(conn)
                if transaction is None:
                    try:
                        transaction = await self._begin_in_thread(conn)
                    except asyncio.CancelledError:
                        freed_elsewhere = True  # by _abandon, in the thread
                        raise
                try:
                    outcomes = run_jobs(conn, self._make_tx(conn), here, isolate=isolate)
                    if inline:
                        _commit_or_roll_back(transaction)
                        committing = None
                    else:
                        committing = loop.run_in_executor(self._committer, self._commit, transaction, there)
                    break
                except JobFailed as failed:  # rolled back: run them again, each alone
                    transaction.rollback()
                    if len(here) == 1 and not there:
                        return [(here[0][1], None, failed.error)]
                except BaseException:
                    with contextlib.suppress(Exception):
                        transaction.rollback()
                    raise
            if committing is not None:
                freed_elsewhere = True  # by _commit, whatever becomes of this coroutine
                outcomes += await committing
            self.batches += 1
            self.jobs += len(batch)
            return outcomes
        finally:
            if not freed_elsewhere:
                self._using.release()

    async def _begin_in_thread(self, conn: Connection) -> RootTransaction:
        return await self._in_thread(functools.partial(_begin_waiting, conn), self._abandon)

    def _abandon(self, began: Future[RootTransaction]) -> None:
        """End what a thread began for a loop that went away meanwhile."""
        try:
            if not began.cancelled() and began.exception() is None:
                began.result().rollback()
        finally:
            self._using.release()

    async def _hold(self) -> Exception | None:
        """Take the connection: at once, or (a thread's job has it) by waiting in the thread;
        why it could not be had (the store closed meanwhile)."""
        if self._using.acquire(blocking=False):
            return None
        try:
            await self._in_thread(self._using.acquire, self._free)
        except RuntimeError as e:  # the committer thread is gone
            return e
        return None

    def _free(self, acquired: Future[bool]) -> None:
        """Give back the connection a thread took for a loop that went away meanwhile."""
        if not acquired.cancelled():
            self._using.release()

    async def _in_thread(self, fn: Callable[[], T], abandoned: Callable[[Future[T]], object]) -> T:
        """``fn()`` in the committer thread; if the loop stops waiting, ``abandoned`` gets its
        outcome there — the loop may be gone by then."""
        running = self._committer.submit(fn)
        try:
            return await asyncio.shield(asyncio.wrap_future(running))
        except asyncio.CancelledError:
            running.add_done_callback(abandoned)
            raise

    def _commit(self, transaction: RootTransaction, off_loop: list[Job]) -> Outcomes:
        """In the thread: run the batch's jobs that run off the loop, each in a savepoint, commit
        (the fsync), then free the connection, which the loop need not do; their outcomes."""
        try:
            outcomes: Outcomes = []
            if off_loop:
                conn = transaction.connection
                try:
                    outcomes = run_jobs(conn, self._make_tx(conn), off_loop, isolate=True)
                except BaseException:  # the connection failed: nothing of the batch is stored
                    with contextlib.suppress(Exception):
                        transaction.rollback()
                    raise
            _commit_or_roll_back(transaction)
            return outcomes
        finally:
            self._using.release()

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._engine.connect()
            raw = self._conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA busy_timeout=0").close()
        return self._conn


class _Marked:
    """A job with an option of ``submit_async`` that its batch reads."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, tx: Any) -> Any:
        return self.fn(tx)


class _OffLoop(_Marked):
    """A job to run off the loop (``submit_async(off_loop=True)``)."""

    __slots__ = ()


class _CommitOnLoop(_Marked):
    """A job whose batch may commit on the loop (``submit_async(commit_on_loop=True)``)."""

    __slots__ = ()


def _commit_or_roll_back(transaction: RootTransaction) -> None:
    try:
        transaction.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            transaction.rollback()
        raise


def _begin_now(conn: Connection) -> RootTransaction | None:
    """BEGIN IMMEDIATE without waiting; None if another process holds the write lock."""
    try:
        return conn.begin()
    except (OperationalError, sqlite3.OperationalError) as e:
        if "locked" in str(e):
            return None
        raise


def _begin_waiting(conn: Connection) -> RootTransaction:
    """BEGIN IMMEDIATE, waiting up to ``BUSY_TIMEOUT_MS`` for another process's write lock."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}").close()
    try:
        return conn.begin()
    finally:
        raw.execute("PRAGMA busy_timeout=0").close()
