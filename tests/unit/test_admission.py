"""Admission: FIFO, bounded waits, and a synchronous way in that never passes a waiter."""

from __future__ import annotations

import asyncio

import pytest

from fnflow.errors import Unavailable
from fnflow.functions._admission import Admission
from tests.unit.functions_harness import async_test


@async_test
async def test_try_acquire_takes_room_up_to_the_capacity() -> None:
    admission = Admission(2)
    assert admission.try_acquire() and admission.try_acquire()
    assert not admission.try_acquire()
    assert admission.in_use == 2
    admission.release()
    assert admission.try_acquire()


@async_test
async def test_try_acquire_never_passes_a_waiter() -> None:
    admission = Admission(1)
    assert admission.try_acquire()
    waiter = asyncio.ensure_future(admission.acquire(5.0))
    await asyncio.sleep(0)
    admission.resize(2)  # room again, and the waiter is granted it first
    assert await waiter
    assert not admission.try_acquire()
    admission.release()
    admission.release()
    assert admission.in_use == 0


@async_test
async def test_try_acquire_refuses_once_closed() -> None:
    admission = Admission(1)
    admission.close()
    assert not admission.try_acquire()
    with pytest.raises(Unavailable):
        await admission.acquire(1.0)


@async_test
async def test_acquire_waits_in_order_and_times_out() -> None:
    admission = Admission(1)
    assert await admission.acquire(1.0)
    first = asyncio.ensure_future(admission.acquire(5.0))
    second = asyncio.ensure_future(admission.acquire(0.05))
    await asyncio.sleep(0)
    assert not await second  # timed out while the first still waited
    admission.release()
    assert await first
