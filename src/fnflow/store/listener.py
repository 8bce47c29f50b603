"""PostgreSQL ``LISTEN`` on a connection of its own, in a thread, handing messages to an asyncio loop.

Why a thread: the connection must outlive hiccups of the caller's loop and reconnect by itself
(with back-off) when the server restarts or a network drops it; the loop only ever sees
``on_message`` calls. Messages sent while the connection is down are lost: callers keep a
polling fallback.

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

#: how often the thread looks up from waiting to see whether it should stop
POLL_SECONDS = 0.2


class Listener:
    def __init__(self, conninfo: str, channels: list[str], on_message: Callable[[str, str], None]) -> None:
        """Listen at once (raises if the database cannot be reached); deliver on the running loop."""
        self._conninfo = conninfo
        self._channels = list(dict.fromkeys(channels))
        self._on_message = on_message
        self._loop = asyncio.get_running_loop()
        self._stopped = threading.Event()
        self._pending: dict[tuple[str, str], None] = {}  # insertion-ordered set
        self._lock = threading.Lock()
        conn = self._connect()
        self._thread = threading.Thread(target=self._run, args=(conn,), name="fnflow-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop without waiting (the thread ends within ``POLL_SECONDS``); nothing is delivered after."""
        self._stopped.set()

    def join(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(self._conninfo, autocommit=True, **CONNECT)
        for channel in self._channels:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        return conn

    def _run(self, conn: psycopg.Connection[tuple[object, ...]] | None) -> None:
        delay = 0.05
        while not self._stopped.is_set():
            try:
                if conn is None:
                    conn = self._connect()
                    log.info("listening again on %s", ", ".join(self._channels))
                    delay = 0.05
                for notify in conn.notifies(timeout=POLL_SECONDS):
                    self._received(notify.channel, notify.payload)
                    if self._stopped.is_set():
                        break
            except psycopg.Error as e:
                if conn is not None:
                    log.warning("lost the LISTEN connection (%s); reconnecting", e)
                    conn.close()
                    conn = None
                self._stopped.wait(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 5.0)
        if conn is not None:
            conn.close()

    def _received(self, channel: str, payload: str) -> None:
        with self._lock:
            first = not self._pending
            self._pending[(channel, payload)] = None
        if first:
            try:
                self._loop.call_soon_threadsafe(self._deliver)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                self._stopped.set()

    def _deliver(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for channel, payload in pending:
            if self._stopped.is_set():
                return
            try:
                self._on_message(channel, payload)
            except Exception:
                log.exception("a LISTEN callback failed on %s", channel)
