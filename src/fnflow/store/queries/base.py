"""What every query module shares: the connection and time conversion."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, Table
from sqlalchemy.dialects import postgresql, sqlite


def to_ts(value: datetime) -> float:
    return value.timestamp()


def from_ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def from_ts_req(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's own INSERT, which has ``ON CONFLICT`` (both backends speak it): a duplicate
    key is skipped, not an error, so the transaction stays usable and a race between processes
    has a winner instead of a failure. ``rowcount`` tells whether a row was written."""
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.execution_options(preserve_rowcount=True)


def encode_token(*parts: object) -> str:
    """An opaque page token; callers must not read it."""
    return base64.urlsafe_b64encode("\x1f".join(str(p) for p in parts).encode()).decode().rstrip("=")


def decode_token(token: str, count: int) -> list[str] | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except ValueError:
        return None
    parts = raw.split("\x1f")
    return parts if len(parts) == count else None


class Queries:
    """Base of the query mixins: holds the connection of the current transaction."""

    def __init__(self, conn: Connection, *, for_update: bool) -> None:
        self.conn = conn
        self.lock_rows = for_update  # the backend supports SELECT … FOR UPDATE (SKIP LOCKED)

    def _skip_locked(self, query: Select[Any]) -> Select[Any]:
        """``query`` locking the rows it returns and passing over rows other transactions locked
        (so concurrent claimers never wait for, or take, each other's rows); as is on SQLite, whose
        one writer at a time needs no row locks."""
        return query.with_for_update(skip_locked=True) if self.lock_rows else query
