"""PostgreSQL backend (psycopg 3): several fnflow processes share one database.

What differs from SQLite, and why:

- **Writers.** Group commit stays (concurrent accepts and decisions share a commit), but with a
  few writer connections side by side: a job that waits for a row another process holds (an
  execution being decided there) stalls one writer, not the process. Transactions are READ
  COMMITTED, so each statement sees what others committed and ``FOR UPDATE`` re-reads the row
  it waited for.
- **Races between batches.** Jobs lock what they decide to lock (one execution row per decision,
  task rows they settle), in no order the store could impose, so two batches can deadlock. The
  loser's batch gets SQLSTATE 40P01 (or 40001, serialization failure, should the server's
  default isolation be stricter) and is run again whole after a short jittered pause, up to
  five times; then the error reaches the callers. Jobs are functions of the transaction alone,
  so running them again is safe; a job that fails for its own reasons still fails alone
  (savepoints). PostgreSQL detects a deadlock after ``deadlock_timeout`` (1 s by default), which
  is what one costs.
- **Reads** run in a REPEATABLE READ, READ ONLY transaction: one snapshot for all their queries.
- **Notifications.** ``Tx.notify`` is ``pg_notify`` (sent at commit); ``listen`` holds a
  connection of its own (``listener.py``).

Pool sizing, per process: ``writers`` connections (default ``default_writers``: one on two CPUs
or fewer, two above) held by the writer threads, a read
pool of ``readers`` (default 4, plus up to 2 for bursts of synchronous readers), one connection
per ``listen`` (three: runtime, queue, schedules, plus one for function slots), and one holding
the advisory locks of function slots — about 16, so ``max_connections`` should exceed ~16 times
the processes. More writers help when many jobs wait for row locks; more
batching, not more connections, is what speeds up commits; and writer threads of one process
wait for one another's GIL. Behind PgBouncer use session pooling: ``LISTEN`` needs a session.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from fnflow.store.base import Store
from fnflow.store.listener import Listener
from fnflow.store.slots import AdvisorySlots

DRIVERS = ("postgres", "postgresql", "postgresql+psycopg")
# deadlock_detected, serialization_failure: the transaction lost a race and may simply run again
RETRY_SQLSTATES = frozenset({"40P01", "40001"})


def engine_url(url: str) -> URL:
    """``postgresql://`` and ``postgres://`` (libpq's spellings) mean psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername not in DRIVERS:
        raise ValueError(f"unsupported PostgreSQL URL {url!r}: use postgresql://user@host:port/database")
    return parsed.set(drivername="postgresql+psycopg")


def lost_race(error: BaseException) -> bool:
    """Whether ``error`` (a driver error, or one SQLAlchemy or fnflow wrapped) is a deadlock or
    serialization failure, after which the transaction may be run again."""
    seen: BaseException | None = error
    for _ in range(4):
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in RETRY_SQLSTATES:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _engine(url: URL, *, pool_size: int, max_overflow: int, **options: Any) -> Engine:
    connect_args = {} if "application_name" in url.query else {"application_name": "fnflow"}
    return create_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, connect_args=connect_args, **options
    )


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_writers(cpus: int) -> int:
    """Writer threads for ``cpus`` CPUs: one on two CPUs or fewer, two above. A writer sends a
    batch's decisions in one round trip (``pipeline.py``), so a second one mostly waits for the
    GIL: on 2 CPUs one writer ran 1.04-1.19x the flows of two and 1.1-1.4x those of three
    (bench/README.md, twentieth round). Above that, a second keeps a batch waiting for a row
    another process holds from stalling every write of this one."""
    return 1 if cpus <= 2 else 2


class PostgresStore(Store):
    backend = "postgresql"
    shared = True

    def __init__(
        self, url: str, *, synchronous: str = "full", writers: int | None = None, readers: int = 4
    ) -> None:
        """``synchronous="normal"`` sets ``synchronous_commit = off`` for fnflow's writes: a commit
        no longer waits for the WAL flush, so a crash of the database server (not of fnflow) may
        lose the last fraction of a second of acknowledged work; "full" keeps the server's setting."""
        if synchronous not in ("full", "normal"):
            raise ValueError("synchronous must be 'full' or 'normal'")
        writers = writers or default_writers(available_cpus())
        address = engine_url(url)
        self._conninfo = address.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listener: Listener | None = None  # one LISTEN connection for every subscriber
        self._listener_lock = threading.Lock()
        reads = _engine(
            address,
            pool_size=readers,
            max_overflow=2,
            isolation_level="REPEATABLE READ",
            execution_options={"postgresql_readonly": True},
        )
        # Writers keep their connections across batches, so a ping on checkout is rare and cheap;
        # a read checks one out each time, and a ping would be one more round trip each time (a
        # read on a connection gone stale is run again instead: ``Store._read``).
        writes = _engine(  # and one more for a migration (``migrate``), while the writers hold theirs
            address, pool_size=writers, max_overflow=1, isolation_level="READ COMMITTED", pool_pre_ping=True
        )
        if synchronous == "normal":
            event.listen(writes, "connect", _asynchronous_commit)
        super().__init__(url, reads, writes, readers=readers, writers=writers, retryable=lost_race)

    def listen(self, channels: list[str], on_message: Callable[[str, str], None]) -> Callable[[], None]:
        """Listen on the store's one LISTEN connection (see ``listener.py``); raises if the database
        cannot be reached now, reconnects by itself later. Call it from the asyncio loop that should
        run ``on_message``; a burst of the same (channel, payload) may be delivered once."""
        with self._listener_lock:
            if self._listener is None:
                self._listener = Listener(self._conninfo)
            listener = self._listener
        return listener.subscribe(channels, on_message)

    def cluster_slots(self) -> AdvisorySlots:
        """Advisory-lock slots on a connection of their own (see ``slots.py``)."""
        return AdvisorySlots(self._conninfo, self.listen)

    def close(self) -> None:
        with self._listener_lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.join()
        super().close()


def _asynchronous_commit(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    dbapi_connection.commit()
