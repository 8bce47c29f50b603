"""Group commit: one thread owns the write connection and commits queued jobs together.

Concurrent writers (accepting calls, applying step results, firing timers) each submit a
job; the writer runs every job waiting at that moment in ONE transaction, commits once, and
only then hands each job its result. A job that raises fails alone: the batch is rolled
back and run again with a savepoint around each job. Under load this turns N fsyncs into
one; unloaded, a job is committed as soon as it arrives.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")
Batch = list[tuple[Callable[[Any], Any], Future[Any]]]
log = logging.getLogger(__name__)


class BatchWriter:
    def __init__(self, engine: Engine, make_tx: Callable[[Connection], Any], *, max_batch: int = 512) -> None:
        self._engine = engine
        self._make_tx = make_tx
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Callable[[Any], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="fnflow-writer", daemon=True)
        self._closed = False
        self.batches = 0
        self.jobs = 0
        self._thread.start()

    def submit(self, fn: Callable[[Any], T]) -> Future[T]:
        if self._closed:
            raise RuntimeError("the store is closed")
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future

    async def run(self, fn: Callable[[Any], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _loop(self) -> None:
        conn = self._engine.connect()
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
                conn = self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _run_batch(self, conn: Connection, batch: Batch) -> Connection:
        """Commit the batch; if a job raises, redo it with a savepoint per job so only that job fails.

        Jobs are functions of the transaction alone, so running one again after a rollback is
        safe. Savepoints cost as much as the jobs themselves, hence the optimistic first pass.
        """
        try:
            outcomes = self._commit(conn, batch, isolate=False)
        except _JobFailed as failed:
            if len(batch) == 1:
                outcomes = [(batch[0][1], None, failed.error)]
            else:
                try:
                    outcomes = self._commit(conn, batch, isolate=True)
                except Exception as e:
                    return self._fail_all(conn, batch, e)
        except Exception as e:
            return self._fail_all(conn, batch, e)
        self.batches += 1
        self.jobs += len(batch)
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        return conn

    def _commit(
        self, conn: Connection, batch: Batch, *, isolate: bool
    ) -> list[tuple[Future[Any], Any, BaseException | None]]:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        with conn.begin():
            tx = self._make_tx(conn)
            for fn, future in batch:
                if not isolate:
                    try:
                        outcomes.append((future, fn(tx), None))
                    except BaseException as e:  # whatever a job raises is its own: never the writer's end
                        raise _JobFailed(e) from e
                    continue
                savepoint = conn.begin_nested()
                try:
                    result = fn(tx)
                except BaseException as e:
                    savepoint.rollback()
                    outcomes.append((future, None, e))
                else:
                    savepoint.commit()
                    outcomes.append((future, result, None))
        return outcomes

    def _fail_all(self, conn: Connection, batch: Batch, error: Exception) -> Connection:
        if len(batch) > 1:
            log.error("a write batch of %d jobs failed to commit: %s", len(batch), error)
        for _, future in batch:
            if not future.done():
                future.set_exception(error)
        return self._engine.connect() if conn.invalidated or conn.closed else conn


class _JobFailed(Exception):
    """A job raised during an optimistic pass; the transaction has been rolled back."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error
