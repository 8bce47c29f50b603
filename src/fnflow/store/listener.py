"""PostgreSQL ``LISTEN`` on one connection per process, in a thread, handing messages to the asyncio
loops of its subscribers.

One connection carries every channel a process listens on (the runtime's, the call queue's, the
schedules', the queues', the function slots'): a process holds as few connections as it can,
because ``max_connections`` is shared by every process of a cluster. A subscriber added later
has its channels listened to on the same connection.

Why a thread: the connection must outlive hiccups of the caller's loop and reconnect by itself
(with back-off) when the server restarts or a network drops it; the loop only ever sees
``on_message`` calls. Messages sent while the connection is down are lost: callers keep a
polling fallback. Only that thread uses the connection: a subscriber's ``LISTEN`` runs there,
between two waits for messages, and the subscriber waits for it. (Running it from the caller's
thread relied on psycopg handing its connection lock over between two waits; psycopg 3.3 keeps
it with the waiting thread, and a server starting on PostgreSQL hung.)

Coalescing: messages that arrive while the loop has not yet run the previous hand-over are
delivered together, and a repeated (channel, payload) among them is delivered once. PostgreSQL
does the same within one transaction, so a batch of jobs that each notify the same thing
wakes a listener once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

#: libpq options of long-lived connections. TCP keepalives: a server that vanished without a word
#: is noticed in ~25 s, not hours.
CONNECT: dict[str, Any] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

#: how often the thread looks up from waiting to see whether it should stop or listen to more
POLL_SECONDS = 0.2
#: how long a subscriber waits for its ``LISTEN`` (a few waits of the thread)
SUBSCRIBE_WAIT = 5 * POLL_SECONDS


@dataclass(frozen=True)
class _Subscriber:
    channels: frozenset[str]
    on_message: Callable[[str, str], None]
    loop: asyncio.AbstractEventLoop


class Listener:
    def __init__(self, conninfo: str) -> None:
        """Connect at once (raises if the database cannot be reached); listen as subscribers ask."""
        self._conninfo = conninfo
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber] = []
        self._pending: dict[asyncio.AbstractEventLoop, dict[tuple[str, str], None]] = {}  # ordered sets
        self._listened: threading.Event | None = None  # set once the channels wanted now are listened to
        self._conn: psycopg.Connection[tuple[object, ...]] | None = self._connect()
        self._listening: set[str] = set()  # the channels the connection listens to
        self._thread = threading.Thread(target=self._run, name="fnflow-listen", daemon=True)
        self._thread.start()

    def subscribe(self, channels: list[str], on_message: Callable[[str, str], None]) -> Callable[[], None]:
        """Deliver what is notified on ``channels`` to ``on_message``, on the running loop; returns a
        function that stops it."""
        subscriber = _Subscriber(frozenset(channels), on_message, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.append(subscriber)
            listened = None
            if self._conn is not None and subscriber.channels - self._listening:
                listened = self._listened = self._listened or threading.Event()
        if listened is not None:  # else it reconnects, and then listens to every channel
            listened.wait(SUBSCRIBE_WAIT)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def join(self) -> None:
        """Stop and wait for the thread (it ends within ``POLL_SECONDS``); nothing is delivered after."""
        self._stopped.set()
        self._thread.join()

    def _channels(self) -> set[str]:
        return {c for s in self._subscribers for c in s.channels}

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self._conninfo, autocommit=True, **CONNECT)

    def _listen(self, conn: psycopg.Connection[tuple[object, ...]]) -> set[str]:
        """LISTEN to the channels subscribers want that the connection does not listen to yet, and
        let the subscribers waiting for them go on; returns those channels."""
        with self._lock:
            new = self._channels() - self._listening
            listened, self._listened = self._listened, None
        for channel in sorted(new):
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        with self._lock:
            self._listening |= new
        if listened is not None:
            listened.set()
        return new

    def _run(self) -> None:
        delay = 0.05
        while not self._stopped.is_set():
            try:
                conn = self._conn
                if conn is None:
                    conn = self._connect()
                    with self._lock:
                        self._conn, self._listening = conn, set()
                    log.info("listening again on %s", ", ".join(sorted(self._listen(conn))))
                    delay = 0.05
                else:
                    self._listen(conn)
                for notify in conn.notifies(timeout=POLL_SECONDS):
                    self._received(notify.channel, notify.payload)
                    if self._stopped.is_set():
                        break
            except psycopg.Error as e:
                with self._lock:
                    lost, self._conn = self._conn, None
                if lost is not None:
                    log.warning("lost the LISTEN connection (%s); reconnecting", e)
                    lost.close()
                self._stopped.wait(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 5.0)
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _received(self, channel: str, payload: str) -> None:
        with self._lock:
            loops = {s.loop for s in self._subscribers if channel in s.channels}
            first = [loop for loop in loops if not self._pending.get(loop)]
            for loop in loops:
                self._pending.setdefault(loop, {})[(channel, payload)] = None
        for loop in first:
            try:
                loop.call_soon_threadsafe(self._deliver, loop)
            except RuntimeError:  # the loop is closed: its subscribers are gone
                with self._lock:
                    self._pending.pop(loop, None)

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            pending = self._pending.pop(loop, {})
            subscribers = [s for s in self._subscribers if s.loop is loop]
        for channel, payload in pending:
            for subscriber in subscribers:
                if self._stopped.is_set():
                    return
                if channel not in subscriber.channels:
                    continue
                try:
                    subscriber.on_message(channel, payload)
                except Exception:
                    log.exception("a LISTEN callback failed on %s", channel)
