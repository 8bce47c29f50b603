"""Retention: messages whose retention period is over, tombstones of deleted messages and the ids
of published topic messages are removed in the background, in short transactions of ``chunk``
rows each (by the index on their expiry), so no request pays for it and no transaction grows with
the backlog. Receives and peeks never see an expired message, swept or not."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from fnflow.store import Store, Tx

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, store: Store, *, period: float = 60.0, chunk: int = 1000) -> None:
        self._store = store
        self.period = period
        self.chunk = chunk

    async def sweep(self, now: datetime | None = None) -> int:
        """Remove everything expired at ``now``; how many rows."""
        at = now or datetime.now(UTC)

        def purge(tx: Tx) -> tuple[int, int]:
            return tx.purge_expired_messages(at, self.chunk), tx.purge_expired_topic_messages(at, self.chunk)

        removed = 0
        while True:
            messages, ids = await self._store.write(purge)
            removed += messages + ids
            if max(messages, ids) < self.chunk:
                return removed

    async def run(self) -> None:
        while True:
            try:
                if removed := await self.sweep():
                    log.info("removed %d expired queue message(s) and topic message id(s)", removed)
            except Exception:
                log.exception("removing expired messages failed; trying again in %.0f s", self.period)
            await asyncio.sleep(self.period)
