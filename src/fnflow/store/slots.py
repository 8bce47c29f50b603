"""Cluster-wide concurrency limits: PostgreSQL advisory locks, one connection per process.

A function with ``max_instances = N`` has N slots in the whole cluster, the advisory locks
(key, 0) … (key, N-1) with ``key`` derived from its name. Before a call runs, a process takes a
free slot with ``pg_try_advisory_lock`` and gives it back afterwards. The locks belong to this
process's session: a process that dies, or loses its connection, frees its slots at once, and
nothing is left to clean up. Advisory locks are per database, so clusters on other databases of
the same server do not share slots.

A process that found no free slot waits for a release: a releaser sends ``NOTIFY`` on ``SLOTS``
with the key, and waiters look again every ``RECHECK`` seconds anyway (a dead holder says
nothing). Two function names whose keys collide (crc32, about one pair in 4·10⁹) share a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable

import psycopg

from fnflow.background import Background
from fnflow.store.listener import CONNECT

log = logging.getLogger(__name__)

SLOTS = "fnflow_slots"
#: how often a waiter looks again without a wake-up
RECHECK = 0.5

# The first slot of the list this session could lock (LIMIT 1 stops the scan there, so no other is
# locked), or no row when all are held.
_TAKE = "SELECT s FROM unnest(%s::int[]) AS s WHERE pg_try_advisory_lock(%s, s) LIMIT 1"
_GIVE = "SELECT pg_advisory_unlock(%s, %s), pg_notify(%s, %s)"

Release = Callable[[], None]
Listen = Callable[[list[str], Callable[[str, str], None]], Callable[[], None]]


def slot_key(name: str) -> int:
    """A signed 32-bit key for ``name`` (advisory locks take two int4 keys)."""
    value = zlib.crc32(name.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class AdvisorySlots:
    def __init__(self, conninfo: str, listen: Listen) -> None:
        self._conninfo = conninfo
        self._listen = listen
        self._conn: psycopg.AsyncConnection[tuple[int, ...]] | None = None
        self._session = 0  # counts connections: a slot taken on an older one is already gone
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._released: dict[int, asyncio.Event] = {}
        self._unlisten: Callable[[], None] = lambda: None
        self._giving = Background()
        self._mine: dict[int, set[int]] = {}  # key -> slots this session holds

    def open(self) -> None:
        """Start hearing releases (call it on the event loop that acquires)."""
        self._unlisten = self._listen([SLOTS], self._heard)

    async def close(self) -> None:
        self._unlisten()
        await self._giving.drain()
        if self._conn is not None:
            await self._conn.close()  # frees every slot still held
            self._conn = None

    def _heard(self, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            event = self._released.get(int(payload))
            if event is not None:
                event.set()

    async def acquire(self, name: str, capacity: int, timeout: float) -> Release | None:
        """Take one of ``capacity`` slots of ``name``, waiting up to ``timeout`` seconds; a function
        that gives it back (at once, without waiting), or None if none became free in time."""
        key = slot_key(name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._released.setdefault(key, asyncio.Event())
            event.clear()
            attempt = asyncio.ensure_future(self._take(key, capacity))
            try:
                # Shielded: a caller cancelled while the lock is being taken must still give it back.
                taken = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                attempt.add_done_callback(_give_back)
                raise
            except psycopg.Error as e:
                log.warning("could not take a slot of %s (%s); trying again", name, e)
                taken = None
            if taken is not None:
                return taken
            left = deadline - loop.time()
            if left <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(left, RECHECK))

    async def _take(self, key: int, capacity: int) -> Release | None:
        async with self._lock:
            conn, session = await self._connection()
            # A session may lock what it holds again (locks stack): offer only slots it does not hold.
            mine = self._mine.setdefault(key, set())
            free = [slot for slot in range(capacity) if slot not in mine]
            if not free:
                return None
            try:
                row = await (await conn.execute(_TAKE, (free, key))).fetchone()
            except psycopg.OperationalError:
                await self._lost(conn)
                raise
            if row is None:
                return None
            slot = row[0]
            mine.add(slot)
        # Given back in a task of its own: a caller being cancelled must not keep the slot.
        return lambda: self._giving.spawn(self._give(session, key, slot))

    async def _give(self, session: int, key: int, slot: int) -> None:
        async with self._lock:
            if session != self._session or self._conn is None:
                return  # that connection is gone, and the slot with it
            self._mine[key].discard(slot)
            try:
                await self._conn.execute(_GIVE, (key, slot, SLOTS, str(key)))
            except psycopg.OperationalError:
                await self._lost(self._conn)
        self._heard(SLOTS, str(key))  # waiters here need not wait for the notification

    async def _connection(self) -> tuple[psycopg.AsyncConnection[tuple[int, ...]], int]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, **CONNECT)
            self._session += 1
            self._mine = {}
        return self._conn, self._session

    async def _lost(self, conn: psycopg.AsyncConnection[tuple[int, ...]]) -> None:
        log.warning("lost the connection that holds function slots; slots held there are free again")
        with contextlib.suppress(psycopg.Error):
            await conn.close()
        if self._conn is conn:
            self._conn = None


def _give_back(attempt: asyncio.Future[Release | None]) -> None:
    if not attempt.cancelled() and attempt.exception() is None and (release := attempt.result()) is not None:
        release()
