"""Several statements in one round trip, through libpq's pipeline mode on a psycopg connection.

psycopg's own pipeline mode sends one queued statement each time the socket is ready, and waits
for that (letting go of the GIL and taking it back) at every statement. In a busy process each of
those hand-overs costs about what the saved round trip did (bench/README.md, twentieth round).
Here every statement goes into libpq's buffer first; then one flush, and the results as they
come: a batch of decisions is one wait, and the BEGIN rides along.

Each statement is prepared on the connection the first time it is seen there (its text is the
key), as psycopg's own cursors do after a few runs. Values go as text, PostgreSQL casting them to
the types the statement says (the decisions' statements cast every value they insert).
"""

from __future__ import annotations

import select
from collections.abc import Sequence
from typing import Any

from psycopg import errors, pq
from sqlalchemy import Connection

_BEGIN = b"BEGIN ISOLATION LEVEL READ COMMITTED"
#: ``Connection.info`` key of the statements prepared on that driver connection (SQL -> name)
_PREPARED = "fnflow.pipeline-prepared"
#: statements prepared a connection at most (as psycopg's ``prepared_max``): past that, a new
#: one goes unprepared (decisions of many shapes: a flow of Map steps of every size, say)
MAX_PREPARED = 100
_Row = tuple[bytes | None, ...]
_S = pq.ExecStatus


def first_rows(conn: Connection, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[_Row | None]:
    """Run ``statements`` (``$n`` parameters) in the open transaction of ``conn``, begun here if
    the driver has not begun it yet; the first row each returns (its values as text), or None.
    If one fails, the rest do not run, its error is raised and the transaction is aborted."""
    dbapi = conn.connection.dbapi_connection
    pg, encoding = dbapi.pgconn, dbapi.info.encoding  # type: ignore[union-attr]
    prepared: dict[str, bytes] = conn.connection.info.setdefault(_PREPARED, {})
    naming: dict[str, bytes] = {}  # prepared in this pipeline: kept once PostgreSQL said yes
    sent: list[str | None] = []  # per command: the SQL it prepares, or None (BEGIN, a statement)
    runs: list[int] = []  # the commands that run a statement
    pg.enter_pipeline_mode()
    try:
        if pg.transaction_status == pq.TransactionStatus.IDLE:
            pg.send_query_params(_BEGIN, None)
            sent.append(None)
        for sql, args in statements:
            values = [_text(value, encoding) for value in args]
            name = prepared.get(sql) or naming.get(sql)
            if name is None and len(prepared) + len(naming) < MAX_PREPARED:
                name = naming[sql] = b"_fnflow_%d" % (len(prepared) + len(naming))
                pg.send_prepare(name, sql.encode(encoding))
                sent.append(sql)
            if name is None:
                pg.send_query_params(sql.encode(encoding), values)
            else:
                pg.send_query_prepared(name, values)
            runs.append(len(sent))
            sent.append(None)
    finally:
        try:
            pg.pipeline_sync()
            results = _results(pg)
            pg.exit_pipeline_mode()
        except BaseException:
            conn.invalidate()  # left in pipeline mode: nothing else could run on it
            raise
    failed = next((r for rs in results for r in rs if r.status == _S.FATAL_ERROR), None)
    for text, theirs in zip(sent, results, strict=True):
        if text is not None and theirs and theirs[0].status == _S.COMMAND_OK:
            prepared[text] = naming[text]
    if failed is not None:
        raise _error(failed)
    return [_first_row(results[i]) for i in runs]


def _results(pg: pq.abc.PGconn) -> list[list[pq.abc.PGresult]]:
    """Flush what was sent and read every command's results up to the sync (one list each)."""
    poll = select.poll()
    poll.register(pg.socket, select.POLLIN | select.POLLOUT)
    while pg.flush():  # libpq's buffer is bigger than the socket's: send while reading
        poll.poll()
        pg.consume_input()
    poll.modify(pg.socket, select.POLLIN)
    results: list[list[pq.abc.PGresult]] = []
    current: list[pq.abc.PGresult] = []
    while True:
        while pg.is_busy():
            poll.poll()
            pg.consume_input()
        result = pg.get_result()
        if result is None:  # the end of one command's results
            results.append(current)
            current = []
        elif result.status == _S.PIPELINE_SYNC:
            return results
        else:
            current.append(result)


def _first_row(results: list[pq.abc.PGresult]) -> _Row | None:
    for result in results:
        if result.status == _S.TUPLES_OK and result.ntuples:
            return tuple(result.get_value(0, column) for column in range(result.nfields))
    return None


def _text(value: Any, encoding: str) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode(encoding)
    if isinstance(value, int | float):  # bool included: PostgreSQL reads "True" and "False"
        return repr(value).encode()
    if isinstance(value, bytes):
        return b"\\x" + value.hex().encode()
    raise TypeError(f"cannot send a {type(value).__name__} as a statement's value")


def _error(result: pq.abc.PGresult) -> errors.Error:
    """The psycopg error of ``result``'s SQLSTATE (what ``lost_race`` and callers look at)."""
    sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    message = (result.error_message or b"").decode(errors="replace").strip()
    try:
        kind = errors.lookup(sqlstate)
    except KeyError:
        kind = errors.DatabaseError
    return kind(message)
