"""What the database says when it cannot do its job, in words a person can act on.

Driver errors stop here: a full disk, a read-only database or a database that does not answer
becomes ``DatabaseUnavailable`` (503, ``Unavailable``) with a message saying what is wrong and
that fnflow carries on once it is fixed — the writer and the pools connect again by themselves.
Anything else goes on as it came (a bug, answered as an internal error).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

from fnflow.errors import Unavailable


class DatabaseUnavailable(Unavailable):
    """The database cannot be written or reached now (the message says why)."""


#: (words in the driver's message or SQLSTATE, what to tell the user)
_KNOWN = (
    (("database or disk is full", "disk full", "could not extend file", "no space left", "53100"),
     "the database's disk is full: free some space"),
    (("readonly database", "read-only", "read only", "25006"),
     "the database is read-only: make it writable again"),
    (("disk i/o error",), "the database's disk failed to read or write (I/O error)"),
    (("unable to open database file",), "the database file cannot be opened"),
    (("database is locked",), "another program holds the database's write lock: end its transaction"),
)  # fmt: skip


def explain(error: BaseException) -> DatabaseUnavailable | None:
    """The user-facing form of a driver error about the database itself (as SQLAlchemy wraps it,
    or raw from a driver: sqlite3, psycopg), or None."""
    orig = error.orig if isinstance(error, DBAPIError) else error
    if not type(orig).__module__.startswith(("sqlite3", "psycopg")):
        return None
    text = f"{orig} {getattr(orig, 'sqlstate', '') or ''}".lower()
    for words, what in _KNOWN:
        if any(w in text for w in words):
            return DatabaseUnavailable(f"{what}; fnflow carries on by itself once it is ({orig})")
    if not isinstance(error, DBAPIError):
        return None
    if isinstance(error, OperationalError) or error.connection_invalidated:
        return DatabaseUnavailable(
            f"the database does not answer: {error.orig}; fnflow connects again by itself"
        )
    return None
