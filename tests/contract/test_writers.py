"""PostgreSQL's writer threads, as a store opens them by default, follow ``default_writers``
(SQLite writes on the event loop, with one commit thread)."""

from __future__ import annotations

import pytest

from fnflow.store import Store
from fnflow.store.postgres import available_cpus, default_writers
from fnflow.store.writer import BatchWriter


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_postgresql_store_runs_one_writer_more_than_its_cpus(store: Store) -> None:
    writer = store._writer
    assert isinstance(writer, BatchWriter)
    assert len(writer.threads) == default_writers(available_cpus())
