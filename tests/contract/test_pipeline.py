"""Statements sent together through libpq's pipeline mode (``fnflow.store.pipeline``), on
PostgreSQL: each returns its first row, in the open transaction; the first that fails stops the
rest with its own error and aborts the transaction; each statement is prepared once a connection."""

from __future__ import annotations

import psycopg
import pytest

from fnflow.store import Store, Tx, pipeline
from fnflow.store.pipeline import first_rows
from fnflow.store.postgres import lost_race

ADD = "INSERT INTO settings (key, value) VALUES ($1, $2) RETURNING key"
GET = "SELECT value FROM settings WHERE key = $1"
PREPARED = "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1"


def settings_of(store: Store) -> list[tuple[str, str]]:
    rows = store.read_sync(
        lambda tx: tx.conn.exec_driver_sql("SELECT key, value FROM settings ORDER BY key").all()
    )
    return [(key, value) for key, value in rows]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_each_statement_returns_its_first_row_as_text_in_the_open_transaction(store: Store) -> None:
    values = ("é", 2**40, 0.1, None, True, b"\x00\xff")
    typed = "SELECT $1::text, $2::bigint, $3::float8, $4::text, $5::boolean, $6::bytea"

    def job(tx: Tx) -> list[tuple[bytes | None, ...] | None]:
        return first_rows(tx.conn, [(ADD, ("a", "1")), (typed, values), (GET, ("none",)), (ADD, ("b", "2"))])

    rows = store.write_sync(job)
    assert rows == [
        (b"a",),
        ("é".encode(), b"1099511627776", b"0.1", None, b"t", b"\\x00ff"),
        None,  # no row
        (b"b",),
    ]
    assert settings_of(store) == [("a", "1"), ("b", "2")]  # committed with the transaction


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_first_statement_that_fails_stops_the_rest_and_aborts_the_transaction(store: Store) -> None:
    store.write_sync(lambda tx: first_rows(tx.conn, [(ADD, ("a", "first"))]))

    def job(tx: Tx) -> None:
        first_rows(tx.conn, [(ADD, ("b", "lost")), (ADD, ("a", "again")), (ADD, ("c", "never run"))])

    with pytest.raises(psycopg.errors.UniqueViolation, match="settings"):
        store.write_sync(job)
    assert settings_of(store) == [("a", "first")]
    store.write_sync(lambda tx: first_rows(tx.conn, [(ADD, ("d", "after"))]))  # the connection goes on
    assert settings_of(store) == [("a", "first"), ("d", "after")]


def test_an_error_keeps_its_sqlstate_so_a_lost_race_is_run_again() -> None:
    from fnflow.store.pipeline import _error  # what a failed result becomes

    class Result:
        def __init__(self, sqlstate: bytes) -> None:
            self.sqlstate = sqlstate
            self.error_message = b"ERROR:  something\n"

        def error_field(self, _: object) -> bytes:
            return self.sqlstate

    deadlock = _error(Result(b"40P01"))  # type: ignore[arg-type]
    assert isinstance(deadlock, psycopg.errors.DeadlockDetected) and lost_race(deadlock)
    unknown = _error(Result(b"ZZ999"))  # type: ignore[arg-type]
    assert isinstance(unknown, psycopg.DatabaseError) and not lost_race(unknown)
    assert str(unknown) == "ERROR:  something"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_statement_is_prepared_once_a_connection_and_a_bad_one_not_at_all(store: Store) -> None:

    def job(tx: Tx) -> tuple[object, ...]:
        first_rows(tx.conn, [(GET, ("x",))])
        first_rows(tx.conn, [(GET, ("y",)), (GET, ("z",))])
        (count,) = tx.conn.exec_driver_sql(PREPARED.replace("$1", "%s"), (GET,)).one()
        return (count,)

    assert store.write_sync(job) == (1,)
    for _ in range(2):  # refused each time: its name was not kept for a statement that does not exist
        with pytest.raises(psycopg.errors.SyntaxError):
            store.write_sync(lambda tx: first_rows(tx.conn, [("SELEC 1", ())]))
    assert store.write_sync(lambda tx: first_rows(tx.conn, [(GET, ("x",))])) == [None]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_past_the_prepared_statements_a_connection_keeps_a_new_one_runs_unprepared(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "MAX_PREPARED", 1)
    other = "SELECT key FROM settings WHERE value = $1"

    def job(tx: Tx) -> tuple[object, ...]:
        first_rows(tx.conn, [(ADD, ("a", "1"))])  # prepared: the one a connection may keep here
        rows = first_rows(tx.conn, [(GET, ("a",)), (other, ("1",))])
        counts = [
            tx.conn.exec_driver_sql(PREPARED.replace("$1", "%s"), (sql,)).scalar() for sql in (ADD, GET)
        ]
        return rows, counts

    assert store.write_sync(job) == ([(b"1",), (b"a",)], [1, 0])
