"""How many writer threads a PostgreSQL store runs by default: one on two CPUs or fewer, two above
(a writer sends a batch in one round trip; on 2 CPUs more writers waited for one another's GIL:
bench/README.md, twentieth round), unless FNFLOW_DB_WRITERS says."""

from __future__ import annotations

import pytest

from fnflow.config import Settings, is_postgres
from fnflow.store.postgres import available_cpus, default_writers


@pytest.mark.parametrize(("cpus", "writers"), [(1, 1), (2, 1), (3, 2), (8, 2), (64, 2)])
def test_one_writer_on_two_cpus_or_fewer_two_above(cpus: int, writers: int) -> None:
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
