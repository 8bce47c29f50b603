"""Schedules: create, replace, list and delete; due ticks; the compare-and-set that fires a tick once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pytest

from fnflow.store import ScheduleRecord, Store, Tx
from tests.contract.factories import at


def schedule(
    name: str, *, flow: str = "f", next_fire: float | None = 60, enabled: bool = True, updated: float = 0
) -> ScheduleRecord:
    return ScheduleRecord(
        flow_name=flow,
        name=name,
        id=f"id-{flow}-{name}",
        cron_expression="0 * * * * *",
        time_zone="Asia/Shanghai",
        payload='{"n": 1}',
        enabled=enabled,
        description=f"schedule {name}",
        next_fire_at=None if next_fire is None else at(next_fire),
        created_at=at(0),
        updated_at=at(updated),
    )


def put(store: Store, *records: ScheduleRecord) -> list[ScheduleRecord]:
    return store.write_sync(lambda tx: [tx.put_schedule(r) for r in records])


def get(store: Store, name: str, flow: str = "f") -> ScheduleRecord | None:
    return store.read_sync(lambda tx: tx.get_schedule(flow, name))


def advance(store: Store, name: str, expected: float, next_fire: float) -> bool:
    return store.write_sync(lambda tx: tx.advance_schedule("f", name, at(expected), at(next_fire)))


def test_put_get_replace_delete(store: Store) -> None:
    record = schedule("a")
    assert put(store, record) == [record]
    assert get(store, "a") == record
    assert get(store, "a", flow="other") is None
    changed = replace(
        record,
        id="ignored",
        cron_expression="@every 5m",
        time_zone="",
        payload="{}",
        enabled=False,
        description="",
        next_fire_at=None,
        created_at=at(99),
        updated_at=at(10),
    )
    stored = put(store, changed)[0]
    assert stored == replace(changed, id=record.id, created_at=record.created_at)  # id and creation kept
    assert store.write_sync(lambda tx: tx.delete_schedule("f", "a")) is True
    assert store.write_sync(lambda tx: tx.delete_schedule("f", "a")) is False
    assert get(store, "a") is None


def test_list_by_flow_and_name_in_pages(store: Store) -> None:
    put(store, *(schedule(f"s{i}") for i in (3, 1, 2)), schedule("x", flow="g"))
    first = store.read_sync(lambda tx: tx.list_schedules("f", 2))
    assert [s.name for s in first.items] == ["s1", "s2"] and first.next_token
    rest = store.read_sync(lambda tx: tx.list_schedules("f", 2, first.next_token))
    assert [s.name for s in rest.items] == ["s3"] and rest.next_token is None
    assert store.read_sync(lambda tx: tx.list_schedules("none", 10)).items == []
    every = store.read_sync(lambda tx: tx.list_schedules(None, 3))
    assert [(s.flow_name, s.name) for s in every.items] == [("f", "s1"), ("f", "s2"), ("f", "s3")]
    last = store.read_sync(lambda tx: tx.list_schedules(None, 3, every.next_token))
    assert [(s.flow_name, s.name) for s in last.items] == [("g", "x")] and last.next_token is None


def test_delete_the_schedules_of_a_flow(store: Store) -> None:
    put(store, schedule("a"), schedule("b"), schedule("a", flow="g"))
    assert store.write_sync(lambda tx: tx.delete_flow_schedules("f")) == 2
    assert get(store, "a") is None and get(store, "b") is None
    assert get(store, "a", flow="g") is not None


def test_due_schedules_soonest_first_without_disabled_ones(store: Store) -> None:
    put(
        store,
        schedule("late", next_fire=30),
        schedule("early", next_fire=10),
        schedule("future", next_fire=500),
        schedule("off", next_fire=None, enabled=False),
        schedule("other-flow", flow="g", next_fire=20),
    )
    due = store.read_sync(lambda tx: tx.due_schedules(at(30), 10))
    assert [(s.flow_name, s.name) for s in due] == [("f", "early"), ("g", "other-flow"), ("f", "late")]
    assert [s.name for s in store.read_sync(lambda tx: tx.due_schedules(at(30), 1))] == ["early"]
    assert store.read_sync(lambda tx: tx.due_schedules(at(5), 10)) == []


def test_advance_only_from_the_expected_tick(store: Store) -> None:
    put(store, schedule("a", next_fire=60), schedule("off", next_fire=None, enabled=False))
    assert advance(store, "a", expected=60, next_fire=120) is True
    assert advance(store, "a", expected=60, next_fire=120) is False  # that tick was taken
    record = get(store, "a")
    assert record is not None and record.next_fire_at == at(120)
    assert advance(store, "off", expected=60, next_fire=120) is False  # disabled: nothing to fire
    assert advance(store, "gone", expected=60, next_fire=120) is False


def test_an_advance_rolls_back_with_its_transaction(store: Store) -> None:
    """The tick and the execution it starts commit together: if starting fails, the tick stays due."""
    put(store, schedule("a", next_fire=60))

    def fire_and_fail(tx: Tx) -> None:
        assert tx.advance_schedule("f", "a", at(60), at(120))
        raise RuntimeError("starting the execution failed")

    with pytest.raises(RuntimeError):
        store.write_sync(fire_and_fail)
    record = get(store, "a")
    assert record is not None and record.next_fire_at == at(60)


def test_racing_processes_fire_each_tick_exactly_once(store: Store, open_again: Callable[[], Store]) -> None:
    """Several stores (as several processes would) try to advance every tick at once: one wins each."""
    racers, rounds = 4, 15
    stores = [store, *(open_again() for _ in range(racers - 1))]
    put(store, schedule("a", next_fire=0))
    barrier = threading.Barrier(racers)
    wins: list[list[int]] = [[] for _ in range(racers)]
    errors: list[BaseException] = []

    def race(index: int) -> None:
        try:
            for tick in range(rounds):
                barrier.wait(timeout=30)
                if advance(stores[index], "a", expected=tick * 60, next_fire=(tick + 1) * 60):
                    wins[index].append(tick)
        except BaseException as e:  # surfaced below, not lost in the thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(t for won in wins for t in won) == list(range(rounds))
    record = get(store, "a")
    assert record is not None and record.next_fire_at == at(rounds * 60)
