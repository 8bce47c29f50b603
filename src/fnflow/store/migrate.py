"""Schema migrations with Alembic; the scripts live in ``fnflow/store/migrations``.

An empty database is given the declared schema at once (``schema.metadata``) and stamped with the
newest revision, as Alembic's cookbook builds a database from scratch; a database at the newest
revision is left as it is. Alembic itself, a tenth of a second to import and as long again to run
the scripts on an empty database, is loaded only to migrate an older schema: every server and
every command that opens a store starts that much sooner. ``tests/contract/test_migrations.py``
checks that both ways give the same schema.

Several processes may start at once on one PostgreSQL database: each takes a transaction-level
advisory lock first, so one migrates while the others wait, then find the schema current.
(On SQLite the store migrates on its ``BEGIN IMMEDIATE`` connection, which serializes the same way.)
Within one process a lock does it too: Alembic keeps the running migration in module globals.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
    inspect,
    select,
)

from fnflow.store.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

#: the newest migration's revision (a test checks that Alembic's scripts end there)
HEAD = "0013"
# Any constant bigint; fnflow's tables are migrated by one process at a time per database.
MIGRATION_LOCK = 0x666E666C6F77  # "fnflow"
_one_at_a_time = threading.Lock()
#: Alembic's own record of the revision a database is at, as Alembic creates it
_version = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def upgrade(conn: Connection) -> None:
    """Bring the schema to the newest revision inside the connection's transaction; the caller commits."""
    with _one_at_a_time:
        _lock(conn)
        if not _current(conn):
            _run_scripts(conn, "head")


def run_migrations(conn: Connection, revision: str) -> None:
    """Alembic's scripts up to ``revision``, whatever the database holds (tests build old schemas)."""
    with _one_at_a_time:
        _lock(conn)
        _run_scripts(conn, revision)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))


def _current(conn: Connection) -> bool:
    """Whether the schema is the newest: it was, or the database was empty and now is."""
    tables = set(inspect(conn).get_table_names())
    if _version.name in tables:
        return list(conn.execute(select(_version.c.version_num)).scalars()) == [HEAD]
    if tables & set(metadata.tables):  # fnflow's tables, but no revision: Alembic says what is wrong
        return False
    metadata.create_all(conn, checkfirst=False)
    _version.create(conn)
    conn.execute(_version.insert().values(version_num=HEAD))
    return True


def _run_scripts(conn: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(_config(conn), revision)


def _config(conn: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "fnflow.store:migrations")
    config.attributes["connection"] = conn
    return config
