"""How many writer threads a PostgreSQL store runs by default: one more than the CPUs, four at most
(on 2 CPUs, 4 writers' threads waited for one another: bench/README.md, thirteenth round), unless
FNFLOW_DB_WRITERS says."""

from __future__ import annotations

import pytest

from fnflow.config import Settings, is_postgres
from fnflow.store.postgres import available_cpus, default_writers


@pytest.mark.parametrize(("cpus", "writers"), [(1, 2), (2, 3), (3, 4), (8, 4), (64, 4)])
def test_one_writer_more_than_the_cpus_and_four_at_most(cpus: int, writers: int) -> None:
    assert default_writers(cpus) == writers


def test_the_cpus_are_those_this_process_may_use() -> None:
    import os

    assert available_cpus() == len(os.sched_getaffinity(0))


def test_fnflow_db_writers_sets_postgresqls_writers_and_is_ignored_on_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FNFLOW_DB_WRITERS", "6")
    monkeypatch.setenv("FNFLOW_DB", "postgresql://fnflow@db/fnflow")
    assert Settings.from_env().store_options() == {"synchronous": "full", "writers": 6}
    monkeypatch.setenv("FNFLOW_DB", "sqlite:///x.db")
    assert Settings.from_env().store_options() == {"synchronous": "full"}
    monkeypatch.delenv("FNFLOW_DB_WRITERS")
    monkeypatch.setenv("FNFLOW_DB", "postgresql://fnflow@db/fnflow")
    assert Settings.from_env().store_options() == {"synchronous": "full"}  # default_writers
    monkeypatch.setenv("FNFLOW_DB_WRITERS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("url", "postgres"),
    [
        ("postgresql://fnflow@db/fnflow", True),
        ("postgres://fnflow@db/fnflow", True),
        ("postgresql+psycopg://fnflow@db/fnflow", True),
        ("sqlite:///.fnflow/fnflow.db", False),
        ("sqlite:///postgres.db", False),
    ],
)
def test_a_postgresql_url_is_told_by_its_scheme(url: str, postgres: bool) -> None:
    assert is_postgres(url) is postgres
