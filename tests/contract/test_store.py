"""Store-level behaviour: transactions, group commit, results after commit, reopen."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from fnflow.errors import Conflict
from fnflow.store import Store, Tx
from tests.contract.backends import Backend
from tests.contract.factories import T0, execution, function, timer

T = TypeVar("T")


class Boom(Exception):
    pass


class Halt(BaseException):
    """Stands for what must not be swallowed (cancellation); never KeyboardInterrupt in a test."""


def setting(store: Store, key: str) -> str | None:
    return store.read_sync(lambda tx: tx.get_setting(key))


async def holding(store: Store, job: Callable[[Tx], T]) -> asyncio.Task[T]:
    """Run ``job`` (which waits for the test) as a write of a thread of its own, and return once it
    runs: writes queued now wait behind it, whichever writer the store has (a job that blocked the
    event loop would block SQLite's, which runs its jobs there)."""
    started = threading.Event()

    def job_started(tx: Tx) -> T:
        started.set()
        return job(tx)

    held = asyncio.create_task(asyncio.to_thread(store.write_sync, job_started))
    assert await asyncio.to_thread(started.wait, 5)
    return held


def test_ping(store: Store) -> None:
    assert store.ping() is True


def test_write_and_read_return_the_jobs_value(store: Store) -> None:
    def job(tx: Tx) -> str:
        tx.set_setting("k", "v")
        return "done"

    assert store.write_sync(job) == "done"
    assert store.read_sync(lambda tx: (tx.get_setting("k"), 42)) == ("v", 42)

    def two(tx: Tx) -> int:
        tx.set_setting("a", "1")
        tx.set_setting("b", "2")
        return 2

    async def main() -> tuple[int, str | None]:
        return await store.write(two), await store.read(lambda tx: tx.get_setting("b"))

    assert asyncio.run(main()) == (2, "2")


def test_a_point_read_answers_like_a_read_and_on_sqlite_without_leaving_the_loop(store: Store) -> None:
    store.write_sync(lambda tx: tx.set_setting("p", "v"))

    async def main() -> tuple[str | None, bool]:
        def read(tx: Tx) -> tuple[str | None, int]:
            return tx.get_setting("p"), threading.get_ident()

        value, thread = await store.read_point(read)
        assert (value, (await store.read(read))[0]) == ("v", "v")
        return value, thread == threading.get_ident()

    value, on_the_loop = asyncio.run(main())
    assert value == "v"
    # SQLite answers it at once on the event loop; PostgreSQL's round trip goes to a reader thread
    assert on_the_loop is (store.backend == "sqlite")


def test_a_job_sees_its_own_writes(store: Store) -> None:
    def job(tx: Tx) -> str | None:
        tx.insert_execution(execution("e1"))
        tx.set_setting("k", "v")
        found = tx.get_execution("f", "e1")
        return tx.get_setting("k") if found else None

    assert store.write_sync(job) == "v"


def test_a_failing_job_raises_its_error_and_leaves_nothing_behind(store: Store) -> None:
    error = Boom("no")

    def job(tx: Tx) -> None:
        tx.set_setting("k", "v")
        tx.insert_execution(execution("e1"))
        raise error

    with pytest.raises(Boom) as caught:
        store.write_sync(job)
    assert caught.value is error
    assert setting(store, "k") is None
    assert store.read_sync(lambda tx: tx.get_execution("f", "e1")) is None

    async def main() -> None:
        await store.write(job)

    with pytest.raises(Boom):
        asyncio.run(main())
    assert setting(store, "k") is None
    store.write_sync(lambda tx: tx.set_setting("k", "after"))  # the store still works
    assert setting(store, "k") == "after"


def test_a_failing_job_in_a_batch_does_not_undo_the_others(store: Store, backend: Backend) -> None:
    """Many concurrent jobs; two fail (a Python error and a database error) after writing."""
    jobs = 40
    before = store.write_stats

    def ok(i: int) -> Callable[[Tx], int]:
        def job(tx: Tx) -> int:
            tx.set_setting(f"k{i}", str(i))
            tx.add_timers([timer(f"e{i}", 1, i)])
            return i

        return job

    def raises(tx: Tx) -> int:
        tx.set_setting("bad-python", "x")
        raise Boom("python")

    def violates(tx: Tx) -> int:
        tx.set_setting("bad-db", "x")
        tx.insert_execution(execution("dup", id="other-id"))  # the name is taken
        return -1

    async def main() -> list[Any]:
        gate = threading.Event()

        def hold(tx: Tx) -> int:  # keeps the writer busy so the rest queue up behind it
            gate.wait(5)
            tx.insert_execution(execution("dup"))
            return -2

        held = await holding(store, hold)
        tasks = [asyncio.create_task(store.write(ok(i))) for i in range(jobs)]
        tasks.insert(jobs // 3, asyncio.create_task(store.write(raises)))
        tasks.insert(2 * jobs // 3, asyncio.create_task(store.write(violates)))
        await asyncio.sleep(0)
        gate.set()
        assert await held == -2
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results.pop(2 * jobs // 3), Conflict)
    assert isinstance(results.pop(jobs // 3), Boom)
    assert results == list(range(jobs))
    assert [setting(store, f"k{i}") for i in range(jobs)] == [str(i) for i in range(jobs)]
    assert len(store.read_sync(lambda tx: tx.due_timers(T0.replace(year=2100), 1000))) == jobs
    assert setting(store, "bad-python") is None
    assert setting(store, "bad-db") is None
    if backend.group_commit:  # then these jobs really shared commits (the case this test is about)
        after = store.write_stats
        assert after["jobs"] - before["jobs"] == jobs + 3
        assert after["batches"] - before["batches"] <= 3


def test_a_result_is_delivered_only_after_its_commit(store: Store) -> None:
    """Job ``a`` is answered; at that moment another connection must already see its write.

    ``b`` is queued right behind ``a`` and holds its transaction open until ``a``'s caller has
    looked (or half a second passed): a store that answered ``a`` before committing would be
    caught with the write invisible.
    """

    async def main() -> str | None:
        gate, looked = threading.Event(), threading.Event()

        def hold(tx: Tx) -> None:
            gate.wait(5)

        def a(tx: Tx) -> str:
            tx.set_setting("a", "1")
            return "a"

        def b(tx: Tx) -> str:
            looked.wait(0.5)
            tx.set_setting("b", "1")
            return "b"

        held = await holding(store, hold)
        task_a = asyncio.create_task(store.write(a))
        await asyncio.sleep(0)
        task_b = asyncio.create_task(store.write(b))
        await asyncio.sleep(0)
        gate.set()
        assert await task_a == "a"
        seen = await store.read(lambda tx: tx.get_setting("a"))
        looked.set()
        assert await task_b == "b"
        await held
        return seen

    assert asyncio.run(main()) == "1"


def test_a_job_raising_a_base_exception_fails_only_itself(store: Store) -> None:
    def halt(tx: Tx) -> None:
        tx.set_setting("k", "halted")
        raise Halt

    async def main() -> None:
        with pytest.raises(Halt):
            await asyncio.wait_for(store.write(halt), 5)
        gate = threading.Event()
        held = await holding(store, lambda tx: gate.wait(5))
        batch = [asyncio.create_task(store.write(job)) for job in (halt, lambda tx: tx.set_setting("j", "1"))]
        await asyncio.sleep(0)
        gate.set()
        await held
        outcome = await asyncio.wait_for(asyncio.gather(*batch, return_exceptions=True), 5)
        assert isinstance(outcome[0], Halt) and outcome[1] is None
        await asyncio.wait_for(store.write(lambda tx: tx.set_setting("after", "1")), 5)

    asyncio.run(main())
    assert (setting(store, "k"), setting(store, "j"), setting(store, "after")) == (None, "1", "1")


def test_data_survives_close_and_reopen(store: Store, open_again: Callable[[], Store]) -> None:
    def fill(tx: Tx) -> None:
        tx.put_flow("f", "d", "text", "h1", T0)
        tx.insert_execution(execution("e1"))
        tx.add_timers([timer("e1", 1, 5)])
        tx.put_function(function("fn"), b"code", T0)
        tx.set_setting("k", "v")

    store.write_sync(fill)
    before = store.read_sync(
        lambda tx: (tx.get_flow("f"), tx.get_execution("f", "e1"), tx.get_function("svc", "fn"))
    )
    store.close()
    again = open_again()
    assert again.ping() is True
    after = again.read_sync(
        lambda tx: (tx.get_flow("f"), tx.get_execution("f", "e1"), tx.get_function("svc", "fn"))
    )
    assert after == before and None not in after
    assert again.read_sync(lambda tx: (tx.get_function_code("svc", "fn"), tx.get_setting("k"))) == (
        b"code",
        "v",
    )
    assert again.read_sync(lambda tx: tx.next_timer_at()) == timer("e1", 1, 5).fire_at


@pytest.mark.parametrize("how", ["write", "write_soon"])
def test_a_write_cancelled_while_queued_is_dropped_and_the_writer_goes_on(store: Store, how: str) -> None:
    """A caller that gives up (a request cancelled at shutdown) must not take the writer with it."""

    async def main() -> str | None:
        gate = threading.Event()

        def hold(started: threading.Event) -> Callable[[Tx], None]:
            def job(tx: Tx) -> None:
                started.set()
                gate.wait(5)

            return job

        held = []
        while True:  # occupy every writer, until a job has to wait in the queue
            started = threading.Event()
            held.append(asyncio.create_task(asyncio.to_thread(store.write_sync, hold(started))))
            if not await asyncio.to_thread(started.wait, 0.5):
                break

        def job(tx: Tx) -> None:
            tx.set_setting("cancelled", "ran")

        cancelled = asyncio.create_task(store.write(job)) if how == "write" else store.write_soon(job)
        await asyncio.sleep(0.05)
        cancelled.cancel()
        await asyncio.sleep(0.05)  # the cancellation reaches the writer's future
        gate.set()
        await asyncio.gather(*held)
        await store.write(lambda tx: tx.set_setting("after", "ran"))
        return setting(store, "cancelled")

    assert asyncio.run(main()) is None, "a job cancelled before it ran does not run"
    assert setting(store, "after") == "ran"


def test_write_soon_queues_at_once_and_ordered_stores_commit_in_queue_order(store: Store) -> None:
    """``write_soon`` queues its job before it returns; where ``ordered_writes`` (SQLite), a job
    queued later sees what every job queued before it wrote."""

    async def main() -> list[str | None]:
        first = store.write_soon(lambda tx: tx.set_setting("order", "first"))
        second = store.write_soon(lambda tx: tx.get_setting("order"))
        third = store.write_soon(lambda tx: tx.set_setting("order", "third"))
        await first
        await third
        return [await second, await store.read(lambda tx: tx.get_setting("order"))]

    seen, last = asyncio.run(main())
    assert last == "third"
    if store.ordered_writes:
        assert seen == "first"
    assert store.ordered_writes is (store.backend == "sqlite")


def test_write_soon_hands_over_what_the_job_raised(store: Store) -> None:
    def refuse(tx: Tx) -> None:
        tx.set_setting("refused", "written")
        raise ValueError("no")

    async def main() -> None:
        refused = store.write_soon(refuse)
        after = store.write_soon(lambda tx: tx.set_setting("after", "written"))
        with pytest.raises(ValueError, match="no"):
            await refused
        await after
        assert not store.busy

    asyncio.run(main())
    assert (setting(store, "refused"), setting(store, "after")) == (None, "written")
