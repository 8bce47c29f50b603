"""Group commit: writer threads own write connections and commit queued jobs together
(PostgreSQL's writer; SQLite's runs its jobs on the event loop, ``loop_writer.py``).

Concurrent writers (accepting calls, applying step results, firing timers) each submit a
job; a free writer runs every job waiting at that moment in ONE transaction, commits once,
and only then hands each job its result. A job that raises fails alone: the batch is rolled
back and run again with a savepoint around each job. Under load this turns N fsyncs into
one; unloaded, a job is committed as soon as it arrives.

With several writers (PostgreSQL) batches run side by side, so a job waiting for a row lock
does not stall the others. Batches of different writers or processes lock rows in whatever
order their jobs choose, so two of them can deadlock: the backend says which errors mean
"the transaction lost a race" (deadlock, serialization failure) and the whole batch is run
again after a short jittered pause, a bounded number of times — jobs are re-runnable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")
#: Who waits for a job: a thread (a concurrent Future), or a coroutine (an asyncio Future of its loop).
Waiter = Future[Any] | asyncio.Future[Any]
Job = tuple[Callable[[Any], Any], Waiter]
Batch = list[Job]
Outcomes = list[tuple[Waiter, Any, BaseException | None]]
log = logging.getLogger(__name__)


def never(_: BaseException) -> bool:
    return False


@dataclass(frozen=True)
class Ahead(Generic[T]):
    """A job whose first write is known before it runs (``write``, for the store's ``send_ahead``):
    a writer sends the first writes of a batch's jobs together, then runs the jobs, which find
    their results there. Anywhere else it is just ``fn``."""

    fn: Callable[[Any], T]
    write: Any

    def __call__(self, tx: Any) -> T:
        return self.fn(tx)


class BatchWriter:
    on_loop = False  # a job runs in a writer thread

    def __init__(
        self,
        engine: Engine,
        make_tx: Callable[[Connection], Any],
        *,
        writers: int = 1,
        retryable: Callable[[BaseException], bool] = never,
        attempts: int = 5,
        max_batch: int = 512,
        send_ahead: Callable[[Any, list[Any]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._make_tx = make_tx
        self._send_ahead = send_ahead
        self._retryable = retryable
        self._attempts = attempts
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._stats = threading.Lock()
        self._closed = False
        self.batches = 0
        self.jobs = 0
        self.retries = 0
        self.threads = [
            threading.Thread(target=self._loop, name=f"fnflow-writer-{n}", daemon=True)
            for n in range(writers)
        ]
        for thread in self.threads:
            thread.start()

    @property
    def ordered(self) -> bool:
        """Whether jobs commit in the order they are queued (one writer thread)."""
        return len(self.threads) == 1

    def submit(self, fn: Callable[[Any], T]) -> Future[T]:
        """Queue ``fn`` for a thread to wait on."""
        future: Future[T] = Future()
        self._put((fn, future))
        return future

    def submit_async(
        self, fn: Callable[[Any], T], *, off_loop: bool = False, commit_on_loop: bool = False
    ) -> asyncio.Future[T]:
        """Queue ``fn`` for the running event loop to await. Its outcome comes back with those of
        every other job of the batch awaited on that loop, in one hand-over to the loop. (Every job
        here runs and commits off the loop, whatever ``off_loop`` and ``commit_on_loop`` say.)"""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put((fn, future))
        return future

    def _put(self, job: Job) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")
        self._queue.put(job)

    def close(self) -> None:
        """Finish what is queued, then stop every writer."""
        if not self._closed:
            self._closed = True
            for _ in self.threads:
                self._queue.put(None)
            for thread in self.threads:
                thread.join()

    def _loop(self) -> None:
        conn: Connection | None = None
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                batch = [item]
                stop = False
                while len(batch) < self._max_batch:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                # A job whose caller gave up before it ran (its future cancelled) is dropped.
                batch = [job for job in batch if _running(job[1])]
                if batch:
                    conn = self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            if conn is not None:
                conn.close()

    def _run_batch(self, conn: Connection | None, batch: Batch) -> Connection | None:
        """Commit the batch, retrying it while it loses races; then hand every job its outcome.

        Returns the connection for the next batch (None after the database went away: the next
        batch connects again, so a restarted server is picked up).
        """
        for attempt in range(1, self._attempts + 1):
            committing: list[bool] = []  # set once the COMMIT is sent: its outcome is then unknown
            try:
                if conn is None:
                    conn = self._engine.connect()
                outcomes = self._outcomes(conn, batch, committing)
            except Exception as e:
                # A connection lost before the COMMIT (the database restarted, a failover cut it)
                # committed nothing: the batch runs again on a new one. Lost during the COMMIT, it
                # may have committed: the jobs fail rather than risk running twice.
                lost = conn is not None and conn.invalidated and not committing
                if conn is not None and (conn.invalidated or conn.closed):
                    conn.close()
                    conn = None
                if attempt == self._attempts or not (lost or self._retryable(e)):
                    self._fail_all(batch, e)
                    return conn
                with self._stats:
                    self.retries += 1
                time.sleep(random.uniform(0.5, 1.5) * min(0.2, 0.005 * 2**attempt))
                continue
            with self._stats:
                self.batches += 1
                self.jobs += len(batch)
            _deliver(outcomes)
            return conn
        raise AssertionError("unreachable: the last attempt returns")

    def _outcomes(self, conn: Connection, batch: Batch, committing: list[bool]) -> Outcomes:
        """Run and commit the batch; if a job raises, redo it with a savepoint per job so only that job fails.

        Jobs are functions of the transaction alone, so running one again after a rollback is
        safe. Savepoints cost as much as the jobs themselves, hence the optimistic first pass.
        """
        try:
            return self._commit(conn, batch, committing, isolate=False)
        except JobFailed as failed:
            if len(batch) == 1:
                return [(batch[0][1], None, failed.error)]
            return self._commit(conn, batch, committing, isolate=True)

    def _commit(self, conn: Connection, batch: Batch, committing: list[bool], *, isolate: bool) -> Outcomes:
        with conn.begin():
            tx = self._make_tx(conn)
            if not isolate:
                self._send(conn, tx, batch)
            outcomes = run_jobs(conn, tx, batch, isolate=isolate, retryable=self._retryable)
            committing.append(True)  # leaving the block commits
        return outcomes

    def _send(self, conn: Connection, tx: Any, batch: Batch) -> None:
        """Send the first writes of the batch's ``Ahead`` jobs together (``send_ahead``). One that
        fails fails the pass like a job (``JobFailed``): each job then runs in a savepoint alone."""
        writes = [fn.write for fn, _ in batch if isinstance(fn, Ahead)]
        if self._send_ahead is None or not writes:
            return
        try:
            self._send_ahead(tx, writes)
        except Exception as e:
            if batch_wide(conn, e, self._retryable):
                raise
            raise JobFailed(e) from e

    def _fail_all(self, batch: Batch, error: Exception) -> None:
        if len(batch) > 1:
            log.error("a write batch of %d jobs failed to commit: %s", len(batch), error)
        _deliver([(future, None, error) for _, future in batch])


def run_jobs(
    conn: Connection,
    tx: Any,
    batch: Sequence[tuple[Callable[[Any], Any], Waiter]],
    *,
    isolate: bool,
    retryable: Callable[[BaseException], bool] = never,
) -> Outcomes:
    """Run a batch's jobs in the open transaction of ``conn``; when one raises, ``JobFailed`` —
    unless each runs in a savepoint of its own (``isolate``), which costs as much as the jobs:
    then only that job fails. An error that means the transaction lost a race (``retryable``) or
    its connection is raised as it is: the whole batch goes again."""
    outcomes: Outcomes = []
    for fn, future in batch:
        if not isolate:
            try:
                outcomes.append((future, fn(tx), None))
            except BaseException as e:  # whatever a job raises is its own: never the writer's end
                if batch_wide(conn, e, retryable):
                    raise
                raise JobFailed(e) from e
            continue
        outcomes.append((future, *isolated(conn, tx, fn, retryable)))
    return outcomes


def isolated(
    conn: Connection, tx: T, fn: Callable[[T], Any], retryable: Callable[[BaseException], bool] = never
) -> tuple[Any, BaseException | None]:
    """``fn(tx)`` in a savepoint of its own, in the open transaction of ``conn``: (its result, None),
    or (None, what it raised) with its writes undone. An error that means the transaction lost a
    race (``retryable``) or its connection is raised as it is."""
    savepoint = conn.begin_nested()
    try:
        result = fn(tx)
    except BaseException as e:
        if batch_wide(conn, e, retryable):
            raise
        savepoint.rollback()
        return None, e
    savepoint.commit()
    return result, None


def batch_wide(conn: Connection, error: BaseException, retryable: Callable[[BaseException], bool]) -> bool:
    """Whether ``error`` is the whole batch's, not one job's: the transaction lost a race
    (``retryable``), or its connection is gone."""
    return isinstance(error, Exception) and (retryable(error) or conn.invalidated)


def _running(waiter: Waiter) -> bool:
    """Whether the job is still wanted; a thread's job can no longer be cancelled after this."""
    if isinstance(waiter, Future):
        return waiter.set_running_or_notify_cancel()
    return not waiter.cancelled()  # the loop may still cancel it: settle then leaves it alone


def _deliver(outcomes: Outcomes) -> None:
    """Hand every waiter its outcome: threads at once, each event loop in one call for all of its."""
    threads: Outcomes = []
    by_loop: dict[asyncio.AbstractEventLoop, Outcomes] = {}
    for outcome in outcomes:
        waiter = outcome[0]
        if isinstance(waiter, Future):
            threads.append(outcome)
        else:
            by_loop.setdefault(waiter.get_loop(), []).append(outcome)
    settle(threads)
    for loop, theirs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody awaits these any more
            loop.call_soon_threadsafe(settle, theirs)


def settle(outcomes: Outcomes) -> None:
    """Settle the waiters still waiting (on its loop, one may have been cancelled meanwhile)."""
    for waiter, result, error in outcomes:
        if waiter.done():
            continue
        if error is None:
            waiter.set_result(result)
        else:
            waiter.set_exception(error)


class JobFailed(Exception):
    """A job raised during an optimistic pass; the transaction has been rolled back."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error
