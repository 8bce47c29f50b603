"""Tasks started and not awaited by their starter, kept until they end.

asyncio keeps only weak references to tasks: one nobody holds may vanish mid-way. A ``Background``
holds them, and ``drain`` lets an owner that is closing wait for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every task started so far (their errors are theirs to log)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
