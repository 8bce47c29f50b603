"""Function logs: appended in batches, read by function oldest first, pruned by age and size."""

from __future__ import annotations

from fnflow.store import LogRecord, Store
from tests.contract.factories import at


def line(
    text: str, when: float = 0, *, function: str = "fn", call: str = "c1", instance: str = "w1"
) -> LogRecord:
    return LogRecord("svc", function, call, instance, "stdout", at(when), text)


def texts(records: list[LogRecord]) -> list[str]:
    return [r.text for r in records]


def test_lines_come_back_oldest_first_filtered_and_tailed(store: Store) -> None:
    store.write_sync(
        lambda tx: tx.add_function_logs(
            [
                line("one", 0),
                line("two", 1, call="c2", instance="w2"),
                line("other", 1, function="other"),
                line("three", 2),
            ]
        )
    )
    store.write_sync(lambda tx: tx.add_function_logs([]))
    read = store.read_sync(lambda tx: tx.function_logs("svc", "fn"))
    assert texts(read) == ["one", "two", "three"]
    first = read[0]
    assert (first.service, first.call_id, first.instance, first.stream, first.time) == (
        "svc",
        "c1",
        "w1",
        "stdout",
        at(0),
    )
    assert first.id is not None and read[2].id is not None and first.id < read[2].id
    assert texts(store.read_sync(lambda tx: tx.function_logs("svc", "fn", since=at(1)))) == ["two", "three"]
    assert texts(store.read_sync(lambda tx: tx.function_logs("svc", "fn", tail=2))) == ["two", "three"]
    assert texts(store.read_sync(lambda tx: tx.function_logs("svc", "fn", call_id="c2"))) == ["two"]
    assert texts(store.read_sync(lambda tx: tx.function_logs("svc", "fn", instance="w1"))) == ["one", "three"]
    assert store.read_sync(lambda tx: tx.function_logs("svc", "nope")) == []


def test_prune_drops_old_lines_and_the_oldest_beyond_the_size_budget(store: Store) -> None:
    store.write_sync(
        lambda tx: tx.add_function_logs(
            [line("old", 0), *(line(f"line{n}", 10 + n) for n in range(5)), line("aged", 0, function="other")]
        )
    )
    removed = store.write_sync(lambda tx: tx.prune_function_logs(at(5), 12, [("svc", "fn")]))
    assert removed == 2 + 3  # two by age; then the 5-character lines beyond the newest 12 characters
    assert texts(store.read_sync(lambda tx: tx.function_logs("svc", "fn"))) == ["line3", "line4"]
    assert texts(store.read_sync(lambda tx: tx.function_logs("svc", "other"))) == [], "older than at(5)"
    store.write_sync(lambda tx: tx.add_function_logs([line("x", 20, function="other")]))
    assert store.write_sync(lambda tx: tx.delete_function_logs("svc", "fn")) == 2
    assert texts(store.read_sync(lambda tx: tx.function_logs("svc", "other"))) == ["x"]
