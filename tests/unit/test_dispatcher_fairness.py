"""A function whose calls pile up cannot keep the calls of others from running.

A process holds a bounded number of calls (``max_held``); the rest wait in the store until it
claims them. Were the held calls all of one slow function, the others' calls would wait in the
store behind its backlog, claimed oldest first: the fast function would run only once the slow
one's backlog was gone. Real store, real functions, a small ``max_held``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from fnflow.asyncq.service import Submission
from fnflow.store import CallRecord, Tx
from tests.unit.functions_harness import async_test
from tests.unit.test_dispatcher_stops import calls_on_sqlite, ran, until


@async_test
async def test_a_slow_functions_backlog_leaves_room_for_the_others(tmp_path: Path) -> None:
    async with calls_on_sqlite(tmp_path, ("slow", "fast"), max_held=8) as (_, calls):
        for n in range(30):  # 30 calls of 0.2 s, one at a time: 6 s of backlog
            await calls.submit(Submission("svc", "slow", f"slow{n}".encode(), query="seconds=0.2"))
        began = time.monotonic()
        fast = [
            (await calls.submit(Submission("svc", "fast", f"fast{n}".encode(), query="seconds=0"))).id
            for n in range(3)
        ]
        for call_id in fast:
            await until(calls, call_id, {"Succeeded"})
        waited = time.monotonic() - began
        slow_done = sum(1 for line in ran(tmp_path) if line.startswith("slow"))
        assert waited < 3, f"the fast function's calls waited {waited:.1f} s behind the slow one's"
        assert slow_done < 20, "the slow backlog was mostly done: the test proves nothing"


@async_test
async def test_calls_left_for_a_function_held_to_its_share_are_not_claimed_in_vain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call accepted beyond a function's share used to start a claim, which read past every
    call of that function waiting in the store only to pass over them all. A claim that takes
    nothing is left at the start, after each refill, and from the periodic claim."""
    claims: list[int] = []
    claim_calls = Tx.claim_calls

    def counted(tx: Tx, *args: Any, **kwargs: Any) -> list[CallRecord]:
        claimed = claim_calls(tx, *args, **kwargs)
        claims.append(len(claimed))
        return claimed

    monkeypatch.setattr(Tx, "claim_calls", counted)
    async with calls_on_sqlite(tmp_path, ("slow",), max_held=8) as (_, calls):
        for n in range(40):  # the share is 4: most wait in the store
            await calls.submit(Submission("svc", "slow", f"slow{n}".encode(), query="seconds=0.05"))
        deadline = time.monotonic() + 30
        while len(ran(tmp_path)) < 40:
            assert time.monotonic() < deadline, f"only {len(ran(tmp_path))} of 40 calls ran"
            await asyncio.sleep(0.05)
        assert sum(claims) <= 40 - 4, "no call is claimed twice"
        took = sum(1 for n in claims if n)
        assert claims.count(0) <= took + 3, f"{claims.count(0)} claims took nothing, {took} took calls"


@async_test
async def test_a_backlog_held_to_its_share_is_read_through_once_not_at_every_refill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a claim has taken all it saw, only the functions it passed over may have calls left in
    the store: a claim that would pass over all of them again reads past their whole backlog (45 ms
    with 200,000 waiting) to find nothing, and is not made. Claims that take calls still are."""
    claims: list[tuple[int, int]] = []  # (calls taken, functions passed over)
    claim_calls = Tx.claim_calls

    def counted(tx: Tx, *args: Any, **kwargs: Any) -> list[CallRecord]:
        claimed = claim_calls(tx, *args, **kwargs)
        claims.append((len(claimed), len(kwargs.get("passing_over", ()))))
        return claimed

    monkeypatch.setattr(Tx, "claim_calls", counted)
    async with calls_on_sqlite(tmp_path, ("busy", "other"), max_held=8) as (_, calls):
        busy = [
            (await calls.submit(Submission("svc", "busy", f"busy{n}".encode(), query="seconds=0"))).id
            for n in range(60)  # the share is 4: most wait in the store, refilled 4 at a time
        ]
        await until(calls, busy[30], {"Succeeded"})
        other = await calls.submit(Submission("svc", "other", b"other", query="seconds=0"))
        for call_id in [other.id, *busy]:
            await until(calls, call_id, {"Succeeded"})
        refills = sum(1 for taken, _ in claims if taken)
        in_vain = sum(1 for taken, passing in claims if passing and not taken)
        assert refills >= 8, f"{claims}: the backlog was not refilled from the store: the test proves nothing"
        assert in_vain <= 3, f"{in_vain} claims read past the backlog for nothing ({refills} refills)"
