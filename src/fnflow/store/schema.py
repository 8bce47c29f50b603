"""The tables, as SQLAlchemy Core objects shared by every backend.

Times are float seconds since the epoch (UTC) so both backends compare them the same way.
JSON documents are stored as text; the store never interprets them except the execution
state, which only the runtime reads.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
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

# The values status columns may hold (CHECK constraints); a test holds them equal to the Python enums.
EXECUTION_STATUSES = ("Running", "Succeeded", "Failed", "TimedOut", "Stopped")
CALL_STATUSES = ("Enqueued", "Running", "Retrying", "Succeeded", "Failed", "Stopping", "Stopped", "Expired")


def one_of(table: str, column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{table}_{column}")


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
    # FnF's ExecutionMode: Standard, or Express (started with StartSyncExecution only)
    Column("execution_mode", String(16), nullable=False, server_default="Standard"),
    Column("role_arn", Text, nullable=False, server_default=""),  # FnF's RoleArn, kept as given
    Column("version", Integer, nullable=False, server_default="1"),  # the flow version it has now
)

# Every definition a flow has had, numbered from 1: a version is never changed; rolling back makes
# a new version with an old definition.
flow_versions = Table(
    "flow_versions",
    metadata,
    Column("flow_name", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition_hash", String(64), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
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
    # A child execution: the parent and its task step's attempt that started it, and how deep it is
    # nested; NULL and 0 for a top-level one.
    Column("parent_id", String(36)),
    Column("parent_activity", Integer),
    Column("depth", Integer, nullable=False, default=0, server_default="0"),
    # The task token to report when the execution ends (a sync child's parent step, or a
    # StartExecution's CallbackFnFTaskToken).
    Column("callback_token", Text),
    Column("flow_version", Integer),  # the flow version it runs (NULL: started before versions)
    UniqueConstraint("flow_name", "name", name="uq_executions_flow_name"),
    one_of("executions", "status", EXECUTION_STATUSES),
)
Index("ix_executions_flow_status", executions.c.flow_name, executions.c.status, executions.c.started_at)
# a flow's executions, newest first (the list without a status filter); migration 0011
Index("ix_executions_flow_started", executions.c.flow_name, executions.c.started_at, executions.c.id)
Index("ix_executions_parent", executions.c.parent_id)
# finished executions by when they ended, for retention; migration 0013
Index("ix_executions_status_stopped", executions.c.status, executions.c.stopped_at)

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
    # runtime settings, annotations, async policy
    Column("options", Text, nullable=False, default="{}", server_default="{}"),
)

# What a function's requirements.txt resolved to when it was first installed, keyed by the hash
# that names its folder on every machine; other processes install the same versions.
function_environments = Table(
    "function_environments",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("python", String(128), nullable=False),
    Column("requirements", Text, nullable=False),
    Column("packages", Text, nullable=False),  # JSON: [[name, version], ...]
    Column("created_at", Float, nullable=False),
    Column("used_at", Float, nullable=False),
)

# Layers (Function Compute's): zips of shared folders that functions put on their import path,
# stored once by checksum however many functions name them.
function_layers = Table(
    "function_layers",
    metadata,
    Column("checksum", String(64), primary_key=True),
    Column("code", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("used_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),  # "" once sealed: only keys from before 0010
    Column("scope", String(16), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("sealed_secret", LargeBinary, nullable=True),  # the secret, sealed by fnflow.secretbox
    Column("secret_key_id", String(32), nullable=True),  # the id of the server key that sealed it
)

# Server-wide values that must survive restarts (e.g. the key that signs task tokens).
settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Asynchronous calls (/async-function, FC async invocation): the request, its state and its result.
calls = Table(
    "calls",
    metadata,
    Column("id", String(128), primary_key=True),  # the X-Call-Id
    Column("service", String(128), nullable=False),
    Column("function", String(128), nullable=False),
    Column("queue", String(64), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("method", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("headers", Text, nullable=False),  # JSON list of [name, value]
    Column("body", LargeBinary, nullable=False),
    Column("callback_url", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("run_at", Float, nullable=False),  # when the next attempt may start
    Column("expires_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Column("result_status", Integer),
    Column("result_headers", Text),
    Column("result_body", LargeBinary),
    Column("error", Text),
    Column("dead", Boolean, nullable=False, default=False),  # in the dead-letter list
    Column("task_execution", String(36)),  # a flow task step waiting for this call (pattern sync)
    Column("task_activity", Integer),
    Column("qualifier", String(128)),  # the version or alias it names (NULL: LATEST)
    Column("version", String(32)),  # the version that served its last attempt ("LATEST" or a number)
    one_of("calls", "status", CALL_STATUSES),
)
Index("ix_calls_status_run_at", calls.c.status, calls.c.run_at)
Index("ix_calls_function", calls.c.service, calls.c.function, calls.c.created_at)
Index("ix_calls_task", calls.c.task_execution, calls.c.task_activity)

# Outgoing HTTP posts that must be delivered: callbacks and destinations of finished calls.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(128), nullable=False),  # the call; for kind notify, the topic message
    Column("kind", String(16), nullable=False),  # callback | on_success | on_failure | notify
    Column("target", Text, nullable=False),  # a URL or a function
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # Pending | Delivered | Failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("run_at", Float, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
)
Index("ix_deliveries_call", deliveries.c.call_id)
Index("ix_deliveries_status_run_at", deliveries.c.status, deliveries.c.run_at)

# The built-in request bin (/bin/{name}): the last requests each bin received.
bin_requests = Table(
    "bin_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bin", String(128), nullable=False),
    Column("method", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", Float, nullable=False),
)
Index("ix_bin_requests_bin", bin_requests.c.bin, bin_requests.c.id)

# Cron schedules of flows. ``next_fire_at`` is the tick to fire next (NULL while disabled); the
# process that moves it on from the value it read is the one that starts that tick's execution.
schedules = Table(
    "schedules",
    metadata,
    Column("flow_name", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("cron_expression", Text, nullable=False),
    Column("time_zone", String(64), nullable=False, default=""),
    Column("payload", Text, nullable=False, default="{}"),  # JSON object: the executions' input
    Column("enabled", Boolean, nullable=False, default=True),
    Column("description", Text, nullable=False, default=""),
    Column("next_fire_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # ticks missed (fnflow down, or late): fireOnce fires the latest of them once, skip none
    Column("missed_ticks", String(16), nullable=False, server_default="fireOnce"),
)
Index("ix_schedules_next_fire_at", schedules.c.next_fire_at)

# Nonces of signed requests (FnF's SignatureNonce), each kept as long as its request's timestamp is
# accepted: a request whose key and nonce are here is a replay.
request_nonces = Table(
    "request_nonces",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False),
)
Index("ix_request_nonces_expires_at", request_nonces.c.expires_at)
# What functions printed (stdout, stderr) and what fnflow noted about their calls, newest last.
# Bounded per function by age and size (``LogQueries.prune_function_logs``).
function_logs = Table(
    "function_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(128), nullable=False),
    Column("function", String(128), nullable=False),
    Column("call_id", String(128), nullable=False, default=""),  # "" outside a call (a worker's start)
    Column("instance", String(64), nullable=False, default=""),
    Column("stream", String(8), nullable=False),  # stdout | stderr
    Column("time", Float, nullable=False),
    Column("text", Text, nullable=False),
)
Index("ix_function_logs_function", function_logs.c.service, function_logs.c.function, function_logs.c.id)
Index("ix_function_logs_time", function_logs.c.time)

# Secrets functions read (OpenFaaS' /system/secrets): values encrypted with a key kept outside the
# database (``fnflow.secretbox``); ``key_id`` names the key, so a process can tell it lacks it.
secrets = Table(
    "secrets",
    metadata,
    Column("service", String(128), primary_key=True),  # the OpenFaaS namespace
    Column("name", String(253), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Built-in queues (what MNS queues are to FDL's ``acs:mns:::/queues/{q}/messages``): attributes.
queues = Table(
    "queues",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("visibility_timeout", Float, nullable=False),
    Column("delay_seconds", Float, nullable=False),
    Column("maximum_message_size", Integer, nullable=False),
    Column("message_retention_period", Float, nullable=False),
    Column("polling_wait_seconds", Float, nullable=False),
    Column("max_receive_count", Integer),  # NULL: receive a message any number of times
    Column("dead_letter_queue", String(128)),  # where it goes after max_receive_count (NULL: dropped)
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# A queue's messages. A message is leased to the receive that got it: ``lease_owner`` names the
# receive (its receipt handles carry it), ``lease_until`` is the message's next visible time —
# in the future while it is delayed (no owner) or received (an owner). A Deleted row is a
# tombstone kept until ``expires_at`` so that the sender's own message id stays an idempotency key.
MESSAGE_STATUSES = ("Active", "Deleted")
queue_messages = Table(
    "queue_messages",
    metadata,
    Column("queue", String(128), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("body", Text, nullable=False),
    Column("body_md5", String(32), nullable=False),  # upper-case hex, as MNS's MessageBodyMD5
    Column("priority", Integer, nullable=False),  # 1 (first) … 16
    Column("status", String(16), nullable=False),
    Column("keyed", Boolean, nullable=False),  # the sender chose the id
    Column("enqueued_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),  # the end of its retention period
    Column("first_dequeued_at", Float),
    Column("dequeue_count", Integer, nullable=False, default=0),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    one_of("queue_messages", "status", MESSAGE_STATUSES),
)
Index(
    "ix_queue_messages_claim",
    queue_messages.c.queue,
    queue_messages.c.status,
    queue_messages.c.priority,
    queue_messages.c.enqueued_at,
)
Index(
    "ix_queue_messages_visible", queue_messages.c.queue, queue_messages.c.status, queue_messages.c.lease_until
)
Index("ix_queue_messages_expires", queue_messages.c.expires_at)

# Built-in topics and their subscriptions; a publish fans out in its own transaction into
# deliveries (HTTP endpoints), asynchronous calls (functions) and queue messages (queues).
topics = Table(
    "topics",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("maximum_message_size", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

NOTIFY_STRATEGIES = ("BACKOFF_RETRY", "EXPONENTIAL_DECAY_RETRY")
NOTIFY_FORMATS = ("JSON", "XML", "SIMPLIFIED")
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("topic", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("endpoint", Text, nullable=False),  # a URL, acs:fc:…:functions/{f} or acs:mns:…:queues/{q}
    Column("filter_tag", String(16)),  # NULL: every message
    Column("notify_strategy", String(32), nullable=False),
    Column("notify_content_format", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    one_of("subscriptions", "notify_strategy", NOTIFY_STRATEGIES),
    one_of("subscriptions", "notify_content_format", NOTIFY_FORMATS),
)

# Messages published to a topic, kept for a day so that a publisher's message id is an
# idempotency key (the bodies went out with the fan-out; they are not kept).
topic_messages = Table(
    "topic_messages",
    metadata,
    Column("topic", String(128), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("body_md5", String(32), nullable=False),
    Column("tag", String(16)),
    Column("published_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
Index("ix_topic_messages_expires", topic_messages.c.expires_at)

# Function Compute triggers of functions: ``http`` (answers FC's proxy path) and ``timer`` (calls the
# function on a cron schedule; ``next_fire_at`` moves on as a schedule's does, NULL while disabled).
TRIGGER_KINDS = ("http", "timer")
triggers = Table(
    "triggers",
    metadata,
    Column("service", String(128), primary_key=True),
    Column("function", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("config", Text, nullable=False, default="{}"),  # JSON: the http or the timer settings
    Column("next_fire_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    one_of("triggers", "kind", TRIGGER_KINDS),
)
Index("ix_triggers_next_fire_at", triggers.c.next_fire_at)

# What each stack (``fnflow deploy --stack-name``) deployed: an update removes what its template no
# longer has. ``resources`` is a JSON list of {"kind", "name", "logicalId"}.
stacks = Table(
    "stacks",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("resources", Text, nullable=False, default="[]"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Service versions (Function Compute's): an immutable snapshot of a service's functions, numbered
# from 1 per service. ``digest`` is of the snapshot: a publish with nothing changed is refused.
service_versions = Table(
    "service_versions",
    metadata,
    Column("service", String(128), primary_key=True),
    Column("version_id", Integer, primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("digest", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

# The functions of a service version, as they were when it was published (code in version_code).
function_versions = Table(
    "function_versions",
    metadata,
    Column("service", String(128), primary_key=True),
    Column("version_id", Integer, primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("runtime", String(32), nullable=False),
    Column("handler", String(256), nullable=False),
    Column("code_checksum", String(64), nullable=False),
    Column("timeout", Float, nullable=False),
    Column("memory_mb", Integer, nullable=False),
    Column("max_instances", Integer, nullable=False),
    Column("environment", Text, nullable=False, default="{}"),
    Column("description", Text, nullable=False, default=""),
    Column("options", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
)

# The code of published functions, stored once by checksum however many versions have it.
version_code = Table(
    "version_code",
    metadata,
    Column("checksum", String(64), primary_key=True),
    Column("code", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Aliases of a service: a version, and optionally another one that gets ``additional_weight``
# (0-1) of the calls (a canary).
service_aliases = Table(
    "service_aliases",
    metadata,
    Column("service", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("additional_version_id", Integer),
    Column("additional_weight", Float, nullable=False, default=0.0),
    # instances of each of its version's functions every process keeps started (reserved)
    Column("reserved_instances", Integer, nullable=False, server_default="0"),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# The version an alias resolved to when an execution first called it: its later steps call that
# version too, however the alias changes meanwhile (best practice 6: one execution, one version).
execution_pins = Table(
    "execution_pins",
    metadata,
    Column("execution_id", String(36), primary_key=True),
    Column("service", String(128), primary_key=True),
    Column("qualifier", String(128), primary_key=True),
    Column("version", String(32), nullable=False),
)
