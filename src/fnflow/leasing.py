"""Leased work as a process sees it: when to claim rows nobody holds (``Claimer``), and keeping
the leases of what it holds alive (``LeaseKeeper``). The store side is ``store/queries/leases.py``.

Flow tasks, asynchronous calls, deliveries and queue messages are leased the same way; they
differ only in what a claim leases and how much room a process has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta

from fnflow.clock import SYSTEM_CLOCK, Clock
from fnflow.store import Store, Tx
from fnflow.store.leases import Key, Lease

log = logging.getLogger(__name__)

#: rows one claim transaction leases at most
BATCH = 500


class Claimer:
    """When to claim: on a word that some work waits, when room frees after that, and every
    ``period`` anyway — a dead process's leases run out without a word."""

    def __init__(
        self,
        claim: Callable[[int], Awaitable[int]],
        room: Callable[[], int],
        *,
        period: float,
        what: str,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``claim(limit)`` leases up to ``limit`` rows and returns how many; ``room()`` is how many
        more this process may hold."""
        self._claim = claim
        self._room = room
        self._period = period
        self._what = what
        self._clock = clock
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
            if not await self._clock.wait(self._wanted, self._period):
                self._backlog = True
            self._wanted.clear()
            if not self._backlog:
                continue
            try:
                await self.claim()
            except Exception:
                log.exception("claiming %s failed; trying again", self._what)


class LeaseKeeper:
    """Renews the leases of everything this process holds, of every kind, in one write every third
    of a lease: a process that stops renewing (it died) loses its work to others after a lease."""

    def __init__(
        self, store: Store, owner: str, lease_seconds: float, *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.clock = clock
        self._holders: list[tuple[Lease, Callable[[], Collection[Key]]]] = []

    def keep(self, lease: Lease, held: Callable[[], Collection[Key]]) -> None:
        """Keep alive the leases of ``held()`` (called at each renewal) on ``lease``'s rows."""
        self._holders.append((lease, held))

    def until(self) -> datetime:
        """Until when a lease taken now lasts."""
        return self.clock.now() + timedelta(seconds=self.lease_seconds)

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.lease_seconds / 3)
            await self.renew()

    async def renew(self) -> None:
        work = [(lease, sorted(keys)) for lease, held in self._holders if (keys := held())]
        if not work:
            return
        until = self.until()

        def renew_all(tx: Tx) -> None:
            for lease, keys in work:  # in key order: processes renewing overlapping rows never deadlock
                tx.renew(lease, self.owner, keys, until)

        try:
            await self._store.write(renew_all, off_loop=True)  # 10,000 rows stalled the loop 35-80 ms
        except Exception:
            log.exception("renewing leases failed; trying again in %.0f s", self.lease_seconds / 3)
