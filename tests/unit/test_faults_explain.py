"""Driver errors about the database itself, raw or as SQLAlchemy wraps them, in plain words."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import OperationalError

from fnflow.store.faults import DatabaseUnavailable, explain


def test_a_write_lock_held_past_the_busy_timeout_is_said_plainly_raw_or_wrapped() -> None:
    raw = sqlite3.OperationalError("database is locked")
    for error in (raw, OperationalError("BEGIN IMMEDIATE", None, raw)):
        explained = explain(error)
        assert isinstance(explained, DatabaseUnavailable)
        assert "another program holds the database's write lock" in explained.message


def test_a_full_disk_from_the_driver_itself_is_explained() -> None:
    explained = explain(sqlite3.OperationalError("database or disk is full"))
    assert explained is not None and "disk is full" in explained.message


def test_errors_that_are_not_about_the_database_go_on_as_they_came() -> None:
    assert explain(ValueError("database is locked")) is None
    assert explain(sqlite3.IntegrityError("UNIQUE constraint failed: calls.id")) is None
