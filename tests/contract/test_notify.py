"""Wake-ups between processes: ``Tx.notify`` in one store reaches ``Store.listen`` of another.

A store that several processes share (PostgreSQL) delivers at commit, never on rollback; a store
of one process (SQLite) hears nothing — its wake-ups are in-process — and ``listen`` is a no-op.
Channels are per database, not per schema, so each test listens on a channel of its own.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text

from fnflow.store import Store, Tx
from tests.contract.backends import Backend


class Boom(Exception):
    pass


def channel() -> str:
    return f"fnflow_test_{uuid.uuid4().hex[:12]}"


async def received(inbox: asyncio.Queue[tuple[str, str]], seconds: float) -> list[tuple[str, str]]:
    """What arrives within ``seconds``."""
    got: list[tuple[str, str]] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            got.append(await asyncio.wait_for(inbox.get(), left))
        except TimeoutError:
            break
    return got


async def first(inbox: asyncio.Queue[tuple[str, str]], seconds: float) -> tuple[str, str] | None:
    """The first message to arrive within ``seconds``, or None."""
    try:
        return await asyncio.wait_for(inbox.get(), seconds)
    except TimeoutError:
        return None


def test_a_notify_arrives_after_commit_and_never_after_rollback(
    store: Store, open_again: Callable[[], Store]
) -> None:
    other = open_again()
    name = channel()

    async def main() -> None:
        inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        stop = store.listen([name], lambda c, p: inbox.put_nowait((c, p)))
        inside, release = threading.Event(), threading.Event()

        def held(tx: Tx) -> None:
            tx.notify(name, "committed")
            inside.set()
            release.wait(5)

        writing = asyncio.create_task(asyncio.to_thread(other.write_sync, held))  # off the event loop
        assert await asyncio.to_thread(inside.wait, 5)
        assert await received(inbox, 0.3) == [], "delivered before the commit"
        release.set()
        await writing

        def rolled_back(tx: Tx) -> None:
            tx.notify(name, "rolled back")
            raise Boom

        with pytest.raises(Boom):
            await other.write(rolled_back)
        await other.write(lambda tx: tx.notify(name, "after"))
        if store.shared:
            assert [await asyncio.wait_for(inbox.get(), 5) for _ in range(2)] == [
                (name, "committed"),
                (name, "after"),
            ]
        assert await received(inbox, 0.2) == []
        stop()
        await other.write(lambda tx: tx.notify(name, "stopped"))
        assert await received(inbox, 0.3) == [], "delivered after stop"

    asyncio.run(main())


def test_a_burst_of_the_same_notify_may_arrive_once(store: Store, open_again: Callable[[], Store]) -> None:
    other = open_again()
    names = [channel(), channel()]

    async def main() -> list[tuple[str, str]]:
        inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        stop = store.listen(names, lambda c, p: inbox.put_nowait((c, p)))

        def burst(tx: Tx) -> None:
            for _ in range(50):
                tx.notify(names[0], "same")
            tx.notify(names[1], "one")
            tx.notify(names[1], "two")

        await asyncio.gather(*(other.write(burst) for _ in range(5)))
        got = await received(inbox, 1.0 if store.shared else 0.2)
        stop()
        return got

    got = asyncio.run(main())
    if not store.shared:
        assert got == []
        return
    assert set(got) == {(names[0], "same"), (names[1], "one"), (names[1], "two")}
    assert len(got) <= 15, "50 notifies in each of 5 transactions should coalesce"


def test_a_listener_reconnects_when_its_connection_drops(
    backend: Backend, database_url: str, store: Store, open_again: Callable[[], Store]
) -> None:
    if not store.shared:
        pytest.skip("only a store shared by several processes listens on a connection")
    other = open_again()
    name = channel()
    engine = create_engine(backend.engine_url(database_url))

    def kill_listener() -> int:
        with engine.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query LIKE :listen"
                ),
                {"listen": f'LISTEN "{name}"'},
            ).scalar_one()
            conn.commit()
            return int(killed)

    async def main() -> None:
        inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        stop = store.listen([name], lambda c, p: inbox.put_nowait((c, p)))
        assert await asyncio.to_thread(kill_listener) == 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # what is sent while it reconnects is lost: keep sending
            await other.write(lambda tx: tx.notify(name, "again"))
            if await received(inbox, 0.1):
                break
        else:
            pytest.fail("the listener did not come back")
        stop()

    try:
        asyncio.run(main())
    finally:
        engine.dispose()


def test_each_new_subscriber_is_listening_when_listen_returns(
    store: Store, open_again: Callable[[], Store]
) -> None:
    """Subscribers added one after another while the listener waits for messages (as a server's
    services do at start): each ``listen`` returns promptly, and hears a notify sent right after.

    Each notify is awaited for up to 2 s, and is all the inbox holds then; a copy of it or a stray
    message arriving later would be in the inbox at the next subscriber's turn, or at the end,
    which waits a second more for anything late."""
    if not store.shared:
        pytest.skip("only a store shared by several processes listens on a connection")
    other = open_again()

    async def main() -> None:
        inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        stops = []
        for i in range(5):
            name = channel()
            began = time.monotonic()
            stops.append(store.listen([name], lambda c, p: inbox.put_nowait((c, p))))
            assert time.monotonic() - began < 2, "listen waited for the listener's connection"
            await other.write(functools.partial(Tx.notify, channel=name, payload=str(i)))
            assert await first(inbox, 2.0) == (name, str(i))
            assert inbox.empty(), f"more than the one notify: {inbox.get_nowait()}"
        assert await received(inbox, 1.0) == [], "a notify arrived twice or astray"
        for stop in stops:
            stop()

    asyncio.run(main())
