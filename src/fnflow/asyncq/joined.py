"""Write jobs that many callers join until the writer starts them.

Draining the async queue, each attempt writes twice (its Running mark, then its outcome). One
write job per write cost more of the event loop's time than the statements (a future, its
callbacks and a hand-over each; bench/README.md, eleventh round), so what callers queue
before the writer takes a job joins that job: one job, one future and one callback for all
of them.

Only where the writer runs jobs on the event loop (SQLite): a writer thread (PostgreSQL's) may
start a job while the loop adds to it, so there every item is a job of its own.

Order still matters: a call's outcome must be written after its mark. Every job gets a
serial number as it is queued, and ``join(item, after=n)`` joins only a job queued after
job ``n`` (one that runs later, on a store that writes in queue order).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable
from typing import Generic, TypeVar

from fnflow.store import Store, Tx

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")

_serials = itertools.count(1)  # shared by every joiner: a later job has a larger number

#: ``run(tx, items, alone)``: write the items; ``alone`` when the writer runs the job again in a
#: savepoint of its own because a job of its batch failed (one of these items, maybe).
Run = Callable[[Tx, list[I], bool], R]
#: ``done(items, outcome)``: after the commit (or the failure) of a job's items.
Done = Callable[[list[I], "asyncio.Future[R]"], None]


class Joiner(Generic[I, R]):
    def __init__(self, store: Store, run: Run[I, R], done: Done[I, R]) -> None:
        self._store = store
        self._run = run
        self._done = done
        self._open: _Job[I, R] | None = None
        #: the jobs queued and not done yet, for a closing owner to wait for
        self.pending: set[asyncio.Future[R]] = set()

    def join(self, item: I, *, after: int = 0) -> int:
        """Queue ``item``; the serial number of the job it joined. ``after``: a job it must be
        written after (its serial number)."""
        job = self._open
        if job is not None and not job.taken and job.serial > after and self._store.writes_on_loop:
            job.items.append(item)
            return job.serial
        job = self._open = _Job(self._run, next(_serials))
        job.items.append(item)  # before it is queued: a writer thread may start it at once
        outcome = self._store.write_soon(job)
        self.pending.add(outcome)
        outcome.add_done_callback(functools.partial(self._finished, job))
        return job.serial

    def _finished(self, job: _Job[I, R], outcome: asyncio.Future[R]) -> None:
        self.pending.discard(outcome)
        self._done(job.items, outcome)


class _Job(Generic[I, R]):
    def __init__(self, run: Run[I, R], serial: int) -> None:
        self._run = run
        self.serial = serial
        self.items: list[I] = []
        self.taken = False  # by the writer: later items go to a new job
        self._runs = 0

    def __call__(self, tx: Tx) -> R:
        self.taken = True
        self._runs += 1
        return self._run(tx, self.items, self._runs > 1)
