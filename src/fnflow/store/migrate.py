"""Schema migrations with Alembic; the scripts live in ``fnflow/store/migrations``.

Several processes may start at once on one PostgreSQL database: each takes a transaction-level
advisory lock first, so one migrates while the others wait, then find the schema current.
(On SQLite the store migrates on its ``BEGIN IMMEDIATE`` connection, which serializes the same way.)
Within one process a lock does it too: Alembic keeps the running migration in module globals.
"""

from __future__ import annotations

import threading

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, func, select

# Any constant bigint; fnflow's tables are migrated by one process at a time per database.
MIGRATION_LOCK = 0x666E666C6F77  # "fnflow"
_one_at_a_time = threading.Lock()


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "fnflow.store:migrations")
    config.attributes["connection"] = conn
    return config


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Migrate inside the connection's transaction; the caller commits."""
    with _one_at_a_time:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        command.upgrade(_config(conn), revision)
