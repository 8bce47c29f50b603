"""Tasks (leased work items) and timers."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from fnflow.store import Store, TaskRecord
from fnflow.store.leases import TASKS
from tests.contract.factories import at, task, timer


def add(store: Store, *records: TaskRecord) -> None:
    store.write_sync(lambda tx: tx.add_tasks(records))


def get(store: Store, execution_id: str, activity: int) -> TaskRecord | None:
    return store.read_sync(lambda tx: tx.get_task(execution_id, activity))


def claim(store: Store, owner: str, now: float, limit: int = 10, lease: float = 30) -> list[TaskRecord]:
    return store.write_sync(lambda tx: tx.claim_tasks(owner, at(now), at(now + lease), limit))


def keys(records: list[TaskRecord]) -> list[tuple[str, int]]:
    return [(t.execution_id, t.activity) for t in records]


def test_add_get_delete(store: Store) -> None:
    record = task("e1", 1, created=3)
    add(store, record, task("e1", 2), task("e2", 1))
    store.write_sync(lambda tx: tx.add_tasks([]))
    assert get(store, "e1", 1) == record
    assert get(store, "e1", 9) is None
    assert store.read_sync(lambda tx: tx.count_tasks()) == 3
    assert store.write_sync(lambda tx: tx.delete_task("e1", 1)) is True
    assert store.write_sync(lambda tx: tx.delete_task("e1", 1)) is False
    assert get(store, "e1", 1) is None
    assert get(store, "e1", 2) is not None
    assert store.read_sync(lambda tx: tx.count_tasks()) == 2


def test_claim_takes_only_free_tasks_oldest_first_and_bumps_attempts(store: Store) -> None:
    add(
        store,
        task("free-new", 1, created=5),
        task("free-old", 1, created=1),
        task("expired", 1, created=2, owner="dead", lease_until=50),
        task("held", 1, created=0, owner="alive", lease_until=500),
    )
    claimed = claim(store, "me", now=100, lease=30)
    assert keys(claimed) == [("free-old", 1), ("expired", 1), ("free-new", 1)]
    for record in claimed:
        assert (record.lease_owner, record.lease_until, record.attempts) == ("me", at(130), 1)
        assert get(store, record.execution_id, 1) == record
    held = get(store, "held", 1)
    assert held is not None and (held.lease_owner, held.attempts) == ("alive", 0)
    assert claim(store, "other", now=100) == []  # everything is held now


def test_claim_respects_the_limit(store: Store) -> None:
    add(store, *(task("e", i, created=i) for i in range(5)))
    assert keys(claim(store, "a", now=0, limit=2)) == [("e", 0), ("e", 1)]
    assert keys(claim(store, "b", now=0, limit=2)) == [("e", 2), ("e", 3)]
    assert keys(claim(store, "c", now=0, limit=2)) == [("e", 4)]


def test_an_expired_lease_is_claimed_again_with_another_attempt(store: Store) -> None:
    add(store, task("e", 1))
    claim(store, "first", now=0, lease=10)
    assert claim(store, "second", now=5) == []
    again = claim(store, "second", now=11, lease=10)
    assert [(t.lease_owner, t.attempts) for t in again] == [("second", 2)]


def test_concurrent_claimers_never_share_a_task(store: Store) -> None:
    total, claimers = 60, 4
    add(store, *(task(f"e{i:02d}", 1, created=i) for i in range(total)))
    start = threading.Barrier(claimers)
    got: dict[str, list[tuple[str, int]]] = {}
    errors: list[BaseException] = []

    def run(owner: str) -> None:
        mine: list[tuple[str, int]] = []
        try:
            start.wait(timeout=10)
            while batch := claim(store, owner, now=0, limit=3):
                mine += keys(batch)
        except BaseException as e:  # surfaced below, not lost in the thread
            errors.append(e)
        got[owner] = mine

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    counts = Counter(k for mine in got.values() for k in mine)
    assert sorted(counts) == [(f"e{i:02d}", 1) for i in range(total)]
    assert set(counts.values()) == {1}
    for owner, mine in got.items():
        for execution_id, activity in mine:
            record = get(store, execution_id, activity)
            assert record is not None and (record.lease_owner, record.attempts) == (owner, 1)


def test_renew_leases_only_for_the_owner(store: Store) -> None:
    add(store, task("e", 1, created=0), task("e", 2, created=1))
    claim(store, "me", now=0, lease=10, limit=1)
    claim(store, "you", now=0, lease=10, limit=1)
    store.write_sync(lambda tx: tx.renew(TASKS, "me", [("e", 1), ("e", 2), ("gone", 7)], at(99)))
    mine, yours = get(store, "e", 1), get(store, "e", 2)
    assert mine is not None and (mine.lease_owner, mine.lease_until, mine.attempts) == ("me", at(99), 1)
    assert yours is not None and (yours.lease_owner, yours.lease_until) == ("you", at(10))
    store.write_sync(lambda tx: tx.renew(TASKS, "me", [], at(200)))
    assert get(store, "e", 1) == mine


def test_release_leases_frees_only_the_owners_tasks(store: Store) -> None:
    add(store, task("e", 1, created=0), task("e", 2, created=1), task("e", 3, created=2))
    claim(store, "me", now=0, limit=2)
    claim(store, "you", now=0, limit=1)
    assert store.write_sync(lambda tx: tx.release(TASKS, "me")) == 2
    assert store.write_sync(lambda tx: tx.release(TASKS, "me")) == 0
    for activity in (1, 2):
        record = get(store, "e", activity)
        assert record is not None and (record.lease_owner, record.lease_until, record.attempts) == (
            None,
            None,
            1,
        )
    assert keys(claim(store, "next", now=1)) == [("e", 1), ("e", 2)]
    held = get(store, "e", 3)
    assert held is not None and held.lease_owner == "you"


def test_expire_foreign_leases_keeps_the_callers_own(store: Store) -> None:
    add(store, *(task("e", i, created=i) for i in range(4)))
    claim(store, "me", now=0, limit=1)
    claim(store, "dead-1", now=0, limit=1)
    claim(store, "dead-2", now=0, limit=1)
    assert store.write_sync(lambda tx: tx.expire_foreign(TASKS, "me")) == 2
    owners = [r.lease_owner if (r := get(store, "e", i)) else "missing" for i in range(4)]
    assert owners == ["me", None, None, None]
    assert store.write_sync(lambda tx: tx.expire_foreign(TASKS, "me")) == 0


def test_next_lease_expiry(store: Store) -> None:
    assert store.read_sync(lambda tx: tx.next_lease_expiry()) is None
    add(store, task("e", 1, created=0), task("e", 2, created=1), task("e", 3, created=2))
    assert store.read_sync(lambda tx: tx.next_lease_expiry()) is None  # nothing leased
    claim(store, "a", now=0, lease=40, limit=1)
    claim(store, "b", now=0, lease=25, limit=1)
    assert store.read_sync(lambda tx: tx.next_lease_expiry()) == at(25)


# --- timers -------------------------------------------------------------------------------------------


def test_due_timers_in_fire_order_up_to_the_limit(store: Store) -> None:
    store.write_sync(
        lambda tx: tx.add_timers(
            [timer("e1", 1, 30), timer("e2", 1, 10), timer("e1", 2, 20), timer("e3", 1, 99)]
        )
    )
    store.write_sync(lambda tx: tx.add_timers([]))
    assert store.read_sync(lambda tx: tx.due_timers(at(30), 10)) == [
        timer("e2", 1, 10),
        timer("e1", 2, 20),
        timer("e1", 1, 30),  # due exactly at ``until``
    ]
    assert store.read_sync(lambda tx: tx.due_timers(at(30), 2)) == [timer("e2", 1, 10), timer("e1", 2, 20)]
    assert store.read_sync(lambda tx: tx.due_timers(at(9), 10)) == []


def test_next_timer_at(store: Store) -> None:
    assert store.read_sync(lambda tx: tx.next_timer_at()) is None
    store.write_sync(lambda tx: tx.add_timers([timer("e1", 1, 30), timer("e2", 1, 12.5)]))
    assert store.read_sync(lambda tx: tx.next_timer_at()) == at(12.5)


def test_delete_timer_reports_whether_it_was_there(store: Store) -> None:
    store.write_sync(lambda tx: tx.add_timers([timer("e1", 1, 1), timer("e1", 2, 2)]))
    assert store.write_sync(lambda tx: tx.delete_timer("e1", 1)) is True
    assert store.write_sync(lambda tx: tx.delete_timer("e1", 1)) is False
    assert store.read_sync(lambda tx: tx.due_timers(at(100), 10)) == [timer("e1", 2, 2)]


def test_delete_timers_many_at_once(store: Store) -> None:
    store.write_sync(lambda tx: tx.add_timers([timer("e", i, i) for i in range(6)]))
    store.write_sync(lambda tx: tx.delete_timers([("e", 0), ("e", 2), ("e", 4), ("gone", 1)]))
    store.write_sync(lambda tx: tx.delete_timers([]))
    remaining = store.read_sync(lambda tx: tx.due_timers(at(100), 10))
    assert [t.timer for t in remaining] == [1, 3, 5]


def test_a_timer_key_is_unique(store: Store) -> None:
    store.write_sync(lambda tx: tx.add_timers([timer("e", 1, 1)]))
    with pytest.raises(Exception):  # noqa: B017 - the driver's integrity error; the job is undone
        store.write_sync(lambda tx: tx.add_timers([timer("e", 2, 2), timer("e", 1, 5)]))
    assert store.read_sync(lambda tx: tx.due_timers(at(100), 10)) == [timer("e", 1, 1)]
