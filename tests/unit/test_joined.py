"""Write jobs that callers join until the writer takes them (``fnflow.asyncq.joined``), on a real
SQLite store: one job for what was queued meanwhile, in queue order, and a failing neighbour in
the batch runs them again, each alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from fnflow.asyncq.joined import Joiner
from fnflow.store import Store, Tx, open_store
from tests.unit.functions_harness import async_test

Written = list[tuple[str, list[str], bool]]


def joiner(store: Store, name: str, written: Written, done: list[list[str]]) -> Joiner[str, int]:
    """Items are settings' keys: a job writes them (its name as their value) and notes what it wrote."""

    def run(tx: Tx, keys: list[str], alone: bool) -> int:
        for key in keys:
            tx.set_setting(key, name)
        written.append((name, list(keys), alone))
        return len(keys)

    return Joiner(store, run, lambda keys, outcome: done.append(list(keys)))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'db'}")
    yield opened
    opened.close()


@async_test
async def test_items_queued_before_the_writer_takes_the_job_share_it(store: Store) -> None:
    written: Written = []
    done: list[list[str]] = []
    marks = joiner(store, "marks", written, done)
    first = marks.join("a")
    assert marks.join("b") == first  # the writer has not run yet: the same job
    assert len(marks.pending) == 1
    await asyncio.gather(*marks.pending)
    assert written == [("marks", ["a", "b"], False)]
    assert done == [["a", "b"]]
    assert not marks.pending
    later = marks.join("c")  # the first job was taken: a new one, queued later
    assert later > first
    await asyncio.gather(*marks.pending)
    assert written[-1] == ("marks", ["c"], False)
    assert store.read_sync(lambda tx: [tx.get_setting(k) for k in "abc"]) == ["marks"] * 3


@async_test
async def test_an_item_joins_only_a_job_queued_after_the_one_it_must_follow(store: Store) -> None:
    written: Written = []
    done: list[list[str]] = []
    outcomes = joiner(store, "outcomes", written, done)
    marks = joiner(store, "marks", written, done)
    early = outcomes.join("x")  # an outcomes job is open...
    mark = marks.join("y")  # ...when y's mark is queued, behind it
    assert mark > early
    later = outcomes.join("y", after=mark)
    assert later > mark  # y's outcome may not join the job ahead of its mark
    assert outcomes.join("z") == later  # the open job is the newest
    await asyncio.gather(*outcomes.pending, *marks.pending)
    assert [(name, keys) for name, keys, _ in written] == [
        ("outcomes", ["x"]),
        ("marks", ["y"]),
        ("outcomes", ["y", "z"]),
    ]
    assert store.read_sync(lambda tx: tx.get_setting("y")) == "outcomes"  # the later write won


@async_test
async def test_a_failing_job_in_the_batch_runs_the_joined_items_again_alone(store: Store) -> None:
    written: Written = []
    done: list[list[str]] = []
    marks = joiner(store, "marks", written, done)

    def fails(tx: Tx) -> None:
        tx.set_setting("broken", "half-written")
        raise RuntimeError("a neighbour failed")

    marks.join("a")
    failing = store.write_soon(fails)
    marks.join("b")  # still the same job: the writer has not run
    job = next(iter(marks.pending))
    assert await job == 2
    with pytest.raises(RuntimeError, match="a neighbour failed"):
        await failing
    assert written == [("marks", ["a", "b"], False), ("marks", ["a", "b"], True)]
    assert done == [["a", "b"]]
    assert store.read_sync(lambda tx: [tx.get_setting(k) for k in ("a", "b", "broken")]) == [
        "marks",
        "marks",
        None,
    ]
