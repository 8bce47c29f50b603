"""A decision's writes as one unit (``Tx.write_decision``): all of them, or — when the task it
settles is gone, or the row it was decided on has moved on — none beyond what the contract says.
On PostgreSQL they are one statement; these tests hold both backends to the same outcome."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest

from fnflow.store import DecisionWrite, ExecutionRecord, Store, Tx, Written
from fnflow.store.queries.decisions import ONE_STATEMENT_ROWS
from tests.contract.factories import at, event, execution, insert, task, timer

E1 = "id-f-e1"


def decided(record: ExecutionRecord, **changes: object) -> ExecutionRecord:
    """The row as a decision leaves it (``Running`` at a new state unless told otherwise)."""
    return replace(record, **{"state": '{"step": "b"}', **changes})  # type: ignore[arg-type]


def seeded(store: Store) -> None:
    """e1 at version 1 waiting for task 1, timer 1 armed; e2 with a task and timer of the same numbers."""
    insert(store, execution("e1"), execution("e2"))

    def job(tx: Tx) -> None:
        tx.add_tasks([task(E1, 1), task("id-f-e2", 1)])
        tx.add_timers([timer(E1, 1, 60), timer("id-f-e2", 1, 60)])

    store.write_sync(job)


def write(store: Store, w: DecisionWrite) -> Written:
    return store.write_sync(lambda tx: tx.write_decision(w))


def snapshot(store: Store, execution_id: str = E1) -> tuple[object, ...]:
    def read(tx: Tx) -> tuple[object, ...]:
        return (
            tx.get_execution_by_id(execution_id),
            tx.history(execution_id).items,
            [tx.get_task(execution_id, activity) for activity in (1, 2, 3)],
            sorted((t.execution_id, t.timer) for t in tx.due_timers(at(3600), 100)),
        )

    return store.read_sync(read)


def test_a_decision_is_written_whole(store: Store) -> None:
    seeded(store)
    new_tasks = [task(E1, 2), task(E1, 3, owner="node-a", lease_until=90)]  # NULLs and values alike
    written = write(
        store,
        DecisionWrite(
            decided(execution("e1"), output='{"x": 1}'),
            version=1,
            settles=1,
            history=[event(1), event(2, type="TaskScheduled")],
            tasks=new_tasks,
            timers=[timer(E1, 2, 30)],
            cancelled_timers=[1],
        ),
    )
    assert written == Written(settled=True, stored=True)
    row, history, tasks, timers = snapshot(store)
    assert row == decided(execution("e1"), output='{"x": 1}', version=2)
    assert history == [event(1), event(2, type="TaskScheduled")]
    assert tasks == [None, *new_tasks]
    assert timers == [(E1, 2), ("id-f-e2", 1)]
    assert store.read_sync(lambda tx: tx.get_task("id-f-e2", 1)) is not None  # another execution's


def test_an_ending_decision_writes_its_end_and_cancels_its_work(store: Store) -> None:
    seeded(store)
    store.write_sync(lambda tx: tx.add_tasks([task(E1, 2)]))
    ended = decided(execution("e1"), status="Failed", state=None, error="E", cause="C", stopped_at=at(9))
    w = DecisionWrite(ended, settles=2, history=[event(5)], cancelled_tasks=[1], cancelled_timers=[1])
    assert write(store, w) == Written(True, True)
    row, history, tasks, timers = snapshot(store)
    assert row == replace(ended, version=2)
    assert (history, tasks, timers) == ([event(5)], [None, None, None], [("id-f-e2", 1)])


@pytest.mark.parametrize("branches", [ONE_STATEMENT_ROWS // 3, 5_000])
def test_a_decision_starting_many_branches_is_written_whole(store: Store, branches: int) -> None:
    """A Map step fanning out: as one statement when small, in chunks past any statement's limits
    (5,000 tasks and 10,000 events: 110,000 parameters, where one statement has at most 65,535)."""
    seeded(store)
    started = [task(E1, 2 + n) for n in range(branches)]
    events = [event(n) for n in range(1, 2 * branches + 1)]
    w = DecisionWrite(decided(execution("e1")), version=1, settles=1, history=events, tasks=started)
    assert write(store, w) == Written(True, True)

    def read(tx: Tx) -> tuple[int, int]:
        stored = sum(tx.get_task(E1, t.activity) == t for t in started)
        return len(tx.history(E1, limit=100_000).items), stored

    assert store.read_sync(read) == (2 * branches, branches)


def test_a_stale_result_writes_nothing(store: Store) -> None:
    seeded(store)
    before = snapshot(store)
    w = DecisionWrite(decided(execution("e1")), version=1, settles=7, history=[event(1)], tasks=[task(E1, 2)])
    assert write(store, w) == Written(settled=False, stored=False)
    assert snapshot(store) == before


def test_a_row_that_moved_on_keeps_everything_but_the_settled_task(store: Store) -> None:
    seeded(store)
    _, _, tasks, timers = snapshot(store)
    w = DecisionWrite(
        decided(execution("e1")),
        version=5,  # the row is at 1
        settles=1,
        history=[event(1)],
        tasks=[task(E1, 2)],
        timers=[timer(E1, 2, 30)],
        cancelled_timers=[1],
    )
    assert write(store, w) == Written(settled=True, stored=False)
    assert snapshot(store) == (execution("e1"), [], [None, None, None], timers)
    assert tasks[0] is not None


def test_a_new_execution_is_inserted_with_its_work_unless_its_name_is_taken(store: Store) -> None:
    record = execution("e1")
    w = DecisionWrite(record, new=True, history=[event(1), event(2)], tasks=[task(E1, 1)])
    assert write(store, w) == Written(True, True)
    first = snapshot(store)
    assert first == (record, [event(1), event(2)], [task(E1, 1), None, None], [])
    again = DecisionWrite(
        replace(record, id="id-other"), new=True, history=[event(1)], tasks=[task("id-other", 1)]
    )
    assert write(store, again) == Written(True, False)
    assert snapshot(store) == first
    assert snapshot(store, "id-other") == (None, [], [None, None, None], [])


def test_a_new_execution_decided_on_a_flow_read_before_is_inserted_only_while_the_flow_is_that_one(
    store: Store,
) -> None:
    flow = store.write_sync(lambda tx: tx.put_flow("f", "", "text 1", "h1", at(0)))
    read = (flow.name, flow.id, flow.revision)
    record = execution("e1")
    w = DecisionWrite(record, new=True, flow=read, history=[event(1)], tasks=[task(E1, 1)])
    store.write_sync(lambda tx: tx.put_flow("f", "", "text 2", "h2", at(1)))  # a new revision
    assert write(store, w) == Written(True, False, current=False)
    assert snapshot(store) == (None, [], [None, None, None], [])
    now = store.read_sync(lambda tx: tx.get_flow("f"))
    assert now is not None
    current = replace(w, flow=(now.name, now.id, now.revision))
    assert write(store, current) == Written(True, True, current=True)
    assert snapshot(store) == (record, [event(1)], [task(E1, 1), None, None], [])


def test_what_a_statement_of_its_own_refuses_the_decision_refuses_too(store: Store) -> None:
    """A value too long for its column: the same outcome (refused, or kept whole) on both paths —
    never cut short."""
    seeded(store)
    long_step = replace(event(1), step="s" * 300)

    def alone(tx: Tx) -> None:
        tx.append_history("id-f-e2", [long_step])

    def together(tx: Tx) -> Written:
        return tx.write_decision(DecisionWrite(decided(execution("e1")), version=1, history=[long_step]))

    try:
        store.write_sync(alone)
    except Exception:  # the backend's own error: what matters is that both paths refuse
        with pytest.raises(Exception):  # noqa: B017
            store.write_sync(together)
        assert snapshot(store)[:2] == (execution("e1"), [])
    else:
        assert store.write_sync(together) == Written(True, True)
        assert snapshot(store)[1] == [long_step]


def test_notices_go_out_only_with_the_row(store: Store, open_again: Callable[[], Store]) -> None:
    other = open_again()
    channel = f"fnflow_test_{uuid.uuid4().hex[:12]}"
    seeded(store)

    async def main() -> list[tuple[str, str]]:
        inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        stop = store.listen([channel], lambda c, p: inbox.put_nowait((c, p)))
        row = decided(execution("e1"))
        moved_on = DecisionWrite(row, version=9, notices=[(channel, "moved on")])
        stored = DecisionWrite(row, version=1, notices=[(channel, "stored"), (channel, "twice")])
        assert await other.write(lambda tx: tx.write_decision(moved_on)) == Written(True, False)
        assert await other.write(lambda tx: tx.write_decision(stored)) == Written(True, True)
        got = []
        if store.shared:
            got = [await asyncio.wait_for(inbox.get(), 5) for _ in range(2)]
        await asyncio.sleep(0.2)
        stop()
        return got + [inbox.get_nowait() for _ in range(inbox.qsize())]

    got = asyncio.run(main())
    assert got == ([(channel, "stored"), (channel, "twice")] if store.shared else [])


def test_decisions_sent_together_come_out_as_each_written_alone(store: Store) -> None:
    """``Tx.send_decisions`` (one round trip on PostgreSQL, nothing on SQLite) then
    ``write_decision`` of each: every outcome, and every row, as if each were written alone."""
    seeded(store)
    stored = DecisionWrite(decided(execution("e1")), version=1, settles=1, history=[event(1)])
    stale = DecisionWrite(decided(execution("e2")), version=1, settles=7, history=[event(1)])
    moved_on = DecisionWrite(decided(execution("e2")), version=5, settles=1, tasks=[task("id-f-e2", 2)])
    new = DecisionWrite(execution("e3"), new=True, history=[event(1)], tasks=[task("id-f-e3", 1)])
    writes = [stored, stale, moved_on, new]

    def job(tx: Tx) -> list[Written]:
        tx.send_decisions(writes)
        return [tx.write_decision(w) for w in writes]

    assert store.write_sync(job) == [
        Written(settled=True, stored=True),
        Written(settled=False, stored=False),
        Written(settled=True, stored=False),
        Written(settled=True, stored=True),
    ]
    assert snapshot(store)[:3] == (decided(execution("e1"), version=2), [event(1)], [None, None, None])
    assert snapshot(store, "id-f-e2")[:3] == (execution("e2"), [], [None, None, None])
    assert snapshot(store, "id-f-e3")[:3] == (execution("e3"), [event(1)], [task("id-f-e3", 1), None, None])


def test_decisions_sent_together_of_which_one_is_refused_write_nothing(store: Store) -> None:
    """What one write's statement refuses (a value too long for its column, where the backend
    refuses it) fails the whole transaction, sent together or not."""
    seeded(store)
    long_step = replace(event(1), step="s" * 300)
    ok = DecisionWrite(decided(execution("e2")), version=1, history=[event(1)])
    long = DecisionWrite(decided(execution("e1")), version=1, history=[long_step])

    def job(tx: Tx) -> list[Written]:
        tx.send_decisions([ok, long])
        return [tx.write_decision(w) for w in (ok, long)]

    class Refused(Exception):
        """The backend kept the long value (rolled back here)."""

    def alone(tx: Tx) -> None:
        tx.append_history("id-f-e2", [long_step])
        raise Refused

    before = snapshot(store), snapshot(store, "id-f-e2")
    try:
        store.write_sync(alone)
    except Refused:  # SQLite keeps long text: both are written
        assert store.write_sync(job) == [Written(True, True), Written(True, True)]
    except Exception:
        with pytest.raises(Exception):  # noqa: B017 - the backend's own error
            store.write_sync(job)
        assert (snapshot(store), snapshot(store, "id-f-e2")) == before
