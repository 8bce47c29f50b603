"""The schema that migrations build is the one ``schema.py`` declares, an empty database built from
that declaration is the one the migrations build, and re-running them is harmless."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect

from fnflow.store import Store
from fnflow.store.migrate import HEAD, run_migrations, upgrade
from fnflow.store.schema import metadata
from tests.contract.backends import Backend
from tests.contract.factories import execution


def head() -> str:
    config = Config()
    config.set_main_option("script_location", "fnflow.store:migrations")
    revision = ScriptDirectory.from_config(config).get_current_head()
    assert revision is not None
    return revision


@pytest.fixture
def engine(backend: Backend, database_url: str) -> Iterator[Engine]:
    """A bare engine on the test's empty database: these tests look below the store."""
    made = create_engine(backend.engine_url(database_url))
    yield made
    made.dispose()


def migrate(engine: Engine) -> None:
    """Alembic's scripts, from wherever the database is (``upgrade`` builds an empty one at once)."""
    with engine.connect() as conn:
        run_migrations(conn, "head")
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_there_is_exactly_one_head() -> None:
    config = Config()
    config.set_main_option("script_location", "fnflow.store:migrations")
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD], "set migrate.HEAD to the new head"


def test_migrated_schema_equals_the_declared_one(engine: Engine) -> None:
    assert current_revision(engine) is None
    migrate(engine)
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), metadata)
    assert drift == [], "schema.py and the migrations disagree; add a migration"
    assert current_revision(engine) == head()


def test_migrations_are_idempotent(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)
    assert current_revision(engine) == head()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_opening_migrates_to_head_and_reopening_keeps_data(
    store: Store, open_again: Callable[[], Store], engine: Engine
) -> None:
    assert current_revision(engine) == head()
    store.write_sync(lambda tx: tx.insert_execution(execution("e1")))
    store.migrate()
    store.migrate()
    store.close()
    for _ in range(2):
        again = open_again()
        assert again.read_sync(lambda tx: tx.get_execution("f", "e1")) == execution("e1")
        again.close()
    assert current_revision(engine) == head()


def shape(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every table as the database describes it: columns in order with their types, defaults and
    nullability; keys, indexes, unique, foreign-key and check constraints, with their names."""
    seen = inspect(engine)

    def by_name(items: list[Any]) -> list[Any]:
        return sorted(items, key=lambda item: str(item.get("name")))

    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in seen.get_columns(table)
            ],
            "primary key": seen.get_pk_constraint(table),
            "indexes": by_name(seen.get_indexes(table)),
            "unique": by_name(seen.get_unique_constraints(table)),
            "foreign keys": by_name(seen.get_foreign_keys(table)),
            "checks": by_name(seen.get_check_constraints(table)),
        }
        for table in sorted(seen.get_table_names())
    }


def test_an_empty_database_is_built_as_the_migrations_build_it(
    engine: Engine, backend: Backend, tmp_path: Path
) -> None:
    migrate(engine)
    (tmp_path / "built").mkdir()
    with backend.fresh(tmp_path / "built") as url:
        built = create_engine(backend.engine_url(url))
        try:
            with built.connect() as conn:
                upgrade(conn)
                conn.commit()
            assert current_revision(built) == head()
            assert shape(built) == shape(engine)
        finally:
            built.dispose()


def test_a_database_with_fnflow_s_tables_but_no_revision_is_left_to_alembic(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.commit()
    with engine.connect() as conn, pytest.raises(Exception, match="already exists"):
        upgrade(conn)  # the scripts start from nothing and find the tables there: said, not hidden
