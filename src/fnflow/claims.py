"""When to claim work nobody holds: on a word that some waits, when room frees after that, and
every ``period`` anyway — a dead process's leases run out without a word.

Flow tasks (``runtime``) and asynchronous calls (``asyncq``) are claimed the same way; they
differ only in what a claim leases and how much room a process has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

#: rows one claim transaction leases at most
BATCH = 500


class Claimer:
    def __init__(
        self, claim: Callable[[int], Awaitable[int]], room: Callable[[], int], *, period: float, what: str
    ) -> None:
        """``claim(limit)`` leases up to ``limit`` rows and returns how many; ``room()`` is how many
        more this process may hold."""
        self._claim = claim
        self._room = room
        self._period = period
        self._what = what
        self._backlog = True  # work nobody holds may be waiting in the store
        self._wanted = asyncio.Event()

    def wanted(self) -> None:
        """Work nobody holds is waiting (a peer or this process left it): claim what room allows."""
        self._backlog = True
        self._wanted.set()

    def freed(self) -> None:
        """Room freed here: claim if work may be waiting."""
        if self._backlog:
            self._wanted.set()

    async def claim(self) -> None:
        """Claim until there is no room left, or nothing more to claim."""
        while (room := min(BATCH, self._room())) > 0:
            self._backlog = False
            if await self._claim(room) == room:
                self._backlog = True  # there may be more
            elif not self._backlog:  # no word arrived while claiming
                return

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wanted.wait(), self._period)
            except TimeoutError:
                self._backlog = True
            self._wanted.clear()
            if not self._backlog:
                continue
            try:
                await self.claim()
            except Exception:
                log.exception("claiming %s failed; trying again", self._what)
