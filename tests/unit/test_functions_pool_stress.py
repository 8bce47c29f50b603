"""The pool under load from cold, on both event loops the server may run (uvloop is uvicorn's default):
thousands of concurrent calls while workers start, retire when idle and are evicted by redeploys.

uvloop runs I/O callbacks before the task that connected a new worker resumes, so a worker's READY
frame could arrive before anyone waited for it; the pool used to kill such a worker and fail the
call with "Process exited unexpectedly" (several dozen of 2,500 calls here). Every call must succeed.

Three rounds, 1,500 calls (five, 2,500, with ``--long``, ``tests/long.py``): each round starts
cold and the redeploy is in the third; a race that failed several dozen of 2,500 calls would fail
some 20-odd of 1,500.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from fnflow.functions.pool import FunctionPool
from tests.long import sized
from tests.unit.functions_harness import FIXTURES, ctx, spec

ROUNDS = sized(3, 5)
CALLS_PER_ROUND = 500

LOOPS: dict[str, Callable[[Coroutine[Any, Any, None]], None]] = {"asyncio": asyncio.run, "uvloop": uvloop.run}


async def storm() -> None:
    pool = FunctionPool(idle_timeout=0.2)  # workers retire between rounds: every round starts cold
    versions = [spec("index.handler", FIXTURES / v, checksum=v, max_instances=32) for v in ("v1", "v2")]
    failures: collections.Counter[str] = collections.Counter()
    answers: collections.Counter[bytes] = collections.Counter()

    async def call(round_: int, i: int) -> None:
        result = await pool.invoke(versions[round_ % 2], b"", ctx(f"r{round_}-{i}"))
        if result.ok:
            answers[result.body] += 1
        else:
            failures[f"{result.error_type}: {result.error_message}"] += 1

    try:
        for round_ in range(ROUNDS):
            calls = [asyncio.create_task(call(round_, i)) for i in range(CALLS_PER_ROUND)]
            if round_ == 2:  # a redeploy in the middle of a round: busy workers retire after their call
                await asyncio.sleep(0)
                await pool.evict("svc", "fn")
            await asyncio.gather(*calls)
            await asyncio.sleep(0.3)
        stats = pool.stats()
    finally:
        await pool.close()
    assert dict(failures) == {}
    v1 = (ROUNDS + 1) // 2  # rounds 0, 2, ...
    assert answers == {b"v1": v1 * CALLS_PER_ROUND, b"v2": (ROUNDS - v1) * CALLS_PER_ROUND}
    assert stats["cold_starts"] >= ROUNDS * 2, "workers were started and retired meanwhile"


@pytest.mark.slow
@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_thousands_of_calls_from_cold_with_workers_coming_and_going_never_fail(loop: str) -> None:
    LOOPS[loop](storm())
