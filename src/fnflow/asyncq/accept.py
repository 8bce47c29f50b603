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
from typing import NamedTuple

from fnflow.asyncq.dispatcher import CALLS
from fnflow.store import CallRecord, Store, Tx


def _insert(tx: Tx, records: list[CallRecord]) -> list[tuple[CallRecord, bool]]:
    stored = tx.insert_calls(records)
    if any(record.lease_owner is None for record, new in stored if new):
        tx.notify(CALLS, "")
    return stored


class Group(NamedTuple):
    """Calls accepted together (a request's, or a front's frame's), answered by one future."""

    records: list[CallRecord]
    future: asyncio.Future[list[CallRecord]]
    from_front: bool


class AcceptBatcher:
    def __init__(
        self, store: Store, on_commit: Callable[[list[CallRecord]], None], *, max_batch: int = 2000
    ) -> None:
        self._store = store
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._pending: list[Group] = []
        self._flushing = False
        self.batches = 0

    async def accept(self, records: list[CallRecord], *, from_front: bool = False) -> list[CallRecord]:
        """The calls as stored, once committed (see ``Tx.insert_calls`` for repeated call ids).
        ``from_front``: an accept front passed them on (a batch of only those commits on the loop)."""
        future: asyncio.Future[list[CallRecord]] = asyncio.get_running_loop().create_future()
        self._pending.append(Group(records, future, from_front))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    def _next_batch(self) -> list[Group]:
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
                records = [record for group in batch for record in group.records]
                insert = functools.partial(_insert, records=records)
                try:
                    stored = await self._store.write(
                        insert, commit_on_loop=all(group.from_front for group in batch)
                    )
                except Exception as e:
                    for group in batch:
                        if not group.future.done():
                            group.future.set_exception(e)
                    continue
                self.batches += 1
                self._on_commit([record for record, new in stored if new])
                answers = [record for record, _ in stored]
                offset = 0
                for group in batch:
                    if not group.future.done():
                        group.future.set_result(answers[offset : offset + len(group.records)])
                    offset += len(group.records)
        finally:
            self._flushing = False
