"""PostgreSQL's writer threads: as many as ``default_writers`` says (SQLite writes on the event
loop, with one commit thread); the first writes of a batch's ``Ahead`` jobs go out together, and
one that fails fails only its own job."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine

from fnflow.store import DecisionWrite, Store, Tx, Written, pipeline
from fnflow.store.postgres import available_cpus, default_writers, engine_url, lost_race
from fnflow.store.writer import Ahead, BatchWriter
from tests.contract.factories import event, execution, insert

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


def test_a_postgresql_store_runs_default_writers(store: Store) -> None:
    writer = store._writer
    assert isinstance(writer, BatchWriter)
    assert len(writer.threads) == default_writers(available_cpus())


@contextlib.contextmanager
def one_writer(store: Store, database_url: str, sent: list[list[DecisionWrite]]) -> Iterator[BatchWriter]:
    """A writer thread of its own on the store's database, whose sends ``sent`` records."""

    def send(tx: Tx, writes: list[Any]) -> None:
        sent.append(writes)
        tx.send_decisions(writes)

    engine = create_engine(engine_url(database_url), isolation_level="READ COMMITTED", pool_size=1)
    writer = BatchWriter(engine, store.tx, retryable=lost_race, send_ahead=send)
    try:
        yield writer
    finally:
        writer.close()
        engine.dispose()


def batch_of(writer: BatchWriter, jobs: list[Any]) -> list[Future[Any]]:
    """Queue ``jobs`` while the writer is held by another: they make one batch."""
    held, release = threading.Event(), threading.Event()

    def hold(_: Tx) -> None:
        held.set()
        release.wait(10)

    first = writer.submit(hold)
    held.wait(10)
    futures = [writer.submit(job) for job in jobs]
    release.set()
    first.result(10)
    return futures


def decision(name: str, history: list[Any] | None = None) -> DecisionWrite:
    row = replace(execution(name), state='{"step": "b"}')
    return DecisionWrite(row, version=1, history=history or [event(1)])


def ahead(w: DecisionWrite) -> Ahead[Written]:
    return Ahead(lambda tx: tx.write_decision(w), w)


def test_the_first_writes_of_a_batchs_ahead_jobs_go_out_together(store: Store, database_url: str) -> None:
    insert(store, execution("e1"), execution("e2"))
    sent: list[list[DecisionWrite]] = []
    with one_writer(store, database_url, sent) as writer:
        writes = [decision("e1"), decision("e2")]
        futures = batch_of(writer, [ahead(w) for w in writes] + [lambda tx: tx.get_setting("x")])
        assert [f.result(10) for f in futures] == [Written(True, True), Written(True, True), None]
    assert sent == [writes]
    assert writer.batches == 2  # the one holding the writer, then the three together


def test_a_first_write_that_fails_fails_its_own_job_alone(store: Store, database_url: str) -> None:
    insert(store, execution("e1"), execution("e2"))
    sent: list[list[DecisionWrite]] = []
    with one_writer(store, database_url, sent) as writer:
        good, bad = decision("e1"), decision("e2", history=[replace(event(1), step="s" * 300)])
        futures = batch_of(writer, [ahead(good), ahead(bad)])
        assert futures[0].result(10) == Written(True, True)
        with pytest.raises(psycopg.errors.StringDataRightTruncation):
            futures[1].result(10)
    assert len(sent) == 1  # then each job ran in a savepoint of its own, the bad one alone failing


def test_a_batch_whose_connection_is_lost_while_sent_runs_again_on_a_new_one(
    store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lost while its statements were out (before any COMMIT), the connection is given up and the
    whole batch runs again on a new one: every job succeeds once."""
    insert(store, execution("e1"), execution("e2"))
    results, lost = pipeline._results, []

    def once_lost(pg: Any) -> Any:
        if not lost:
            lost.append(pg)
            raise psycopg.OperationalError("consuming input failed: server closed the connection")
        return results(pg)

    monkeypatch.setattr(pipeline, "_results", once_lost)
    sent: list[list[DecisionWrite]] = []
    with one_writer(store, database_url, sent) as writer:
        writes = [decision("e1"), decision("e2")]
        futures = batch_of(writer, [ahead(w) for w in writes])
        assert [f.result(10) for f in futures] == [Written(True, True), Written(True, True)]
    assert len(lost) == 1 and sent == [writes, writes]
    assert writer.retries == 1
    rows = store.read_sync(lambda tx: [tx.get_execution_by_id(f"id-f-{n}") for n in ("e1", "e2")])
    assert [row.version for row in rows if row is not None] == [2, 2]  # written once each
