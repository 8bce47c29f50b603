"""The timer wheel keeps a timer that commits while its periodic scan is reading the store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fnflow.clock import SYSTEM_CLOCK
from fnflow.runtime.timers import TimerWheel
from fnflow.store import TimerRecord


def test_a_timer_added_while_the_scan_reads_fires_on_time() -> None:
    async def main() -> float:
        reading = asyncio.Event()
        release = asyncio.Event()
        fired: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        async def load(until: object) -> list[TimerRecord]:
            reading.set()
            await release.wait()
            return []  # the scan's snapshot was taken before the timer committed

        async def fire(record: TimerRecord) -> None:
            fired.set_result(asyncio.get_running_loop().time())

        wheel = TimerWheel(load, fire, horizon=60.0)
        runner = asyncio.create_task(wheel.run())
        try:
            await reading.wait()
            began = asyncio.get_running_loop().time()
            wheel.add([TimerRecord("e1", 1, SYSTEM_CLOCK.now() + timedelta(seconds=0.05))])
            release.set()
            return await asyncio.wait_for(fired, 5) - began
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    assert asyncio.run(main()) < 2, "it waited for the next scan (30 s later) instead"
