"""Statements on the hot path, compiled once per dialect and run on the DBAPI cursor.

SQLAlchemy Core builds each statement (so the SQL still comes from the table definitions
and suits each dialect's parameter style), but executing through Core costs ~60 µs per
statement against ~5 µs on the driver. Accepting a call or applying a step runs several
statements, so those few go through ``Prepared``; everything else uses Core directly.
Only plain values (str, int, float, bytes, None) are passed: no type processors apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement


class Prepared:
    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def _sql(self, conn: Connection) -> tuple[str, tuple[str, ...] | None]:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            positions = getattr(compiled, "positiontup", None)
            order = tuple(positions) if dialect.positional and positions else None
            found = self._compiled[dialect.name] = (compiled.string, order)
        return found

    @staticmethod
    def _args(order: tuple[str, ...] | None, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        return params if order is None else tuple(params[name] for name in order)

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run once; returns the DBAPI cursor (``fetchone``, ``fetchall``, ``rowcount``)."""
        sql, order = self._sql(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql, self._args(order, params))
        return cursor

    def executemany(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        sql, order = self._sql(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(sql, [self._args(order, row) for row in rows])  # type: ignore[arg-type]
        cursor.close()
