"""Wake-ups of receives that wait for messages (long-poll).

A send in this process wakes the receives waiting here on that queue at once. On a store other
processes share, the sending transaction also ``announce``s it (PostgreSQL NOTIFY, heard at
commit) and each process wakes its own. A waiting receive looks again by itself when the next
invisible message of its queue becomes visible (the service knows when), and every ``RECHECK``
seconds in case a word was lost (a LISTEN connection that was down).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from fnflow.clock import wait_event
from fnflow.store import Store, Tx

#: Channel on which a shared store's processes hear that a queue got messages (payload: its name).
CHANNEL = "fnflow_queues"
RECHECK = 5.0


class Watch:
    """One waiting receive's view of its queue: ``reset`` before looking, then ``wait``; a message
    sent in between is not missed."""

    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    def reset(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> None:
        """Until a message may have arrived, or ``seconds`` pass."""
        await wait_event(self._event, seconds)


class Arrivals:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._unlisten: Callable[[], None] = lambda: None
        self.closed = False

    def open(self) -> None:
        self._unlisten = self._store.listen([CHANNEL], lambda _channel, queue: self.wake(queue))

    def close(self) -> None:
        """Stop listening, and let every waiting receive return now (the server is stopping)."""
        self.closed = True
        self._unlisten()
        for events in self._waiting.values():
            for event in events:
                event.set()

    @staticmethod
    def announce(tx: Tx, queue: str) -> None:
        """Tell the other processes, when ``tx`` commits, that ``queue`` got messages."""
        tx.notify(CHANNEL, queue)

    def wake(self, queue: str) -> None:
        """``queue`` got messages: every receive waiting here on it looks again."""
        for event in self._waiting.get(queue, ()):
            event.set()

    @contextlib.contextmanager
    def watch(self, queue: str) -> Iterator[Watch]:
        event = asyncio.Event()
        waiting = self._waiting.setdefault(queue, set())
        waiting.add(event)
        try:
            yield Watch(event)
        finally:
            waiting.discard(event)
            if not waiting:
                self._waiting.pop(queue, None)
