"""Function triggers (put, list, delete, due timers and their compare-and-set) and stack records."""

from __future__ import annotations

from dataclasses import replace

from fnflow.store import StackRecord, Store, TriggerRecord
from tests.contract.factories import at


def trigger(
    name: str, *, kind: str = "timer", next_fire: float | None = 60, function: str = "f"
) -> TriggerRecord:
    config: dict[str, object] = (
        {"cronExpression": "@every 1m", "payload": "p", "enable": True}
        if kind == "timer"
        else {"authType": "ANONYMOUS", "methods": ["GET", "POST"]}
    )
    return TriggerRecord(
        service="s",
        function=function,
        name=name,
        kind=kind,
        config=config,
        created_at=at(0),
        updated_at=at(0),
        next_fire_at=None if next_fire is None else at(next_fire),
    )


def test_put_get_replace_list_delete_triggers(store: Store) -> None:
    timer, http = trigger("t"), trigger("h", kind="http", next_fire=None)
    assert store.write_sync(lambda tx: [tx.put_trigger(timer), tx.put_trigger(http)]) == [timer, http]
    assert store.read_sync(lambda tx: tx.get_trigger("s", "f", "t")) == timer
    assert store.read_sync(lambda tx: tx.get_trigger("s", "other", "t")) is None
    assert store.read_sync(lambda tx: tx.list_triggers("s", "f")) == [http, timer]

    changed = replace(timer, config={"cronExpression": "@every 2m"}, created_at=at(50), updated_at=at(9))
    stored = store.write_sync(lambda tx: tx.put_trigger(changed))
    assert stored == replace(changed, created_at=at(0))  # a replaced trigger keeps its creation time

    assert store.write_sync(lambda tx: tx.delete_trigger("s", "f", "h"))
    assert not store.write_sync(lambda tx: tx.delete_trigger("s", "f", "h"))
    store.write_sync(lambda tx: tx.put_trigger(trigger("other", function="g")))
    assert store.write_sync(lambda tx: tx.delete_function_triggers("s", "f")) == 1
    assert store.read_sync(lambda tx: tx.list_triggers("s", "f")) == []
    assert [t.name for t in store.read_sync(lambda tx: tx.list_triggers("s", "g"))] == ["other"]


def test_due_timers_fire_once_each_tick(store: Store) -> None:
    store.write_sync(
        lambda tx: [
            tx.put_trigger(trigger("late", next_fire=120)),
            tx.put_trigger(trigger("soon", next_fire=60)),
            tx.put_trigger(trigger("off", next_fire=None)),
            tx.put_trigger(trigger("web", kind="http", next_fire=None)),
        ]
    )
    due = store.read_sync(lambda tx: tx.due_triggers(at(120), 10))
    assert [t.name for t in due] == ["soon", "late"]
    assert [t.name for t in store.read_sync(lambda tx: tx.due_triggers(at(90), 10))] == ["soon"]
    assert [t.name for t in store.read_sync(lambda tx: tx.due_triggers(at(120), 1))] == ["soon"]

    assert store.write_sync(lambda tx: tx.advance_trigger("s", "f", "soon", at(60), at(180)))
    assert not store.write_sync(lambda tx: tx.advance_trigger("s", "f", "soon", at(60), at(180)))  # fired
    assert store.read_sync(lambda tx: tx.get_trigger("s", "f", "soon")).next_fire_at == at(180)  # type: ignore[union-attr]


def test_stack_records(store: Store) -> None:
    record = StackRecord(
        name="app",
        description="an app",
        resources=[{"kind": "function", "name": "s/f", "logicalId": "SF"}],
        created_at=at(0),
        updated_at=at(0),
    )
    assert store.write_sync(lambda tx: tx.put_stack(record)) == record
    newer = replace(record, resources=[], description="", created_at=at(5), updated_at=at(7))
    assert store.write_sync(lambda tx: tx.put_stack(newer)) == replace(newer, created_at=at(0))
    other = replace(record, name="another")
    store.write_sync(lambda tx: tx.put_stack(other))
    assert [s.name for s in store.read_sync(lambda tx: tx.list_stacks())] == ["another", "app"]
    assert store.read_sync(lambda tx: tx.get_stack("nope")) is None
    assert store.write_sync(lambda tx: tx.delete_stack("app"))
    assert not store.write_sync(lambda tx: tx.delete_stack("app"))
    assert store.read_sync(lambda tx: tx.get_stack("app")) is None
