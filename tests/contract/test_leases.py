"""One lease primitive for every kind of leased work: the same claim, renew, release and takeover
rules hold for tasks, asynchronous calls, deliveries and queue messages (and every kind added later).
Messages are never released or taken over by fnflow's processes (receivers hold them), but the
primitive's rules are the same for them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fnflow.store import Store, Tx
from fnflow.store.leases import CALLS, DELIVERIES, MESSAGES, TASKS, Key, Lease
from tests.contract.compiled import core_statements
from tests.contract.factories import at, task
from tests.contract.test_calls import call, delivery
from tests.contract.test_queues import message, queue


@dataclass(frozen=True)
class Kind:
    lease: Lease
    add: Callable[[Tx, int], list[Key]]  # n claimable rows, oldest first; their keys
    holder: Callable[[Tx, Key], tuple[str | None, float | None]]  # (lease_owner, lease_until)


def _task_holder(tx: Tx, key: Key) -> tuple[str | None, float | None]:
    record = tx.get_task(*key)
    assert record is not None
    return record.lease_owner, record.lease_until.timestamp() if record.lease_until else None


def _call_holder(tx: Tx, key: Key) -> tuple[str | None, float | None]:
    record = tx.get_call(key)
    assert record is not None
    return record.lease_owner, record.lease_until.timestamp() if record.lease_until else None


def _delivery_holder(tx: Tx, key: Key) -> tuple[str | None, float | None]:
    [record] = [d for d in tx.deliveries_of("c") if d.id == key]
    return record.lease_owner, record.lease_until.timestamp() if record.lease_until else None


def _message_holder(tx: Tx, key: Key) -> tuple[str | None, float | None]:
    record = tx.get_message(*key)
    assert record is not None
    return record.lease_owner, record.lease_until.timestamp() if record.lease_until else None


def _add_messages(tx: Tx, n: int) -> list[Key]:
    tx.put_queue(queue())
    tx.send_messages([message(f"m{i:02d}", sent=i) for i in range(n)])
    return [("q", f"m{i:02d}") for i in range(n)]


def _add_tasks(tx: Tx, n: int) -> list[Key]:
    tx.add_tasks([task("e", i, created=i) for i in range(n)])
    return [("e", i) for i in range(n)]


def _add_calls(tx: Tx, n: int) -> list[Key]:
    tx.insert_calls([call(f"c{i:02d}", run=i) for i in range(n)])
    return [f"c{i:02d}" for i in range(n)]


def _add_deliveries(tx: Tx, n: int) -> list[Key]:
    return tx.add_deliveries([delivery("c", run=i) for i in range(n)])


KINDS = {
    "tasks": Kind(TASKS, _add_tasks, _task_holder),
    "calls": Kind(CALLS, _add_calls, _call_holder),
    "deliveries": Kind(DELIVERIES, _add_deliveries, _delivery_holder),
    "messages": Kind(MESSAGES, _add_messages, _message_holder),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


def holders(store: Store, kind: Kind, keys: list[Key]) -> list[tuple[str | None, Any]]:
    return store.read_sync(lambda tx: [kind.holder(tx, k) for k in keys])


def claimed(store: Store, kind: Kind, owner: str, now: float, until: float, limit: int) -> list[Key]:
    """The keys of the rows a claim returned, in the order it returned them."""
    rows = store.write_sync(lambda tx: tx.claim(kind.lease, owner, at(now), at(until), limit))
    return [kind.lease.key_of(row) for row in rows]


def test_claim_takes_free_rows_oldest_first_up_to_the_limit(store: Store, kind: Kind) -> None:
    keys = store.write_sync(lambda tx: kind.add(tx, 5))
    assert claimed(store, kind, "me", 10, 70, 2) == keys[:2]
    assert claimed(store, kind, "you", 10, 70, 10) == keys[2:]
    assert claimed(store, kind, "late", 10, 70, 10) == []
    assert holders(store, kind, keys) == [("me", at(70).timestamp())] * 2 + [("you", at(70).timestamp())] * 3
    # Once a lease has run out, the row is anybody's again.
    assert claimed(store, kind, "next", 71, 130, 10) == keys


def test_a_claim_takes_its_rows_in_one_statement_when_no_holder_died(store: Store, kind: Kind) -> None:
    """Claiming is one UPDATE whose subquery chooses the rows (and, for a lease whose holders can
    die mid-work, a look for such rows first) however many rows it takes: choosing the keys and
    binding each of them into the UPDATE cost a claim of 500 calls 5-10 ms of the event loop."""
    store.write_sync(lambda tx: kind.add(tx, 30))
    with core_statements() as ran:
        assert len(claimed(store, kind, "me", 100, 170, 25)) == 25
    assert len(ran) == (2 if kind.lease.lapsed is not None else 1)


def test_claim_returns_the_claimed_rows_whole_as_the_claim_left_them(store: Store, kind: Kind) -> None:
    keys = store.write_sync(lambda tx: kind.add(tx, 3))
    rows = store.write_sync(lambda tx: tx.claim(kind.lease, "me", at(10), at(70), 2))
    assert [kind.lease.key_of(row) for row in rows] == keys[:2]
    assert {(row.lease_owner, row.lease_until) for row in rows} == {("me", at(70).timestamp())}
    assert holders(store, kind, keys) == [("me", at(70).timestamp())] * 2 + [(None, None)]


def test_only_the_holder_renews_and_releases(store: Store, kind: Kind) -> None:
    keys = store.write_sync(lambda tx: kind.add(tx, 3))
    claimed(store, kind, "me", 5, 10, 2)
    claimed(store, kind, "you", 5, 10, 1)
    store.write_sync(lambda tx: tx.renew(kind.lease, "me", keys, at(99)))
    store.write_sync(lambda tx: tx.renew(kind.lease, "me", [], at(500)))
    expected = [("me", at(99).timestamp()), ("me", at(99).timestamp()), ("you", at(10).timestamp())]
    assert holders(store, kind, keys) == expected
    assert store.write_sync(lambda tx: tx.release(kind.lease, "me", keys[:1])) == 1
    assert store.write_sync(lambda tx: tx.release(kind.lease, "me")) == 1
    assert store.write_sync(lambda tx: tx.release(kind.lease, "me")) == 0
    assert holders(store, kind, keys) == [(None, None), (None, None), ("you", at(10).timestamp())]


def test_recovery_frees_every_lease_but_the_callers(store: Store, kind: Kind) -> None:
    keys = store.write_sync(lambda tx: kind.add(tx, 3))
    for owner in ("me", "dead-1", "dead-2"):
        claimed(store, kind, owner, 5, 1000, 1)
    assert store.write_sync(lambda tx: tx.expire_foreign(kind.lease, "me")) == 2
    assert [owner for owner, _ in holders(store, kind, keys)] == ["me", None, None]
    assert store.write_sync(lambda tx: tx.expire_foreign(kind.lease, "me")) == 0
