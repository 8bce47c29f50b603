"""Statements on the hot path, compiled once per dialect and run on the DBAPI cursor.

SQLAlchemy Core builds each statement (so the SQL still comes from the table definitions
and suits each dialect's parameter style), but executing through Core costs ~60 µs per
statement against ~5 µs on the driver. Accepting a call or applying a step runs several
statements, so those few go through ``Prepared``; everything else uses Core directly.
Only plain values (str, int, float, bool, bytes, None) are passed: no type processors apply.
A NULL the statement sets itself is written ``null()``: a bind whose value is None is taken for a
parameter the caller passes.
A statement that needs a dialect's own construct (``INSERT … ON CONFLICT``) is given as a
function of the dialect's name.

They all run on one cursor per driver connection, made the first time (``driver_cursor``): a psycopg
cursor costs 5 to 11 µs to make, and a flow step on PostgreSQL runs seven statements. Each
statement's rows are fetched before the next runs, so no two share it at once.

Statements with many parameters (a decision's one statement, inserts of many rows) are written
with PostgreSQL's own ``$1, $2 …`` there (``numbered``) and run on psycopg's ``RawCursor``
(``raw_cursor``), which passes them as they are: psycopg turns ``%s`` into ``$n`` in Python, at
~3.8 µs a parameter, and keeps the result only for statements of at most 50 parameters and
4 KB, so a flow step's decision (50 to 70 parameters) paid ~230 µs each time, and an insert of
100 accepted calls ~7 ms (bench/README.md, eighteenth round).
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.sql import ClauseElement


class Prepared:
    def __init__(self, statement: ClauseElement | Callable[[str], ClauseElement]) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _sql(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            statement = self._statement
            if not isinstance(statement, ClauseElement):
                statement = statement(dialect.name)
            compiled = statement.compile(dialect=dialect)
            positions = getattr(compiled, "positiontup", None)
            order = tuple(positions) if dialect.positional and positions else None
            # Literals inside expressions (``version + 1``) become binds with their value preset.
            constants = {k: v for k, v in compiled.params.items() if v is not None}
            found = self._compiled[dialect.name] = _Compiled(compiled.string, order, constants)
        return found

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run once; how many rows it changed."""
        return int(self._execute(conn, params).rowcount)

    def one(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run once; the first row it returns (a tuple in the statement's column order), or None.
        For a statement of one row at most (by a key, an aggregate): every row is fetched, so the
        statement is done (SQLite keeps one that may have more rows active until then)."""
        rows = self._execute(conn, params).fetchall()
        return rows[0] if rows else None

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Run once; every row it returns."""
        return list(self._execute(conn, params).fetchall())

    def _execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        compiled = self._sql(conn)
        shared = driver_cursor(conn)
        shared.execute(compiled.sql, compiled.args(params))
        return shared

    def executemany(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        compiled = self._sql(conn)
        driver_cursor(conn).executemany(compiled.sql, [compiled.args(row) for row in rows])

    def execute_each(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> list[int]:
        """Run once per row, in one round trip where the driver can (psycopg's pipeline mode);
        the row count of each run (``executemany`` only tells the total)."""
        return [cursor.rowcount for cursor in self._each(conn, rows)]

    def fetch_each(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> list[Any]:
        """``execute_each``, but the first row each run returns (None if none): an UPDATE of one
        row by its key ``RETURNING`` it, say."""
        return [cursor.fetchone() if cursor.description else None for cursor in self._each(conn, rows)]

    def _each(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
        """The cursor of each run, in order, once every run is done; each closed after use."""
        compiled = self._sql(conn)
        dbapi = conn.connection.dbapi_connection
        pipeline = getattr(dbapi, "pipeline", None)
        cursors = []
        with pipeline() if pipeline else nullcontext():
            for row in rows:
                cursor = dbapi.cursor()  # type: ignore[union-attr]
                cursor.execute(compiled.sql, compiled.args(row))
                cursors.append(cursor)
        for cursor in cursors:
            yield cursor
            cursor.close()


def driver_cursor(conn: Connection) -> Any:
    """The driver cursor of ``conn``'s driver connection, made the first time it is asked for and
    kept as long as that connection lives (SQLAlchemy clears a connection's ``info`` when it
    replaces it)."""
    info = conn.connection.info
    found = info.get(_CURSOR)
    if found is None:
        found = info[_CURSOR] = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    return found


_CURSOR = "fnflow.cursor"
_RAW_CURSOR = "fnflow.raw-cursor"
_MARK = re.compile(r"%s")


def raw_cursor(conn: Connection) -> Any:
    """psycopg's ``RawCursor`` on ``conn``'s driver connection, for statements that ``numbered``
    wrote; kept like ``driver_cursor``. PostgreSQL only."""
    info = conn.connection.info
    found = info.get(_RAW_CURSOR)
    if found is None:
        from psycopg import RawCursor  # PostgreSQL's driver is an optional dependency

        found = info[_RAW_CURSOR] = RawCursor(conn.connection.dbapi_connection)  # type: ignore[call-overload]
    return found


def numbered(sql: str) -> str:
    """``sql`` with its ``%s`` parameters written ``$1, $2 …`` in order (for ``raw_cursor``); ``sql``
    must have no other ``%``."""
    count = itertools.count(1)
    return _MARK.sub(lambda _: f"${next(count)}", sql)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # parameter names in position order, for positional drivers
    constants: dict[str, Any]

    def args(self, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        if self.constants:
            params = {**self.constants, **params}
        if self.order is None:
            return params
        if len(self.order) == 1:
            return (params[self.order[0]],)
        return operator.itemgetter(*self.order)(params)  # type: ignore[no-any-return]


class ManyRows:
    """An INSERT of many rows as few statements of up to ``chunk`` rows each (``VALUES (…), (…)``).

    A driver's ``executemany`` steps the statement once per row, and SQLite's driver lets go of
    the GIL at each step: under load every row becomes a hand-over between the writer thread
    and the event loop, which then waits. One statement per chunk makes that one step.
    """

    def __init__(self, table: Table, columns: Sequence[str], chunk: int = 200) -> None:
        self._table = table
        self._columns = tuple(columns)
        self._chunk = chunk
        self._sql: dict[tuple[str, int, str | None], str] = {}

    def insert(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        self._run(conn, rows, None)

    def insert_new(self, conn: Connection, rows: Sequence[Sequence[Any]], key: str) -> set[Any]:
        """Insert the rows whose ``key`` (a unique column) is not taken; the keys inserted. One
        statement per chunk, no look before: a taken key is the rare case."""
        return {row[0] for row in self._run(conn, rows, key)}

    def _run(self, conn: Connection, rows: Sequence[Sequence[Any]], key: str | None) -> list[Any]:
        shared = raw_cursor(conn) if conn.dialect.name == "postgresql" else driver_cursor(conn)
        returned: list[Any] = []
        for start in range(0, len(rows), self._chunk):
            part = rows[start : start + self._chunk]
            shared.execute(self._statement(conn, len(part), key), list(chain.from_iterable(part)))
            if key is not None:
                returned += shared.fetchall()
        return returned

    def _statement(self, conn: Connection, n: int, key: str | None) -> str:
        dialect = conn.dialect
        sql = self._sql.get((dialect.name, n, key))
        if sql is None:
            quote = dialect.identifier_preparer.quote
            marker = "?" if dialect.paramstyle == "qmark" else "%s"
            row = "(" + ", ".join([marker] * len(self._columns)) + ")"
            columns = ", ".join(quote(c) for c in self._columns)
            sql = f"INSERT INTO {quote(self._table.name)} ({columns}) VALUES " + ", ".join([row] * n)
            if key is not None:
                sql += f" ON CONFLICT ({quote(key)}) DO NOTHING RETURNING {quote(key)}"
            if dialect.name == "postgresql":
                sql = numbered(sql)
            self._sql[(dialect.name, n, key)] = sql
        return sql
