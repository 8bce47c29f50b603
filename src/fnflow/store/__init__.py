"""Persistence: one ``Store`` interface, SQLite by default, PostgreSQL for several nodes."""

from __future__ import annotations

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
    TaskRecord,
    TimerRecord,
)
from fnflow.store.tx import Tx


def open_store(url: str = DEFAULT_URL, **options: str) -> Store:
    """Open (and migrate) the store a URL names: ``sqlite:///path`` or ``postgresql://…``."""
    if url.startswith("sqlite"):
        from fnflow.store.sqlite import SqliteStore

        return SqliteStore(url, **options)
    if url.startswith(("postgresql", "postgres")):
        raise NotImplementedError("the PostgreSQL backend is not built yet; use sqlite:///path")
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
    "Store",
    "TaskRecord",
    "TimerRecord",
    "Tx",
    "open_store",
]
