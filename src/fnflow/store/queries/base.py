"""What every query module shares: the connection and time conversion."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Row, Select, Table, delete
from sqlalchemy.dialects import postgresql, sqlite

from fnflow.errors import InvalidArgument
from fnflow.store.records import Page

T = TypeVar("T")


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

    def _purge(self, chosen: Select[Any], table: Table, referring: Sequence[tuple[Table, str]]) -> int:
        """Delete the rows of ``table`` whose ids ``chosen`` selects (rows other transactions are
        deleting passed over), with the rows of ``referring`` (table, column) that name them; how
        many rows of ``table``. The retention sweeper's chunk (``fnflow.retention``)."""
        ids = list(self.conn.execute(self._skip_locked(chosen)).scalars())
        if not ids:
            return 0
        for other, column in referring:
            self.conn.execute(delete(other).where(other.c[column].in_(ids)))
        return int(self.conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount)

    def _upsert(self, table: Table, values: dict[str, Any], key: tuple[str, ...]) -> None:
        """Insert a row, or update the one with the same ``key``; that one keeps its key and
        ``created_at``."""
        insert = dialect_insert(self.conn.dialect.name, table).values(values)
        changed = {k: v for k, v in values.items() if k not in (*key, "created_at")}
        self.conn.execute(
            insert.on_conflict_do_update(index_elements=[table.c[k] for k in key], set_=changed)
        )

    def _page_by_name(
        self,
        query: Select[Any],
        name: ColumnElement[str],
        limit: int,
        token: str | None,
        build: Callable[[Row[Any]], T],
    ) -> Page:
        """One page of ``query``'s rows in the order of their unique ``name``, after ``token``'s."""
        query = query.order_by(name).limit(limit + 1)
        if token:
            parts = decode_token(token, 1)
            if parts is None:
                raise InvalidArgument("nextToken is not valid")
            query = query.where(name > parts[0])
        rows = list(self.conn.execute(query))
        more = len(rows) > limit
        return Page(
            [build(r) for r in rows[:limit]],
            encode_token(rows[limit - 1]._mapping[name]) if more else None,
        )
