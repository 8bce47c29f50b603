"""The schema that migrations build is the one ``schema.py`` declares, and re-running them is harmless."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine

from fnflow.store import Store
from fnflow.store.migrate import upgrade
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
    with engine.connect() as conn:
        upgrade(conn)
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_there_is_exactly_one_head() -> None:
    config = Config()
    config.set_main_option("script_location", "fnflow.store:migrations")
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


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
