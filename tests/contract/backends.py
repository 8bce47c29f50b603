"""The backends the store contract suite runs on, and how each gives a test a fresh, empty database.

To add a backend: write a class like ``SqliteBackend`` (``fresh``, ``open``, ``engine_url``,
``close``, ``group_commit``) and list it in ``BACKENDS`` and ``make_backends``; every contract
test then runs on it too. The PostgreSQL one is already here: while ``open_store`` raises
NotImplementedError for ``postgresql://`` its store tests skip with a loud reason (and a banner
at the end of the run); the day it opens, they run with no change to this suite.

PostgreSQL comes from ``fnflow.testing.admin_url()``: ``FNFLOW_TEST_PG`` (an admin DSN; a broken one
fails the run), else a server on 127.0.0.1:5432 if one answers, else a throwaway cluster of its own
(initdb/pg_ctl from PATH or /usr/lib/postgresql/*/bin, about a second to start, stopped and removed
when the process exits). Only when none of these works do the tests skip, loudly. A throwaway
database is created once per session (per xdist worker) and each test gets its own fresh schema in
it through ``search_path`` in the URL: measured here, CREATE + DROP DATABASE costs 0.3-1.5 s
(checkpoints) against ~10 ms for a schema, and the suite must stay fast. Everything is dropped at
the end of the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy.engine import URL, make_url

from fnflow.store import Store, open_store
from fnflow.testing import NoPostgres, PostgresMisconfigured, admin_url
from tests.postgres import MARK, no_postgres

BACKENDS = ["sqlite", "postgres"]


class Backend(Protocol):
    name: str
    #: the store commits concurrent ``write`` jobs together (``write_stats`` shows it)
    group_commit: bool

    def fresh(self, tmp_path: Path) -> AbstractContextManager[str]:
        """The URL of an empty database that lives for one test."""
        ...

    def open(self, url: str) -> Store:
        """``open_store(url)``; skips the test (loudly) if the backend is not built yet."""
        ...

    def engine_url(self, url: str) -> str:
        """The URL for a bare SQLAlchemy engine (migration tests look below the store)."""
        ...

    def close(self) -> None: ...


class SqliteBackend:
    name = "sqlite"
    group_commit = True

    @contextmanager
    def fresh(self, tmp_path: Path) -> Iterator[str]:
        yield f"sqlite:///{tmp_path / 'fnflow.db'}"

    def open(self, url: str) -> Store:
        return open_store(url)

    def engine_url(self, url: str) -> str:
        return url

    def close(self) -> None:
        pass


def _loud(reason: str) -> str:
    return f"{MARK} CONTRACT NOT RUN: {reason}"


class PostgresBackend:
    name = "postgres"
    group_commit = True

    def __init__(self) -> None:
        self._admin: URL | None = None
        self._database: str | None = None
        self._unavailable: str | None = None
        self._broken: str | None = None
        self._not_built: str | None = None

    def _server(self) -> URL:
        """The admin URL of a reachable server, or skip; resolved once per session."""
        if self._admin is not None:
            return self._admin
        if self._broken is not None:
            pytest.fail(self._broken)
        if self._unavailable is not None:
            no_postgres("CONTRACT", self._unavailable)
        try:
            admin = make_url(admin_url()).set(drivername="postgresql")  # libpq spelling
        except PostgresMisconfigured as e:  # asked for explicitly: must not look like a pass
            self._broken = str(e)
            pytest.fail(self._broken)
        except NoPostgres as e:
            self._unavailable = f"no PostgreSQL server: {e}"
            no_postgres("CONTRACT", self._unavailable)
        database = f"fnflow_contract_{uuid.uuid4().hex[:12]}"
        self._execute(admin, f'CREATE DATABASE "{database}"')
        self._admin, self._database = admin, database
        return admin

    @staticmethod
    def _execute(url: URL, *statements: str) -> None:
        import psycopg

        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    @contextmanager
    def fresh(self, tmp_path: Path) -> Iterator[str]:
        database = self._server().set(database=self._database)
        schema = f"t_{uuid.uuid4().hex[:16]}"
        self._execute(database, f'CREATE SCHEMA "{schema}"')
        url = database.set(query={"options": f"-csearch_path={schema}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            self._execute(database, "SET lock_timeout = '10s'", f'DROP SCHEMA "{schema}" CASCADE')

    def open(self, url: str) -> Store:
        if self._not_built is not None:
            pytest.skip(self._not_built)
        try:
            return open_store(url)
        except NotImplementedError as e:
            self._not_built = _loud(
                f"open_store('postgresql://...') raises NotImplementedError ({e}); "
                "the same suite runs unchanged once the backend exists"
            )
            pytest.skip(self._not_built)

    def engine_url(self, url: str) -> str:
        return url.replace("postgresql://", "postgresql+psycopg://", 1)

    def close(self) -> None:
        if self._admin is not None and self._database is not None:
            self._execute(self._admin, f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')


def make_backends() -> dict[str, Backend]:
    made: dict[str, Backend] = {"sqlite": SqliteBackend(), "postgres": PostgresBackend()}
    assert list(made) == BACKENDS
    return made
