"""One live process per SQLite database.

A SQLite database is run by one process: at start it takes back every lease it finds (their
holders must be dead), so a second process on the same file would "recover" the live one's
running work and run it again. A server therefore takes an exclusive ``flock`` on a file beside
the database (``<database>.owner``) before it touches the database, and holds it for its life.
The kernel drops the lock when the process dies, however it dies (``kill -9`` too), so a stale
owner never blocks a restart. The file says who holds it, for the message the next one prints.
Several processes on one database is what PostgreSQL is for.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url


class DatabaseInUse(RuntimeError):
    """Another live process owns the SQLite database; the message says which and what to do."""

    def __init__(self, database: Path, holder: dict[str, Any]) -> None:
        who = holder.get("command") or "another process"
        details = [f"pid {holder['pid']}" if holder.get("pid") else "pid unknown"]
        if holder.get("host") and holder.get("host") != os.uname().nodename:
            details.append(f"on {holder['host']}")
        if holder.get("url"):
            details.append(f"serving {holder['url']}")
        if holder.get("started"):
            details.append(f"since {holder['started']}")
        super().__init__(
            f"the database {database} is in use by {who} ({', '.join(details)}). One SQLite database"
            " serves one process: stop that one, or give this one its own database with --db; to run"
            " several processes on the same data, use PostgreSQL (--db postgresql://…, see"
            " docs/deployment.md)."
        )
        self.holder = holder


@dataclass
class OwnerLock:
    """The held lock; ``release`` (or the process's end) gives it up."""

    path: Path
    _file: IO[str] | None

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):  # the next owner rewrites it; an empty file says "nobody"
                self._file.truncate(0)
            self._file.close()  # closing the only descriptor drops the flock
            self._file = None


def database_file(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names (None for PostgreSQL and in-memory databases)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


def claim_database(url: str, holder: dict[str, Any]) -> OwnerLock | None:
    """Become the one owner of the SQLite database ``url`` names, describing this process as ``holder``
    (shown to whoever tries next); None when the database needs no owner (PostgreSQL, in memory).

    Raises ``DatabaseInUse`` — having touched nothing — while a live process owns it.
    """
    database = database_file(url)
    if database is None:
        return None
    database.parent.mkdir(parents=True, exist_ok=True)
    path = database.with_name(database.name + ".owner")
    # Python opens files close-on-exec: function workers never inherit (and outlive us with) the lock.
    file = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        try:
            recorded = json.loads(file.read() or "{}")
        except ValueError:
            recorded = {}
        file.close()
        raise DatabaseInUse(database, recorded if isinstance(recorded, dict) else {}) from None
    except BaseException:
        file.close()
        raise
    file.seek(0)
    file.truncate(0)
    file.write(json.dumps({"pid": os.getpid(), "host": os.uname().nodename, **holder}))
    file.flush()
    return OwnerLock(path, file)
