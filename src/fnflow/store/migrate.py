"""Schema migrations with Alembic; the scripts live in ``fnflow/store/migrations``."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "fnflow.store:migrations")
    config.attributes["connection"] = conn
    return config


def upgrade(conn: Connection, revision: str = "head") -> None:
    command.upgrade(_config(conn), revision)
