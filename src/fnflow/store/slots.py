"""Cluster-wide concurrency limits: PostgreSQL advisory locks, one connection per process.

A function with ``max_instances = N`` has N slots in the whole cluster, the advisory locks
(key, 0) … (key, N-1) with ``key`` derived from its name. Before a call runs, a process takes a
free slot with ``pg_try_advisory_lock`` and gives it back afterwards. The locks belong to this
process's session: a process that dies, or loses its connection, frees its slots at once, and
nothing is left to clean up. Advisory locks are per database, so clusters on other databases of
the same server do not share slots.

The connection belongs to one thread, which runs every take and give-back in turn: they are
round trips of a fraction of a millisecond each, and run back to back however busy the event
loop is (a give-back does not involve the loop at all). A process that found no free slot waits
for a release: a releaser sends ``NOTIFY`` on ``SLOTS``
with the key, and waiters look again every ``RECHECK`` seconds anyway (a dead holder says
nothing).

A process keeps a slot it stops using for ``IDLE_GRACE`` seconds, for its own next call of that
function: under a steady stream of calls, taking and giving back cost no round trip at all.
A process that has to wait for a slot says so (``want:<key>`` on ``SLOTS``); for the next
``CONTENDED_FOR`` seconds every holder gives that function's slots back at once, so the limit is
shared fairly while contended.

Two function names whose keys collide (crc32, about one pair in 4·10⁹) share a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg

from fnflow.clock import wait_event
from fnflow.store.listener import CONNECT

log = logging.getLogger(__name__)

SLOTS = "fnflow_slots"
#: how often a waiter looks again without a wake-up
RECHECK = 0.5
#: how long a slot this process stopped using stays with it for its next call
IDLE_GRACE = 1.0
#: how long after another process waited for a function its slots are given back at once
CONTENDED_FOR = 1.0

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
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fnflow-slots")
        # Touched only on that thread:
        self._conn: psycopg.Connection[tuple[int, ...]] | None = None
        self._session = 0  # counts connections: a slot taken on an older one is already gone
        self._mine: dict[int, set[int]] = {}  # key -> slots this session holds
        # Touched only on the event loop:
        self._released: dict[int, asyncio.Event] = {}
        self._idle: dict[int, dict[int, tuple[int, int]]] = {}  # key -> {token: (session, slot)} unused
        self._tokens = itertools.count()
        self._wanted: dict[int, float] = {}  # key -> when another process last had to wait for it
        self._me = uuid.uuid4().hex[:8]
        self._unlisten: Callable[[], None] = lambda: None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> None:
        """Start hearing releases (call it on the event loop that acquires)."""
        self._loop = asyncio.get_running_loop()
        self._unlisten = self._listen([SLOTS], self._heard)

    async def close(self) -> None:
        self._unlisten()
        # Queued after every give-back submitted so far; closing the connection frees what is left.
        await asyncio.get_running_loop().run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown(wait=True)

    def _heard(self, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            if payload.startswith("want:"):  # "want:<key>:<process>": a process waits for a slot
                _, key_text, process = payload.split(":")
                if process != self._me:
                    self._contended(int(key_text))
                return
            event = self._released.get(int(payload))
            if event is not None:
                event.set()

    def _contended(self, key: int) -> None:
        """Another process waits for this function: share its slots fairly for a while."""
        self._wanted[key] = asyncio.get_running_loop().time()
        for session, slot in self._idle.pop(key, {}).values():
            self._submit(self._give, session, key, slot)

    async def acquire(self, name: str, capacity: int, timeout: float) -> Release | None:
        """Take one of ``capacity`` slots of ``name``, waiting up to ``timeout`` seconds; a function
        that gives it back (at once, without waiting), or None if none became free in time."""
        key = slot_key(name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        said = False
        while True:
            if kept := self._kept(key):
                return kept
            event = self._released.setdefault(key, asyncio.Event())
            event.clear()
            attempt = loop.run_in_executor(self._thread, self._take, key, capacity)
            try:
                # Shielded: a caller cancelled while the lock is being taken must still give it back.
                taken = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                attempt.add_done_callback(functools.partial(self._give_back, key))
                raise
            except psycopg.Error as e:
                log.warning("could not take a slot of %s (%s); trying again", name, e)
                taken = None
            if taken is not None:
                return self._releaser(key, *taken)
            left = deadline - loop.time()
            if left <= 0:
                return None
            if not said:
                said = True
                self._submit(self._notify, f"want:{key}:{self._me}")
            await wait_event(event, min(left, RECHECK))

    def _kept(self, key: int) -> Release | None:
        """A slot this process kept from an earlier call, if it still holds one."""
        idle = self._idle.get(key)
        while idle:
            session, slot = idle.pop(next(iter(idle)))
            if session == self._session:  # not lost with an older connection
                return self._releaser(key, session, slot)
        return None

    def _releaser(self, key: int, session: int, slot: int) -> Release:
        return lambda: self._release(key, session, slot)

    def _release(self, key: int, session: int, slot: int) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._wanted.get(key, -CONTENDED_FOR) < CONTENDED_FOR:
            self._submit(self._give, session, key, slot)
            return
        token = next(self._tokens)
        self._idle.setdefault(key, {})[token] = (session, slot)
        loop.call_later(IDLE_GRACE, self._expire, key, token)
        event = self._released.get(key)
        if event is not None:
            event.set()

    def _expire(self, key: int, token: int) -> None:
        """Give back a slot unused since ``IDLE_GRACE`` seconds (if it was not taken again since)."""
        kept = self._idle.get(key, {}).pop(token, None)
        if kept is not None:
            self._submit(self._give, kept[0], key, kept[1])

    def _give_back(self, key: int, attempt: asyncio.Future[tuple[int, int] | None]) -> None:
        if (
            not attempt.cancelled()
            and attempt.exception() is None
            and (taken := attempt.result()) is not None
        ):
            self._submit(self._give, taken[0], key, taken[1])

    def _submit(self, fn: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # shut down: the closed connection freed every slot
            self._thread.submit(fn, *args)

    # --- on the slots thread -----------------------------------------------------------------------

    def _take(self, key: int, capacity: int) -> tuple[int, int] | None:
        conn = self._connection()
        # A session may lock what it holds again (locks stack): offer only slots it does not hold.
        mine = self._mine.setdefault(key, set())
        free = [slot for slot in range(capacity) if slot not in mine]
        if not free:
            return None
        try:
            row = conn.execute(_TAKE, (free, key)).fetchone()
        except psycopg.OperationalError:
            self._lost()
            raise
        if row is None:
            return None
        mine.add(row[0])
        return self._session, row[0]

    def _notify(self, payload: str) -> None:
        with contextlib.suppress(psycopg.Error):
            self._connection().execute("SELECT pg_notify(%s, %s)", (SLOTS, payload))

    def _give(self, session: int, key: int, slot: int) -> None:
        if session != self._session or self._conn is None:
            return  # that connection is gone, and the slot with it
        self._mine[key].discard(slot)
        try:
            self._conn.execute(_GIVE, (key, slot, SLOTS, str(key)))
        except psycopg.OperationalError:
            self._lost()
        if self._loop is not None:  # waiters here need not wait for the notification
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._heard, SLOTS, str(key))

    def _connection(self) -> psycopg.Connection[tuple[int, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True, **CONNECT)
            self._session += 1
            self._mine = {}
        return self._conn

    def _lost(self) -> None:
        log.warning("lost the connection that holds function slots; slots held there are free again")
        self._disconnect()

    def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
