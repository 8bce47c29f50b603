"""Persistence: one ``Store`` interface, SQLite by default, PostgreSQL for several nodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fnflow.config import DEFAULT_URL, is_postgres
from fnflow.store.base import Store
from fnflow.store.queries.decisions import DecisionWrite, Written
from fnflow.store.records import (
    AliasRecord,
    ApiKeyRecord,
    BinRequest,
    CallRecord,
    DeliveryRecord,
    EnvironmentRecord,
    ExecutionRecord,
    FlowRecord,
    FlowVersionRecord,
    FunctionRecord,
    HistoryRecord,
    LogRecord,
    MessageRecord,
    Page,
    QueueCounts,
    QueueRecord,
    ScheduleRecord,
    SecretRecord,
    ServiceVersionRecord,
    StackRecord,
    SubscriptionRecord,
    TaskRecord,
    TimerRecord,
    TopicMessageRecord,
    TopicRecord,
    TriggerRecord,
)
from fnflow.store.tx import Tx


class BackendUnavailable(RuntimeError):
    """The database URL is fine but the driver it needs is not installed (the message says which extra)."""


def backend(url: str) -> Callable[..., Store]:
    """The store class for ``url``: ``sqlite:///path`` or ``postgresql://…``."""
    if url.partition(":")[0].startswith("sqlite"):
        from fnflow.store.sqlite import SqliteStore

        return SqliteStore
    if is_postgres(url):
        try:
            from fnflow.store.postgres import PostgresStore
        except ImportError as e:
            if not (e.name or "").startswith("psycopg"):
                raise
            raise BackendUnavailable(
                "PostgreSQL needs the psycopg driver, which is not installed: "
                "pip install 'fnflow[postgres]' (in this environment)"
            ) from None
        return PostgresStore
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://…")


def open_store(url: str = DEFAULT_URL, **options: Any) -> Store:
    """Open (and migrate) the store a URL names: ``sqlite:///path`` or ``postgresql://…``.

    Options go to the backend: ``synchronous`` ("full" or "normal") for both; ``writers`` and
    ``readers`` (connections) for PostgreSQL.
    """
    return backend(url)(url, **options)


__all__ = [
    "DEFAULT_URL",
    "AliasRecord",
    "ApiKeyRecord",
    "BackendUnavailable",
    "BinRequest",
    "CallRecord",
    "DecisionWrite",
    "DeliveryRecord",
    "EnvironmentRecord",
    "ExecutionRecord",
    "FlowRecord",
    "FlowVersionRecord",
    "FunctionRecord",
    "HistoryRecord",
    "LogRecord",
    "MessageRecord",
    "Page",
    "QueueCounts",
    "QueueRecord",
    "ScheduleRecord",
    "SecretRecord",
    "ServiceVersionRecord",
    "StackRecord",
    "Store",
    "SubscriptionRecord",
    "TaskRecord",
    "TimerRecord",
    "TopicMessageRecord",
    "TopicRecord",
    "TriggerRecord",
    "Tx",
    "Written",
    "backend",
    "open_store",
]
