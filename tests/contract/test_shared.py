"""Several processes on one database, played by several store instances: claims never overlap,
first-time creations race to one winner, deadlocked batches are retried, migrations serialize.

On SQLite the instances serialize on the write lock, so the same outcomes hold for a simpler
reason; the deadlock test needs row locks and runs on PostgreSQL only.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, text

from fnflow.store import Store, Tx
from tests.contract.backends import Backend
from tests.contract.factories import at, execution, function, insert, task
from tests.contract.test_calls import call, delivery

T = TypeVar("T")


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=8) as executor:
        yield executor


@pytest.fixture
def other(open_again: Callable[[], Store], store: Store) -> Store:
    """A second store on the same database: another process."""
    return open_again()


def lock_waiters(backend: Backend, url: str) -> int:
    """Sessions of this database waiting for a lock (PostgreSQL); tests of one worker run one at a time."""
    engine = create_engine(backend.engine_url(url))
    try:
        with engine.connect() as conn:
            query = text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def race(
    backend: Backend,
    url: str,
    pool: ThreadPoolExecutor,
    first: tuple[Store, Callable[[Tx], T]],
    second: tuple[Store, Callable[[Tx], T]],
) -> tuple[T, T]:
    """Run ``first`` and hold its transaction open until ``second`` (another store) is blocked on it."""
    holding, release = threading.Event(), threading.Event()

    def held(tx: Tx) -> T:
        result = first[1](tx)
        holding.set()
        release.wait(10)
        return result

    a = pool.submit(first[0].write_sync, held)
    assert holding.wait(10)
    b: Future[T] = pool.submit(second[0].write_sync, second[1])
    deadline = time.monotonic() + 10
    if backend.name == "postgres":  # the second waits for the first's row
        while lock_waiters(backend, url) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    else:  # the second waits for the write lock; nothing to observe
        time.sleep(0.2)
    assert not b.done()
    release.set()
    return a.result(10), b.result(10)


def test_claimers_in_two_processes_never_share_work(
    store: Store, other: Store, pool: ThreadPoolExecutor
) -> None:
    total = 90
    store.write_sync(lambda tx: tx.add_tasks([task(f"e{i:03d}", 1, created=i) for i in range(total)]))
    store.write_sync(lambda tx: tx.insert_calls([call(f"c{i:03d}") for i in range(total)]))
    store.write_sync(lambda tx: tx.add_deliveries([delivery(f"c{i:03d}") for i in range(total)]))
    claims: dict[str, Callable[[str, Tx], list[Any]]] = {
        "task": lambda owner, tx: [
            (t.execution_id, t.activity) for t in tx.claim_tasks(owner, at(1), at(100), 4)
        ],
        "call": lambda owner, tx: [c.id for c in tx.claim_calls(owner, at(1), at(100), 4)],
        "delivery": lambda owner, tx: [d.id for d in tx.claim_deliveries(owner, at(1), at(100), 4)],
    }
    start = threading.Barrier(4)

    def claimer(instance: Store, owner: str) -> list[tuple[str, Any]]:
        start.wait(10)
        got: list[tuple[str, Any]] = []
        for kind, claim in claims.items():
            while batch := instance.write_sync(functools.partial(claim, owner)):
                got += [(kind, key) for key in batch]
        return got

    runs = [
        pool.submit(claimer, instance, f"{n}-{i}")
        for n, instance in enumerate((store, other))
        for i in range(2)
    ]
    counts = Counter(item for run in runs for item in run.result(30))
    assert set(counts.values()) == {1}, "an item was claimed twice"
    assert Counter(kind for kind, _ in counts) == {"task": total, "call": total, "delivery": total}


def test_settings_are_created_once_under_a_race(store: Store, other: Store, pool: ThreadPoolExecutor) -> None:
    start = threading.Barrier(8)

    def create(instance: Store, n: int) -> str:
        start.wait(10)
        return instance.write_sync(lambda tx: tx.setting_or_create("key", lambda: f"made-by-{n}"))

    values = [pool.submit(create, (store, other)[n % 2], n) for n in range(8)]
    winners = {v.result(10) for v in values}
    assert len(winners) == 1
    assert store.read_sync(lambda tx: tx.get_setting("key")) == winners.pop()


def test_a_setting_created_while_another_process_creates_it_is_that_one(
    backend: Backend, database_url: str, store: Store, other: Store, pool: ThreadPoolExecutor
) -> None:
    first, second = race(
        backend,
        database_url,
        pool,
        (store, lambda tx: tx.setting_or_create("key", lambda: "first")),
        (other, lambda tx: tx.setting_or_create("key", lambda: "second")),
    )
    assert (first, second) == ("first", "first")


def test_a_call_accepted_while_another_process_accepts_the_same_id(
    backend: Backend, database_url: str, store: Store, other: Store, pool: ThreadPoolExecutor
) -> None:
    """Same function and id: the call already stored. Another function: a fresh id."""
    first, second = race(
        backend,
        database_url,
        pool,
        (store, lambda tx: tx.insert_calls([call("c1", function="f")])),
        (other, lambda tx: tx.insert_calls([call("c1", function="f"), call("c1", function="g"), call("c2")])),
    )
    assert first == [(call("c1", function="f"), True)]
    (same, same_new), (renamed, renamed_new), (plain, plain_new) = second
    assert (same, same_new) == (call("c1", function="f"), False)
    assert renamed_new and renamed.id != "c1" and renamed.function == "g"
    assert (plain, plain_new) == (call("c2"), True)
    stored = store.read_sync(lambda tx: tx.get_calls(["c1", renamed.id, "c2"]))
    assert sorted((c.id, c.function) for c in stored) == sorted([("c1", "f"), (renamed.id, "g"), ("c2", "f")])


def test_flows_and_functions_put_by_two_processes_at_once(
    backend: Backend, database_url: str, store: Store, other: Store, pool: ThreadPoolExecutor
) -> None:
    flows = race(
        backend,
        database_url,
        pool,
        (store, lambda tx: tx.put_flow("f", "one", "text-1", "h1", at(0))),
        (other, lambda tx: tx.put_flow("f", "two", "text-2", "h2", at(1))),
    )
    assert [(f.revision, f.description, f.definition) for f in flows] == [
        (1, "one", "text-1"),
        (2, "two", "text-2"),
    ]
    functions = race(
        backend,
        database_url,
        pool,
        (store, lambda tx: tx.put_function(function("fn", checksum="c1"), b"one", at(0))),
        (other, lambda tx: tx.put_function(function("fn", checksum="c2"), b"two", at(1))),
    )
    assert [f.code_checksum for f in functions] == ["c1", "c2"]
    assert store.read_sync(lambda tx: tx.get_function_code("svc", "fn")) == b"two"


def test_deadlocked_batches_in_two_processes_are_retried_and_both_succeed(
    backend: Backend, store: Store, other: Store, pool: ThreadPoolExecutor
) -> None:
    """Each job locks two executions in the opposite order of the other: PostgreSQL aborts one
    transaction (after ``deadlock_timeout``); its batch runs again and both jobs take effect once."""
    if backend.name != "postgres":
        pytest.skip("PostgreSQL only: SQLite has one write lock, so its transactions never deadlock")
    insert(store, execution("a"), execution("b"))
    ids = ["id-f-a", "id-f-b"]
    locked = {"store": threading.Event(), "other": threading.Event()}
    runs: Counter[str] = Counter()

    def crosswise(me: str, you: str, first: str, second: str) -> Callable[[Tx], str]:
        def job(tx: Tx) -> str:
            runs[me] += 1
            assert tx.get_execution_by_id(first, lock=True) is not None
            locked[me].set()
            locked[you].wait(5)
            assert tx.get_execution_by_id(second, lock=True) is not None
            tx.set_setting(me, "done")
            return me

        return job

    before = [s.write_stats["retries"] for s in (store, other)]
    a = pool.submit(store.write_sync, crosswise("store", "other", *ids))
    b = pool.submit(other.write_sync, crosswise("other", "store", *reversed(ids)))
    assert (a.result(30), b.result(30)) == ("store", "other")
    retried = [s.write_stats["retries"] - n for s, n in zip((store, other), before, strict=True)]
    assert sorted(retried) == [0, 1] and sorted(runs.values()) == [1, 2]
    assert store.read_sync(lambda tx: (tx.get_setting("store"), tx.get_setting("other"))) == ("done", "done")


def test_processes_starting_at_once_migrate_once(
    open_again: Callable[[], Store], pool: ThreadPoolExecutor
) -> None:
    start = threading.Barrier(4)

    def open_() -> Store:
        start.wait(10)
        return open_again()

    stores = [s.result(30) for s in [pool.submit(open_) for _ in range(4)]]
    for n, instance in enumerate(stores):
        instance.write_sync(functools.partial(Tx.set_setting, key=f"k{n}", value="v"))
    assert stores[0].read_sync(lambda tx: [tx.get_setting(f"k{n}") for n in range(4)]) == ["v"] * 4
