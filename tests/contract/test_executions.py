"""Executions and their history."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from fnflow.errors import Conflict, InvalidArgument
from fnflow.store import ExecutionRecord, Page, Store
from tests.contract.compiled import core_statements
from tests.contract.factories import at, event, execution, insert


def names(
    store: Store,
    flow: str = "f",
    *,
    status: str | None = None,
    name_prefix: str | None = None,
    limit: int = 60,
) -> list[str]:
    page = store.read_sync(
        lambda tx: tx.list_executions(flow, status=status, name_prefix=name_prefix, limit=limit)
    )
    return [e.name for e in page.items]


def test_insert_then_get_by_name_and_by_id(store: Store) -> None:
    record = replace(execution("e1"), output=None, stopped_at=None)
    insert(store, record)
    assert store.read_sync(lambda tx: tx.get_execution("f", "e1")) == record
    assert store.read_sync(lambda tx: tx.get_execution_by_id(record.id)) == record
    assert store.write_sync(lambda tx: tx.get_execution_by_id(record.id, lock=True)) == record
    assert store.read_sync(lambda tx: tx.get_execution("f", "nope")) is None
    assert store.read_sync(lambda tx: tx.get_execution("g", "e1")) is None
    assert store.read_sync(lambda tx: tx.get_execution_by_id("nope")) is None


def test_every_field_round_trips(store: Store) -> None:
    record = ExecutionRecord(
        id="x1",
        flow_name="f",
        name="n",
        status="Failed",
        definition_hash="h" * 64,
        input='{"ü": "✓"}',
        started_at=at(1.25),
        output='"out"',
        error="E",
        cause="because",
        stopped_at=at(2.5),
        state=None,
        version=7,
        parent_id="p1",
        parent_activity=12,
        depth=3,
        callback_token="dG9rZW4=",
    )
    insert(store, record)
    assert store.read_sync(lambda tx: tx.get_execution_by_id("x1")) == record


def test_children_of_an_execution_by_status_and_by_the_attempt_that_started_them(store: Store) -> None:
    parent = execution("p", id="p")
    insert(
        store,
        parent,
        replace(execution("c1", started=1), parent_id="p", parent_activity=4, depth=1),
        replace(execution("c2", started=2, status="Succeeded"), parent_id="p", parent_activity=9, depth=1),
        replace(execution("c3", started=3), parent_id="p", parent_activity=9, depth=1),
        replace(execution("other", started=4), parent_id="q", parent_activity=4, depth=1),
    )
    names_of = lambda records: [r.name for r in records]  # noqa: E731
    assert names_of(store.read_sync(lambda tx: tx.children("p"))) == ["c1", "c2", "c3"]
    assert names_of(store.read_sync(lambda tx: tx.children("p", running=True))) == ["c1", "c3"]
    assert names_of(store.read_sync(lambda tx: tx.children("p", activity=9))) == ["c2", "c3"]
    assert names_of(store.read_sync(lambda tx: tx.children("p", running=True, activity=9))) == ["c3"]
    assert store.read_sync(lambda tx: tx.children("nobody")) == []
    found = store.read_sync(lambda tx: tx.get_executions_by_id(["p", "id-f-c1", "p", "missing"]))
    assert sorted(r.name for r in found) == ["c1", "p"]
    assert store.read_sync(lambda tx: tx.get_executions_by_id([])) == []


def test_a_status_outside_fnf_vocabulary_is_refused(store: Store) -> None:
    with pytest.raises(Exception, match=r"(?i)check constraint"):
        insert(store, execution("bad", status="Starting"))
    assert store.read_sync(lambda tx: tx.get_execution("f", "bad")) is None


def test_same_name_in_the_same_flow_is_a_conflict(store: Store) -> None:
    insert(store, execution("e1"))
    with pytest.raises(Conflict):
        insert(store, execution("e1", id="another-id"))
    insert(store, execution("e1", flow="g"))  # the same name in another flow is fine
    assert store.read_sync(lambda tx: tx.get_execution("f", "e1")) == execution("e1")


def test_trying_to_insert_a_taken_name_or_id_writes_nothing(store: Store) -> None:
    def attempt(record: ExecutionRecord) -> bool:
        return store.write_sync(lambda tx: tx.try_insert_execution(record))

    assert attempt(execution("e1")) is True
    assert attempt(replace(execution("e1", id="another-id"), input="{}")) is False  # its name is taken
    assert attempt(replace(execution("e2", id="id-f-e1"), input="{}")) is False  # its id is
    assert store.read_sync(lambda tx: tx.get_execution("f", "e1")) == execution("e1")
    assert store.read_sync(lambda tx: tx.get_execution("f", "e2")) is None


def test_list_is_newest_first_and_per_flow(store: Store) -> None:
    insert(store, *(execution(f"e{i}", started=i) for i in (3, 1, 2)), execution("x", flow="g", started=9))
    assert names(store) == ["e3", "e2", "e1"]
    assert names(store, "g") == ["x"]
    assert names(store, "h") == []


def test_list_filters_by_status_and_name_prefix(store: Store) -> None:
    insert(
        store,
        execution("job-1", status="Succeeded", started=1),
        execution("job-2", status="Running", started=2),
        execution("JOB-3", status="Succeeded", started=3),
        execution("a_b", status="Failed", started=4),
        execution("axb", status="Failed", started=5),
        execution("50%", status="Failed", started=6),
        execution("500", status="Failed", started=7),
    )
    assert names(store, status="Succeeded") == ["JOB-3", "job-1"]
    assert names(store, name_prefix="job") == ["job-2", "job-1"]  # case-sensitive, as names are
    assert names(store, name_prefix="job", status="Succeeded") == ["job-1"]
    assert names(store, name_prefix="a_") == ["a_b"]  # LIKE wildcards are literal
    assert names(store, name_prefix="50%") == ["50%"]
    assert names(store, name_prefix="zzz") == []
    assert names(store, status="TimedOut") == []


def page_through(store: Store, limit: int, *, status: str | None = None) -> tuple[list[str], int]:
    def fetch(token: str | None) -> Page:
        return store.read_sync(lambda tx: tx.list_executions("f", status=status, limit=limit, token=token))

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = fetch(token)
        seen += [e.name for e in page.items]
        pages += 1
        token = page.next_token
        if token is None:
            return seen, pages


def test_paging_is_stable_when_many_share_a_start_time(store: Store) -> None:
    tied = [execution(f"t{i:02d}", started=5, id=f"id-{i:02d}") for i in range(23)]
    insert(
        store, execution("newest", started=9, id="id-zz"), *tied, execution("oldest", started=1, id="id-aa")
    )
    expected = names(store, limit=100)
    assert expected[0] == "newest" and expected[-1] == "oldest"
    for limit in (1, 4, 7, 25, 26):
        seen, pages = page_through(store, limit)
        assert seen == expected, limit
        assert pages == -(-25 // limit)


def test_paging_keeps_the_filters(store: Store) -> None:
    insert(
        store, *(execution(f"e{i}", started=i, status="Failed" if i % 2 else "Succeeded") for i in range(9))
    )
    seen, _ = page_through(store, 2, status="Failed")
    assert seen == ["e7", "e5", "e3", "e1"]


def test_paging_handles_fractional_start_times(store: Store) -> None:
    insert(store, *(execution(f"e{i}", started=i / 7, id=f"id-{i}") for i in range(10)))
    seen, _ = page_through(store, 3)
    assert seen == [f"e{i}" for i in reversed(range(10))]


def forged(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode()


@pytest.mark.parametrize(
    "token",
    ["%%%", "not a token", forged("x", "y"), forged("12")],
    ids=["garbage", "words", "forged-not-a-time", "forged-one-part"],
)
def test_list_rejects_a_bad_token(store: Store, token: str) -> None:
    insert(store, execution("e1"))
    with pytest.raises(InvalidArgument):
        store.read_sync(lambda tx: tx.list_executions("f", token=token))


def test_update_execution_writes_every_column_and_bumps_version(store: Store) -> None:
    insert(store, execution("e1"), execution("e2"))
    store.write_sync(
        lambda tx: tx.update_execution("id-f-e1", status="Running", state='{"step": "b"}', output='{"x": 1}')
    )
    mid = store.read_sync(lambda tx: tx.get_execution_by_id("id-f-e1"))
    assert mid is not None
    assert (mid.status, mid.state, mid.output, mid.version) == ("Running", '{"step": "b"}', '{"x": 1}', 2)
    store.write_sync(
        lambda tx: tx.update_execution(
            "id-f-e1", status="Failed", state=None, error="E", cause="C", stopped_at=at(30)
        )
    )
    done = store.read_sync(lambda tx: tx.get_execution_by_id("id-f-e1"))
    assert done == replace(
        execution("e1"),
        status="Failed",
        state=None,
        output=None,
        error="E",
        cause="C",
        stopped_at=at(30),
        version=3,
    )
    assert store.read_sync(lambda tx: tx.get_execution_by_id("id-f-e2")) == execution("e2")


def test_update_execution_at_a_version_writes_only_while_the_row_has_it(store: Store) -> None:
    insert(store, execution("e1"))  # version 1

    def update(version: int, state: str) -> bool:
        return store.write_sync(
            lambda tx: tx.update_execution("id-f-e1", status="Running", state=state, version=version)
        )

    assert update(1, '{"step": "b"}') is True
    assert update(1, '{"step": "stale"}') is False  # the row moved on to version 2
    row = store.read_sync(lambda tx: tx.get_execution_by_id("id-f-e1"))
    assert row is not None and (row.state, row.version) == ('{"step": "b"}', 2)
    assert update(2, '{"step": "c"}') is True


def test_running_execution_ids(store: Store) -> None:
    insert(
        store,
        execution("a", status="Running"),
        execution("b", status="Succeeded"),
        execution("c", flow="g", status="Running"),
        execution("d", status="Stopped"),
    )
    assert sorted(store.read_sync(lambda tx: tx.running_execution_ids())) == ["id-f-a", "id-g-c"]


# --- history ------------------------------------------------------------------------------------------


def test_history_is_in_event_order_and_per_execution(store: Store) -> None:
    store.write_sync(lambda tx: tx.append_history("e1", [event(3), event(1), event(2, type="StepSucceeded")]))
    store.write_sync(lambda tx: tx.append_history("e2", [event(1, step="other")]))
    store.write_sync(lambda tx: tx.append_history("e1", []))
    page = store.read_sync(lambda tx: tx.history("e1"))
    assert page.items == [event(1), event(2, type="StepSucceeded"), event(3)]
    assert page.next_token is None
    assert store.read_sync(lambda tx: tx.history("e2")).items == [event(1, step="other")]
    assert store.read_sync(lambda tx: tx.history("none")).items == []


def test_history_appends_many_and_pages_by_token(store: Store) -> None:
    store.write_sync(lambda tx: tx.append_history("e1", [event(i) for i in range(1, 151)]))
    store.write_sync(lambda tx: tx.append_history("e1", [event(i) for i in range(151, 251)]))

    def fetch(token: str | None) -> Page:
        return store.read_sync(lambda tx: tx.history("e1", limit=64, token=token))

    seen: list[int] = []
    token: str | None = None
    pages = 0
    while True:
        page = fetch(token)
        seen += [e.event_id for e in page.items]
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert seen == list(range(1, 251))
    assert pages == 4
    exact = store.read_sync(lambda tx: tx.history("e1", limit=250))
    assert len(exact.items) == 250 and exact.next_token is None
    with core_statements() as built:  # a page is a statement compiled once
        fetch(None)
    assert built == []


def test_history_event_ids_are_unique_per_execution(store: Store) -> None:
    store.write_sync(lambda tx: tx.append_history("e1", [event(1)]))
    with pytest.raises(Exception):  # noqa: B017 - the driver's integrity error; the job is undone
        store.write_sync(lambda tx: tx.append_history("e1", [event(2), event(1)]))
    assert [e.event_id for e in store.read_sync(lambda tx: tx.history("e1")).items] == [1]


@pytest.mark.parametrize(
    "token",
    ["%%%", "not a token", forged("x"), forged("1", "2")],
    ids=["garbage", "words", "forged-not-a-number", "forged-two-parts"],
)
def test_history_rejects_a_bad_token(store: Store, token: str) -> None:
    with pytest.raises(InvalidArgument):
        store.read_sync(lambda tx: tx.history("e1", token=token))


def test_list_executions_between_start_times(store: Store) -> None:
    insert(store, *(execution(f"e{i}", started=i * 10) for i in range(5)))

    def between(start: float | None, end: float | None) -> list[str]:
        page = store.read_sync(
            lambda tx: tx.list_executions(
                "f",
                started_from=None if start is None else at(start),
                started_until=None if end is None else at(end),
            )
        )
        return [e.name for e in page.items]

    assert between(10, 30) == ["e3", "e2", "e1"]  # both bounds included, newest first
    assert between(25, None) == ["e4", "e3"]
    assert between(None, 5) == ["e0"]
    assert between(31, 39) == []


def test_finished_executions_are_purged_after_their_retention_with_their_history(store: Store) -> None:
    def ended(name: str, status: str, when: float) -> ExecutionRecord:
        return replace(execution(name, status=status), stopped_at=at(when), state=None)

    insert(
        store,
        ended("succeeded", "Succeeded", 10),
        ended("failed", "Failed", 20),
        ended("timed-out", "TimedOut", 30),
        ended("stopped", "Stopped", 40),
        ended("recent", "Succeeded", 150),
        execution("running", started=1),
    )
    for name in ("succeeded", "recent"):
        store.write_sync(lambda tx, n=name: tx.append_history(f"id-f-{n}", [event(1), event(2)]))
    assert store.write_sync(lambda tx: tx.purge_finished_executions(at(100), 3)) == 3, "at most the limit"
    assert store.write_sync(lambda tx: tx.purge_finished_executions(at(100), 10)) == 1
    assert store.write_sync(lambda tx: tx.purge_finished_executions(at(100), 10)) == 0
    assert sorted(names(store)) == ["recent", "running"]
    assert store.read_sync(lambda tx: tx.history("id-f-succeeded")).items == []
    assert len(store.read_sync(lambda tx: tx.history("id-f-recent")).items) == 2
    insert(store, execution("succeeded", id="again"))  # the name is free again
