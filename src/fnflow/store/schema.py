"""The tables, as SQLAlchemy Core objects shared by every backend.

Times are float seconds since the epoch (UTC) so both backends compare them the same way.
JSON documents are stored as text; the store never interprets them except the execution
state, which only the runtime reads.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

flows = Table(
    "flows",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("definition_hash", String(64), nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Content-addressed, immutable: each execution pins the hash it started with.
definitions = Table(
    "definitions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("text", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("flow_name", String(128), nullable=False),
    Column("name", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("definition_hash", String(64), nullable=False),
    Column("input", Text, nullable=False),
    Column("output", Text),
    Column("error", Text),
    Column("cause", Text),
    Column("started_at", Float, nullable=False),
    Column("stopped_at", Float),
    Column("state", Text),  # engine state (JSON); NULL once finished
    Column("version", Integer, nullable=False, default=1),
    UniqueConstraint("flow_name", "name", name="uq_executions_flow_name"),
)
Index("ix_executions_flow_status", executions.c.flow_name, executions.c.status, executions.c.started_at)

history = Table(
    "history",
    metadata,
    Column("execution_id", String(36), primary_key=True),
    Column("event_id", Integer, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("step", String(128), nullable=False, default=""),
    Column("time", Float, nullable=False),
    Column("detail", Text, nullable=False),
    Column("schedule_event_id", Integer, nullable=False, default=0),
)

# Work a task step asked for: run a function, send a message … Deleted when its result is applied.
tasks = Table(
    "tasks",
    metadata,
    Column("execution_id", String(36), primary_key=True),
    Column("activity", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0),  # times a worker picked it up
)
Index("ix_tasks_lease", tasks.c.lease_until)

timers = Table(
    "timers",
    metadata,
    Column("execution_id", String(36), primary_key=True),
    Column("timer", Integer, primary_key=True),
    Column("fire_at", Float, nullable=False),
)
Index("ix_timers_fire_at", timers.c.fire_at)

functions = Table(
    "functions",
    metadata,
    Column("service", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("runtime", String(32), nullable=False),
    Column("handler", String(256), nullable=False),
    Column("code", LargeBinary, nullable=False),
    Column("code_checksum", String(64), nullable=False),
    Column("timeout", Float, nullable=False),
    Column("memory_mb", Integer, nullable=False),
    Column("max_instances", Integer, nullable=False),
    Column("environment", Text, nullable=False, default="{}"),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
)

# Server-wide values that must survive restarts (e.g. the key that signs task tokens).
settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
