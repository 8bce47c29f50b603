"""Accepting calls is fnflow's hottest path: concurrent accepts share one insert and one commit.

Each accept adds its calls (one, or an accept front's group) to a pending list and waits. One
flush at a time writes everything pending in a single statement and transaction; accepts that
arrive meanwhile form the next batch. So under load a commit (and its fsync) serves hundreds of
calls, and unloaded an accept is committed at once. A call is answered 202 only after its
commit. Calls stored for no process in particular (this one was full) are announced to the
others in the same commit.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from fnflow.asyncq.dispatcher import CALLS
from fnflow.store import CallRecord, Store, Tx


def _insert(tx: Tx, records: list[CallRecord]) -> list[tuple[CallRecord, bool]]:
    stored = tx.insert_calls(records)
    if any(record.lease_owner is None for record, new in stored if new):
        tx.notify(CALLS, "")
    return stored


class AcceptBatcher:
    def __init__(
        self, store: Store, on_commit: Callable[[list[CallRecord]], None], *, max_batch: int = 2000
    ) -> None:
        self._store = store
        self._on_commit = on_commit
        self._max_batch = max_batch
        # groups of calls accepted together, each answered by one future
        self._pending: list[tuple[list[CallRecord], asyncio.Future[list[CallRecord]]]] = []
        self._flushing = False
        self.batches = 0

    async def accept(self, records: list[CallRecord]) -> list[CallRecord]:
        """The calls as stored, once committed (see ``Tx.insert_calls`` for repeated call ids)."""
        future: asyncio.Future[list[CallRecord]] = asyncio.get_running_loop().create_future()
        self._pending.append((records, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    def _next_batch(self) -> list[tuple[list[CallRecord], asyncio.Future[list[CallRecord]]]]:
        """Pending groups of about ``max_batch`` calls at most (a group is never split)."""
        size = taken = 0
        while taken < len(self._pending) and (
            taken == 0 or size + len(self._pending[taken][0]) <= self._max_batch
        ):
            size += len(self._pending[taken][0])
            taken += 1
        batch = self._pending[:taken]
        del self._pending[:taken]
        return batch

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._next_batch()
                records = [record for group, _ in batch for record in group]
                try:
                    stored = await self._store.write(functools.partial(_insert, records=records))
                except Exception as e:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(e)
                    continue
                self.batches += 1
                self._on_commit([record for record, new in stored if new])
                answers = [record for record, _ in stored]
                offset = 0
                for group, future in batch:
                    if not future.done():
                        future.set_result(answers[offset : offset + len(group)])
                    offset += len(group)
        finally:
            self._flushing = False
