"""Every migration upgrades a database that has rows in it: for each revision, a database is built
at that revision, given two rows in every table it has (values made from the columns' types), and
migrated to the newest schema; every row is still there, with the same values in the columns it
had — including the tables that migrations rebuild on SQLite (0002, 0004). Then the store opens it
and reads through its own queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine, insert, select, types

from fnflow.store.migrate import run_migrations, upgrade
from tests.contract.backends import Backend


def revisions() -> list[str]:
    config = Config()
    config.set_main_option("script_location", "fnflow.store:migrations")
    script = ScriptDirectory.from_config(config)
    return [r.revision for r in reversed(list(script.walk_revisions()))]


#: Values for columns with a CHECK constraint (any other value breaks it).
CHECKED = {
    ("executions", "status"): "Running",
    ("calls", "status"): "Enqueued",
    ("queue_messages", "status"): "Active",
    ("subscriptions", "notify_strategy"): "BACKOFF_RETRY",
    ("subscriptions", "notify_content_format"): "JSON",
    ("triggers", "kind"): "timer",
}


def value(table: str, column: Any, row: int) -> Any:
    if (table, column.name) in CHECKED:
        return CHECKED[(table, column.name)]
    kind = column.type
    if isinstance(kind, types.Boolean):
        return row % 2 == 0
    if isinstance(kind, types.Integer):
        return 1000 + row
    if isinstance(kind, types.Float | types.Numeric):
        return 1_700_000_000.25 + row
    if isinstance(kind, types.LargeBinary | types._Binary):
        return bytes([row, 0, 255, 10])
    if isinstance(kind, types.String | types.Text):
        length = getattr(kind, "length", None) or 64
        return f"{table[:3]}-{column.name[:6]}-{row}"[:length]
    raise AssertionError(f"no value for {table}.{column.name} of type {kind!r}")


def fill(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Two rows in every table; the rows as written."""
    meta = MetaData()
    meta.reflect(engine)
    written: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        for table in meta.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = []
            for row in range(2):
                values = {
                    c.name: value(table.name, c, row)
                    for c in table.columns
                    if not (c.primary_key and c.autoincrement is True and isinstance(c.type, types.Integer))
                }
                conn.execute(insert(table).values(values))
                rows.append(values)
            written[table.name] = rows
    return written


def read(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in meta.sorted_tables}


@pytest.fixture
def engine(backend: Backend, database_url: str) -> Iterator[Engine]:
    made = create_engine(backend.engine_url(database_url))
    yield made
    made.dispose()


@pytest.mark.parametrize("revision", revisions())
def test_a_database_with_rows_at_this_revision_upgrades_with_its_data_intact(
    revision: str, engine: Engine, backend: Backend, database_url: str
) -> None:
    with engine.connect() as conn:
        run_migrations(conn, revision)
        conn.commit()
    written = fill(engine)
    with engine.connect() as conn:
        upgrade(conn)
        conn.commit()
    now = read(engine)
    for table, rows in written.items():
        assert table in now, f"table {table} is gone after upgrading from {revision}"
        kept = [{k: r[k] for k in rows[0]} for r in now[table]]
        assert sorted(kept, key=repr) == sorted(rows, key=repr), (
            f"{table} changed when upgraded from {revision}"
        )
    store = backend.open(database_url)  # and the store opens it and reads through its own queries
    try:
        if "api_keys" in written:
            assert len(store.read_sync(lambda tx: tx.list_keys())) == 2
    finally:
        store.close()
