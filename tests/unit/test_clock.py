"""Waiting for an event with a timeout, as every background loop of the server does."""

from __future__ import annotations

import asyncio

import pytest

from fnflow.clock import wait_event
from tests.unit.functions_harness import async_test


@async_test
async def test_a_wait_says_whether_the_event_was_set_or_the_time_ran_out() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True


@async_test
async def test_a_cancellation_arriving_as_the_event_is_set_is_kept() -> None:
    """``asyncio.wait_for`` on Python 3.11 returns instead: the Claimer's loop then never ended,
    and closing the dispatcher hung."""
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_event(event, 10))
    await asyncio.sleep(0)  # it waits now
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
