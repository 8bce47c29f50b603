"""Asynchronous calls, their deliveries, and request bins."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import replace

import pytest

from fnflow.store import BinRequest, CallRecord, DeliveryRecord, Store, Tx
from fnflow.store.leases import CALLS, DELIVERIES
from tests.contract.compiled import core_statements
from tests.contract.factories import at


def call(
    call_id: str,
    *,
    function: str = "f",
    service: str = "default",
    status: str = "Enqueued",
    created: float = 0,
    run: float | None = None,
    owner: str | None = None,
    lease_until: float | None = None,
    queue: str = "",
) -> CallRecord:
    return CallRecord(
        id=call_id,
        service=service,
        function=function,
        status=status,
        method="POST",
        path="/x",
        query="a=1",
        headers=json.dumps([["X-Call-Id", call_id]]),
        body=b"body-" + call_id.encode(),
        created_at=at(created),
        run_at=at(created if run is None else run),
        expires_at=at(created + 3600),
        max_attempts=4,
        queue=queue,
        callback_url="http://127.0.0.1:1/cb",
        lease_owner=owner,
        lease_until=None if lease_until is None else at(lease_until),
    )


def insert(store: Store, *records: CallRecord) -> list[CallRecord]:
    """The calls that were new."""
    return [record for record, new in store.write_sync(lambda tx: tx.insert_calls(records)) if new]


def get(store: Store, call_id: str) -> CallRecord:
    record = store.read_sync(lambda tx: tx.get_call(call_id))
    assert record is not None
    return record


def test_the_same_call_id_for_another_function_gets_a_fresh_id(store: Store) -> None:
    insert(store, call("c1", function="f"))
    [(stored, new)] = store.write_sync(lambda tx: tx.insert_calls([call("c1", function="g")]))
    assert new and stored.id != "c1" and stored.function == "g"
    assert get(store, stored.id).body == b"body-c1" and get(store, "c1").function == "f"
    [(same, new)] = store.write_sync(lambda tx: tx.insert_calls([call("c1", function="f")]))
    assert (same.id, new) == ("c1", False)
    # in one batch: the first of an id is stored under it, a repeat for another function is not
    batch = [call("c9", function="f"), call("c9", function="g"), call("c9", function="f")]
    stored_f, stored_g, repeat = store.write_sync(lambda tx: tx.insert_calls(batch))
    assert stored_f == (batch[0], True) and repeat == (batch[2], False)
    assert stored_g[1] and stored_g[0].id not in {"c9", stored.id} and stored_g[0].function == "g"
    assert get(store, "c9").function == "f" and get(store, stored_g[0].id).function == "g"


def test_insert_is_idempotent_by_call_id(store: Store) -> None:
    first = call("c1")
    assert insert(store, first, call("c2")) == [first, call("c2")]
    again = replace(first, body=b"other")
    assert insert(store, again, call("c3"), call("c3")) == [call("c3")]
    with core_statements() as built:  # a call's status, read by clients: compiled once
        assert get(store, "c1") == first
        assert store.read_sync(lambda tx: tx.get_call("nope")) is None
    assert built == []
    assert {c.id for c in store.read_sync(lambda tx: tx.get_calls(["c1", "c3", "nope"]))} == {"c1", "c3"}
    assert store.read_sync(lambda tx: tx.get_calls([])) == []
    assert insert(store) == []


def test_a_call_reads_back_as_stored_whether_it_has_run_or_not(store: Store) -> None:
    # a batch's insert binds only the optional columns some call of it sets (accepted calls leave
    # those of a run unset); a call that has run (a test's fixture, an import) sets them, also in
    # a batch with new ones, and one call's column set is never another's in the same batch
    ran = replace(
        call("ran", status="Succeeded"),
        attempts=1,
        started_at=at(5),
        finished_at=at(6),
        result_status=200,
        result_headers='[["a","b"]]',
        result_body=b"ok",
        version="LATEST",
    )
    failed = replace(call("failed", status="Failed"), attempts=4, error="boom", dead=True)
    assert insert(store, call("new")) == [call("new")]
    assert insert(store, call("new2"), ran, failed) == [call("new2"), ran, failed]
    bare = replace(call("bare"), callback_url=None)
    task = replace(call("task"), callback_url=None, task_execution="e1", task_activity=3, qualifier="2")
    held = replace(call("held", owner="me", lease_until=9), callback_url=None)
    assert insert(store, bare) == [bare]
    assert insert(store, task, call("hooked"), held) == [task, call("hooked"), held]
    for record in (call("new"), call("new2"), ran, failed, bare, task, call("hooked"), held):
        assert get(store, record.id) == record


def test_list_filters_and_pages_newest_first(store: Store) -> None:
    insert(store, *(call(f"c{i}", created=i, function="f" if i % 2 else "g") for i in range(7)))
    store.write_sync(lambda tx: tx.stop_call("c5", at(10)))
    page = store.read_sync(lambda tx: tx.list_calls(limit=3))
    assert [c.id for c in page.items] == ["c6", "c5", "c4"] and page.next_token
    rest = store.read_sync(lambda tx: tx.list_calls(limit=10, token=page.next_token))
    assert [c.id for c in rest.items] == ["c3", "c2", "c1", "c0"] and rest.next_token is None
    only_f = store.read_sync(lambda tx: tx.list_calls(function="f", service="default"))
    assert [c.id for c in only_f.items] == ["c5", "c3", "c1"]
    stopped = store.read_sync(lambda tx: tx.list_calls(status="Stopped"))
    assert [c.id for c in stopped.items] == ["c5"]
    assert store.read_sync(lambda tx: tx.list_calls(dead=True)).items == []
    from fnflow.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        store.read_sync(lambda tx: tx.list_calls(token="!!"))


def test_an_attempt_starts_only_from_a_ready_state_and_settles_only_while_running(store: Store) -> None:
    insert(store, call("c1"))
    assert store.write_sync(lambda tx: tx.start_attempt("c1", "me", at(1), at(61))) is True
    running = get(store, "c1")
    assert (running.status, running.attempts, running.started_at, running.lease_owner) == (
        "Running",
        1,
        at(1),
        "me",
    )
    assert store.write_sync(lambda tx: tx.start_attempt("c1", "me", at(2), at(62))) is False
    settled = store.write_sync(
        lambda tx: tx.settle_call(
            "c1",
            holder="me",
            status="Retrying",
            run_at=at(5),
            result_status=503,
            result_headers="[]",
            result_body=b"busy",
            error="busy",
            lease_owner="me",
            lease_until=at(65),
        )
    )
    assert settled is True
    retrying = get(store, "c1")
    assert (retrying.status, retrying.run_at, retrying.result_status, retrying.result_body) == (
        "Retrying",
        at(5),
        503,
        b"busy",
    )
    assert (
        store.write_sync(lambda tx: tx.settle_call("c1", holder="me", status="Failed", run_at=at(6))) is False
    )
    assert store.write_sync(lambda tx: tx.start_attempt("c1", "me", at(5), at(65))) is True
    assert get(store, "c1").started_at == at(1), "the first start is kept"
    assert (
        store.write_sync(lambda tx: tx.settle_call("c1", holder="peer", status="Failed", run_at=at(7)))
        is False
    )
    store.write_sync(
        lambda tx: tx.settle_call(
            "c1", holder="me", status="Failed", run_at=at(7), finished_at=at(7), dead=True
        )
    )
    failed = get(store, "c1")
    assert (failed.status, failed.dead, failed.finished_at, failed.lease_owner, failed.attempts) == (
        "Failed",
        True,
        at(7),
        None,
        2,
    )


def test_many_attempts_start_in_one_write_and_only_ready_calls_start(store: Store) -> None:
    insert(store, call("a"), call("b"), call("stopped"), call("running"))
    store.write_sync(lambda tx: tx.stop_call("stopped", at(1)))
    store.write_sync(lambda tx: tx.start_attempt("running", "peer", at(1), at(61)))
    store.write_sync(
        lambda tx: tx.start_attempts(["a", "b", "stopped", "running", "nope"], "me", at(2), at(62))
    )
    started = [get(store, c) for c in ("a", "b")]
    assert [(r.status, r.attempts, r.started_at, r.lease_owner, r.lease_until) for r in started] == [
        ("Running", 1, at(2), "me", at(62))
    ] * 2
    assert get(store, "stopped").status == "Stopped"
    left = get(store, "running")
    assert (left.attempts, left.lease_owner) == (1, "peer"), "a call already Running is left as it is"


def test_waiting_calls_can_be_finished_and_stopped(store: Store) -> None:
    insert(store, call("waiting"), call("running"), call("done"), call("expired"))
    store.write_sync(lambda tx: tx.start_attempt("running", "me", at(1), at(61)))
    store.write_sync(lambda tx: tx.start_attempt("done", "me", at(1), at(61)))
    store.write_sync(
        lambda tx: tx.settle_call("done", holder="me", status="Succeeded", run_at=at(2), finished_at=at(2))
    )
    assert store.write_sync(lambda tx: tx.stop_call("waiting", at(3))) == "Stopped"
    assert store.write_sync(lambda tx: tx.stop_call("running", at(3))) == "Stopping"
    assert store.write_sync(lambda tx: tx.stop_call("done", at(3))) is None
    assert store.write_sync(lambda tx: tx.stop_call("nope", at(3))) is None
    assert (get(store, "waiting").status, get(store, "waiting").finished_at) == ("Stopped", at(3))
    assert store.write_sync(lambda tx: tx.mark_stopped("running", at(4), "peer")) is False
    assert store.write_sync(lambda tx: tx.mark_stopped("running", at(4), "me")) is True
    assert (get(store, "running").status, get(store, "running").lease_owner) == ("Stopped", None)
    finished = store.write_sync(
        lambda tx: tx.finish_waiting_call("expired", "Expired", at(9), error="old", dead=True)
    )
    assert finished is True
    expired = get(store, "expired")
    assert (expired.status, expired.dead, expired.error) == ("Expired", True, "old")
    assert store.write_sync(lambda tx: tx.finish_waiting_call("expired", "Expired", at(9))) is False


def test_the_calls_of_a_task_attempt_are_stopped_together(store: Store) -> None:
    def of_task(call_id: str, activity: int) -> CallRecord:
        return replace(call(call_id), task_execution="e", task_activity=activity)

    insert(store, of_task("waiting", 3), of_task("running", 3), of_task("done", 3), of_task("other", 4))
    store.write_sync(lambda tx: tx.start_attempt("running", "me", at(1), at(100)))
    store.write_sync(lambda tx: tx.start_attempt("done", "me", at(1), at(100)))
    store.write_sync(lambda tx: tx.settle_call("done", holder="me", status="Succeeded", run_at=at(2)))
    stopped = store.write_sync(lambda tx: tx.stop_task_calls("e", 3, at(5)))
    assert sorted(stopped) == [("running", "Stopping"), ("waiting", "Stopped")]
    assert [get(store, c).status for c in ("done", "other")] == ["Succeeded", "Enqueued"]
    assert store.write_sync(lambda tx: tx.stop_task_calls("e", 3, at(6))) == []


def test_a_call_status_outside_function_compute_vocabulary_is_refused(store: Store) -> None:
    with pytest.raises(Exception, match=r"(?i)check constraint"):
        insert(store, call("odd", status="Paused"))


def test_claim_takes_due_unleased_calls_once(store: Store) -> None:
    insert(
        store,
        call("due", created=0),
        call("later", created=0, run=100),
        call("held", created=0, owner="peer", lease_until=50),
        call("expired-lease", created=0, owner="dead", lease_until=5),
    )
    claimed = store.write_sync(lambda tx: tx.claim_calls("me", at(10), at(70), 10))
    assert {c.id for c in claimed} == {"due", "expired-lease"}
    assert all(c.lease_owner == "me" and c.lease_until == at(70) for c in claimed)
    assert store.write_sync(lambda tx: tx.claim_calls("other", at(10), at(70), 10)) == []
    store.write_sync(lambda tx: tx.renew(CALLS, "me", ["due", "held"], at(200)))
    assert get(store, "due").lease_until == at(200)
    assert get(store, "held").lease_until == at(50), "only the owner's leases are extended"


def test_claim_passes_over_the_functions_it_is_told_to(store: Store) -> None:
    insert(
        store,
        call("slow-old", function="slow", created=0),
        call("other-service", function="slow", service="s2", created=1),
        call("fast-new", function="fast", created=2),
    )
    claimed = store.write_sync(
        lambda tx: tx.claim_calls("me", at(10), at(70), 10, passing_over=[("default", "slow")])
    )
    assert {c.id for c in claimed} == {"other-service", "fast-new"}
    assert get(store, "slow-old").lease_owner is None
    everything = store.write_sync(lambda tx: tx.claim_calls("me", at(10), at(70), 10))
    assert [c.id for c in everything] == ["slow-old"]


def test_claim_takes_over_calls_whose_holder_died_while_running_or_stopping(store: Store) -> None:
    insert(store, call("running"), call("stopping"), call("alive"))
    for call_id in ("running", "stopping"):
        store.write_sync(lambda tx, c=call_id: tx.start_attempt(c, "dead", at(1), at(5)))
    store.write_sync(lambda tx: tx.stop_call("stopping", at(2)))
    store.write_sync(lambda tx: tx.start_attempt("alive", "peer", at(1), at(50)))
    claimed = store.write_sync(lambda tx: tx.claim_calls("me", at(10), at(70), 10))
    assert {(c.id, c.status, c.lease_owner) for c in claimed} == {
        ("running", "Retrying", "me"),
        ("stopping", "Stopping", "me"),
    }
    assert store.write_sync(lambda tx: tx.start_attempt("running", "me", at(11), at(71))) is True
    assert get(store, "running").attempts == 2, "the attempt the dead holder began runs again"
    late = store.write_sync(
        lambda tx: tx.settle_call("running", holder="dead", status="Succeeded", run_at=at(12))
    )
    assert late is False, "the dead holder's late result is not recorded over the new attempt"


def test_claim_takes_ready_and_lapsed_calls_together_oldest_first(store: Store) -> None:
    insert(store, call("lapsed-old", created=0), call("ready", created=1), call("lapsed-new", created=2))
    for call_id in ("lapsed-old", "lapsed-new"):
        store.write_sync(lambda tx, c=call_id: tx.start_attempt(c, "dead", at(3), at(5)))
    first = store.write_sync(lambda tx: tx.claim_calls("me", at(10), at(70), 2))
    assert [c.id for c in first] == ["lapsed-old", "ready"]
    assert [c.id for c in store.write_sync(lambda tx: tx.claim_calls("me", at(10), at(70), 2))] == [
        "lapsed-new"
    ]


def test_a_claim_costs_the_same_however_many_calls_wait_behind(store: Store) -> None:
    """A claim that sorted every claimable call (an OR of ready and lapsed calls cannot be read in
    the index's order) took 11 ms with 40,000 waiting against 0.6 ms read in order: count the
    SQLite instructions a claim of 10 runs with 20 calls waiting, then with 2,000 more behind them."""
    if store.shared:
        pytest.skip("counts SQLite's instructions")

    def instructions(tx: Tx) -> int:
        steps = [0]

        def step() -> int:
            steps[0] += 1
            return 0  # go on

        sqlite = tx.conn.connection.dbapi_connection
        sqlite.set_progress_handler(step, 100)
        try:
            assert len(tx.claim_calls("me", at(10_000), at(20_000), 10, passing_over=[("s", "g")])) == 10
        finally:
            sqlite.set_progress_handler(None, 100)
        return steps[0] * 100

    insert(store, *(call(f"first-{i}", created=i) for i in range(20)))
    few = store.write_sync(instructions)
    insert(store, *(call(f"later-{i}", created=100 + i) for i in range(2000)))
    many = store.write_sync(instructions)
    assert many < 3 * few + 2000, f"{few} SQLite instructions with 20 calls waiting, {many} with 2,020"


def test_concurrent_claimers_never_share_a_call(store: Store) -> None:
    insert(store, *(call(f"c{i}") for i in range(60)))
    got: Counter[str] = Counter()
    lock = threading.Lock()

    def claimer(owner: str) -> None:
        while claimed := store.write_sync(lambda tx: tx.claim_calls(owner, at(1), at(100), 7)):
            with lock:
                got.update(c.id for c in claimed)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 60 and set(got.values()) == {1}


def test_recovery_frees_foreign_leases_and_retries_what_was_running(store: Store) -> None:
    insert(store, call("mine", owner="me", lease_until=100), call("theirs"), call("stopping"))
    store.write_sync(lambda tx: tx.start_attempt("theirs", "dead", at(1), at(100)))
    store.write_sync(lambda tx: tx.start_attempt("stopping", "dead", at(1), at(100)))
    store.write_sync(lambda tx: tx.stop_call("stopping", at(2)))
    assert store.write_sync(lambda tx: tx.expire_foreign(CALLS, "me")) == 2
    theirs = get(store, "theirs")
    assert (theirs.status, theirs.lease_owner) == ("Retrying", None)
    assert get(store, "stopping").status == "Stopped"
    assert get(store, "mine").lease_owner == "me"


def test_redrive_puts_dead_letters_back(store: Store) -> None:
    insert(store, call("dead"), call("alive"))
    store.write_sync(lambda tx: tx.finish_waiting_call("dead", "Expired", at(5), error="old", dead=True))
    redriven = store.write_sync(
        lambda tx: tx.redrive_calls(["dead", "alive", "nope"], at(10), at(99), 3, "me", at(70))
    )
    assert [c.id for c in redriven] == ["dead"]
    again = redriven[0]
    assert (again.status, again.dead, again.attempts, again.max_attempts, again.error) == (
        "Enqueued",
        False,
        0,
        3,
        None,
    )
    assert (again.run_at, again.expires_at, again.lease_owner, again.body) == (
        at(10),
        at(99),
        "me",
        b"body-dead",
    )
    assert store.write_sync(lambda tx: tx.redrive_calls(["alive"], at(10), at(99), 3, "me", at(70))) == []


def test_pending_counts_by_queue_and_function(store: Store) -> None:
    insert(store, call("a", queue="slow"), call("b", queue="slow"), call("c", function="g"), call("d"))
    store.write_sync(lambda tx: tx.stop_call("d", at(1)))
    pending = sorted(store.read_sync(lambda tx: tx.pending_calls()))
    assert pending == [("", "default", "g", 1), ("slow", "default", "f", 2)]


def delivery(
    call_id: str, *, run: float = 0, owner: str | None = None, lease_until: float | None = None
) -> DeliveryRecord:
    return DeliveryRecord(
        call_id,
        "callback",
        "http://127.0.0.1:1/cb",
        '[["X-Call-Id", "c"]]',
        b"result",
        "Pending",
        8,
        at(run),
        at(0),
        lease_owner=owner,
        lease_until=None if lease_until is None else at(lease_until),
    )


def test_deliveries_are_claimed_attempted_and_recorded(store: Store) -> None:
    ids = store.write_sync(
        lambda tx: tx.add_deliveries(
            [delivery("c1"), delivery("c1", run=100), delivery("c2", owner="dead", lease_until=5)]
        )
    )
    assert len(ids) == 3 and len(set(ids)) == 3
    claimed = store.write_sync(lambda tx: tx.claim_deliveries("me", at(10), at(70), 10))
    assert sorted(d.id for d in claimed if d.id is not None) == sorted([ids[0], ids[2]])
    assert store.write_sync(lambda tx: tx.claim_deliveries("other", at(10), at(70), 10)) == []
    store.write_sync(lambda tx: tx.renew(DELIVERIES, "me", [ids[0]], at(300)))
    store.write_sync(
        lambda tx: tx.record_attempt(
            ids[0],
            status="Delivered",
            attempts=1,
            run_at=at(11),
            last_status=200,
            last_error=None,
            delivered_at=at(11),
        )
    )
    of_c1 = store.read_sync(lambda tx: tx.deliveries_of("c1"))
    assert [(d.status, d.attempts, d.last_status, d.delivered_at) for d in of_c1] == [
        ("Delivered", 1, 200, at(11)),
        ("Pending", 0, None, None),
    ]
    assert store.write_sync(lambda tx: tx.expire_foreign(DELIVERIES, "other")) >= 1
    assert store.read_sync(lambda tx: tx.deliveries_of("c2"))[0].lease_owner is None


def test_adding_and_recording_deliveries_compiles_no_statement_each_time(store: Store) -> None:
    """A call with a callback adds its delivery as it settles and records each attempt."""
    [warm] = store.write_sync(lambda tx: tx.add_deliveries([delivery("warm")]))  # compiles them
    attempt = {"attempts": 1, "run_at": at(1), "last_status": 500, "last_error": "no"}
    store.write_sync(lambda tx: tx.record_attempt(warm, status="Pending", **attempt))  # type: ignore[arg-type]
    with core_statements() as built:
        [added] = store.write_sync(lambda tx: tx.add_deliveries([delivery("c")]))
        store.write_sync(lambda tx: tx.record_attempt(added, status="Failed", **attempt))  # type: ignore[arg-type]
    assert built == []
    [recorded] = store.read_sync(lambda tx: tx.deliveries_of("c"))
    assert (recorded.id, recorded.status, recorded.attempts, recorded.last_error) == (
        added,
        "Failed",
        1,
        "no",
    )


def test_a_bin_keeps_its_newest_requests(store: Store) -> None:
    for i in range(5):
        request = BinRequest("b", "POST", f"/{i}", "", "[]", str(i).encode(), at(i))
        store.write_sync(lambda tx, request=request: tx.add_bin_request(request, keep=3))
    store.write_sync(lambda tx: tx.add_bin_request(BinRequest("other", "GET", "/", "q=1", "[]", b"", at(9))))
    kept = store.read_sync(lambda tx: tx.bin_requests("b"))
    assert [r.body for r in kept] == [b"4", b"3", b"2"]
    assert store.read_sync(lambda tx: tx.bin_requests("b", limit=1))[0].path == "/4"
    assert store.read_sync(lambda tx: tx.bin_requests("none")) == []


def test_a_stopping_process_gives_its_calls_and_deliveries_back(store: Store) -> None:
    insert(
        store,
        call("run", owner="me", lease_until=100),
        call("wait", owner="me", lease_until=100),
        call("other"),
    )
    store.write_sync(lambda tx: tx.start_attempt("run", "me", at(1), at(100)))
    store.write_sync(lambda tx: tx.start_attempt("other", "peer", at(1), at(100)))
    assert store.write_sync(lambda tx: tx.release(CALLS, "me")) == 2
    assert (get(store, "run").status, get(store, "run").lease_owner) == ("Retrying", None)
    assert (get(store, "wait").status, get(store, "wait").lease_owner) == ("Enqueued", None)
    assert get(store, "other").lease_owner == "peer"
    [mine, theirs] = store.write_sync(
        lambda tx: tx.add_deliveries(
            [delivery("c9", owner="me", lease_until=100), delivery("c9", owner="peer", lease_until=100)]
        )
    )
    assert store.write_sync(lambda tx: tx.release(DELIVERIES, "me")) == 1
    owners = {d.id: d.lease_owner for d in store.read_sync(lambda tx: tx.deliveries_of("c9"))}
    assert owners == {mine: None, theirs: "peer"}


def test_finished_calls_are_purged_after_their_retention_with_their_deliveries(store: Store) -> None:
    def finished(call_id: str, status: str, when: float, *, waited_since: float | None = None) -> CallRecord:
        record = call(call_id, status=status, run=when if waited_since is None else waited_since)
        return replace(record, finished_at=at(when), dead=status == "Failed")

    insert(
        store,
        finished("succeeded", "Succeeded", 10),
        finished("dead-letter", "Failed", 20),
        finished("delivered", "Succeeded", 40),
        finished("delivering", "Succeeded", 30),
        finished("stopped-late", "Stopped", 200, waited_since=5),  # waited, then was stopped at 200
        finished("recent", "Succeeded", 150),
        call("waiting", run=1),
        call("running", status="Running", run=1),
    )
    store.write_sync(
        lambda tx: tx.add_deliveries(
            [replace(delivery("delivered"), status="Delivered"), delivery("delivering"), delivery("recent")]
        )
    )
    assert store.write_sync(lambda tx: tx.purge_finished_calls(at(100), 2)) == 2, "at most the limit"
    assert store.write_sync(lambda tx: tx.purge_finished_calls(at(100), 10)) == 1
    assert store.write_sync(lambda tx: tx.purge_finished_calls(at(100), 10)) == 0
    left = {c.id for c in store.read_sync(lambda tx: tx.list_calls(limit=100)).items}
    assert left == {"delivering", "stopped-late", "recent", "waiting", "running"}
    assert store.read_sync(lambda tx: tx.deliveries_of("delivered")) == []
    assert [d.status for d in store.read_sync(lambda tx: tx.deliveries_of("delivering"))] == ["Pending"]
