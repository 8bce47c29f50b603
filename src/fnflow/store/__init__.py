"""Persistence: one ``Store`` interface, SQLite by default, PostgreSQL for several nodes."""

from __future__ import annotations

from typing import Any

from fnflow.config import DEFAULT_URL
from fnflow.store.base import Store
from fnflow.store.records import (
    ApiKeyRecord,
    BinRequest,
    CallRecord,
    DeliveryRecord,
    ExecutionRecord,
    FlowRecord,
    FunctionRecord,
    HistoryRecord,
    Page,
    ScheduleRecord,
    TaskRecord,
    TimerRecord,
)
from fnflow.store.tx import Tx


def open_store(url: str = DEFAULT_URL, **options: Any) -> Store:
    """Open (and migrate) the store a URL names: ``sqlite:///path`` or ``postgresql://…``.

    Options go to the backend: ``synchronous`` ("full" or "normal") for both; ``writers`` and
    ``readers`` (connections) for PostgreSQL.
    """
    scheme = url.partition(":")[0]
    if scheme.startswith("sqlite"):
        from fnflow.store.sqlite import SqliteStore

        return SqliteStore(url, **options)
    if scheme.startswith("postgres"):
        from fnflow.store.postgres import PostgresStore

        return PostgresStore(url, **options)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://…")


__all__ = [
    "DEFAULT_URL",
    "ApiKeyRecord",
    "BinRequest",
    "CallRecord",
    "DeliveryRecord",
    "ExecutionRecord",
    "FlowRecord",
    "FunctionRecord",
    "HistoryRecord",
    "Page",
    "ScheduleRecord",
    "Store",
    "TaskRecord",
    "TimerRecord",
    "Tx",
    "open_store",
]
