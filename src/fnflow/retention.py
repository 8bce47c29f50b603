"""Retention: rows whose time is over are removed in the background, in short transactions of
``chunk`` rows each (found through an index), so no request pays for it and no transaction grows
with the backlog.

What is removed (``purges``, made by the composition root): queue messages whose retention period
is over, tombstones of deleted messages and the ids of published topic messages (receives and
peeks never see an expired message, swept or not); finished asynchronous calls, with their
callback deliveries, once ``call_retention`` has passed since they finished; executions, with
their history, once ``execution_retention`` has passed since they ended.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from fnflow.clock import SYSTEM_CLOCK, Clock
from fnflow.store import Store, Tx

log = logging.getLogger(__name__)

#: removes up to ``limit`` rows whose time is over at ``now``; how many it removed
Purge = Callable[[Tx, datetime, int], int]
#: rows per transaction: SQLite's run on the event loop, and 200 finished calls take about 9 ms to
#: remove (1,000 took 15 ms, 1,000 executions with their history 37 ms)
CHUNK = 200


class Sweeper:
    def __init__(
        self,
        store: Store,
        purges: Mapping[str, Purge],
        *,
        period: float = 60.0,
        chunk: int = CHUNK,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``purges``: what each removes, by the name the log gives it (plural: "expired queue messages")."""
        self._store = store
        self._clock = clock
        self._purges = dict(purges)
        self.period = period
        self.chunk = chunk

    async def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Remove everything whose time is over at ``now``; how many rows of each kind."""
        at = now or self._clock.now()
        removed = dict.fromkeys(self._purges, 0)
        for what, purge in self._purges.items():
            while True:
                count = await self._store.write(functools.partial(_run, purge, now=at, limit=self.chunk))
                removed[what] += count
                if count < self.chunk:
                    break
        return removed

    async def run(self) -> None:
        while True:
            try:
                for what, count in (await self.sweep()).items():
                    if count:
                        log.info("removed %d %s", count, what)
            except Exception:
                log.exception("removing what is past its retention failed; again in %.0f s", self.period)
            await self._clock.sleep(self.period)


def _run(purge: Purge, tx: Tx, *, now: datetime, limit: int) -> int:
    return purge(tx, now, limit)
