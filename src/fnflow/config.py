"""Server settings: command-line options override ``FNFLOW_*`` environment variables."""

from __future__ import annotations

import functools
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_URL = "sqlite:///.fnflow/fnflow.db"


def is_postgres(url: str) -> bool:
    """Whether the database URL names PostgreSQL (``postgresql://…``, ``postgres://…``,
    ``postgresql+psycopg://…``), which several processes may share."""
    return url.partition(":")[0].startswith("postgres")


@functools.lru_cache(maxsize=64)
def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _env_bool(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    return value.lower() in ("1", "on", "true", "yes")


FUNCTION_SCHEDULING = ("batch", "normal")


@dataclass
class Settings:
    db: str = DEFAULT_URL
    host: str = "127.0.0.1"
    port: int = 8080
    auth: bool | None = None  # None: on unless bound to a loopback address
    data_dir: Path = field(default_factory=lambda: Path(".fnflow"))
    max_request_bytes: int = 1024 * 1024  # FnF's request limit
    max_input_bytes: int = 32 * 1024  # FnF's limit on an execution's input and a step's data
    max_events: int = 5000
    parallelism: int = 64  # task steps running at once on this node
    lease_seconds: float = 60.0  # work of a process that stops renewing it passes to others after this
    max_sync_bytes: int = 6 * 1024 * 1024  # a synchronous /function/ call's body (as Function Compute)
    async_max_bytes: int = 256_000  # an asynchronous call's body (as OpenFaaS CE)
    async_parallelism: int = 16  # asynchronous calls running at once per queue on this node
    queue_parallelism: dict[str, int] = field(default_factory=dict)  # per named queue
    callback_allow_private: bool = False  # callbacks to 10/8, 172.16/12, 192.168/16 …
    callback_allow_networks: list[str] = field(default_factory=list)  # CIDRs allowed even if private
    sqlite_synchronous: str = "full"
    db_writers: int | None = None  # PostgreSQL's writer threads (None: one more than the CPUs, at most 4)
    public_url: str | None = None  # how functions reach this server; default http://host:port
    secret_key_file: Path | None = None  # None: <data_dir>/secret.key
    function_log_age: float = 86_400.0  # function log lines older than this are dropped
    function_log_bytes: int = 1024 * 1024  # of each function's newest log text, kept
    # Finished asynchronous calls (and their callback deliveries) are removed this long after they
    # finished (Function Compute shows an invocation's record for a week); 0 keeps them.
    call_retention: float = 7 * 86_400.0
    # Finished executions (and their history) are removed this long after they ended (Step
    # Functions keeps a closed execution 90 days); 0 keeps them.
    execution_retention: float = 90 * 86_400.0
    # Shortest time between a schedule's ticks: one second (FnF's is a minute); a function timer
    # trigger's: a minute, as Function Compute's. The env below sets both (tests).
    schedule_min_interval: float = 1.0
    trigger_min_interval: float = 60.0
    # The region and account this fnflow stands for: what functions see as context.region and
    # context.account_id (the SDKs build endpoints from the region: it must be a real one).
    region: str = "cn-hangzhou"
    account_id: str = "1234567890123456"
    # How long a process trusts an API key it has checked: a key deleted or rotated elsewhere stops
    # working here within this time (at once when deleted or rotated through this process).
    key_cache_seconds: float = 5.0
    # A port of its own for POST /async-function/…, served by this many processes beside the server
    # (fnflow.intake); None: the server's port only.
    accept_port: int | None = None
    accept_processes: int = 1
    # Function code (workers, commands) under Linux's SCHED_BATCH: woken, it does not preempt the
    # server (fnflow.scheduling); "normal" leaves it the server's policy.
    function_scheduling: str = "batch"

    @classmethod
    def from_env(cls) -> Settings:
        s = cls()
        s.db = os.environ.get("FNFLOW_DB", s.db)
        s.host = os.environ.get("FNFLOW_HOST", s.host)
        s.port = int(os.environ.get("FNFLOW_PORT", s.port))
        s.auth = _env_bool("FNFLOW_AUTH")
        s.data_dir = Path(os.environ.get("FNFLOW_DATA_DIR", str(s.data_dir)))
        s.public_url = os.environ.get("FNFLOW_PUBLIC_URL") or None
        if os.environ.get("FNFLOW_SECRET_KEY_FILE"):
            s.secret_key_file = Path(os.environ["FNFLOW_SECRET_KEY_FILE"])
        s.callback_allow_private = _env_bool("FNFLOW_CALLBACK_ALLOW_PRIVATE") or False
        s.callback_allow_networks = [
            n for n in os.environ.get("FNFLOW_CALLBACK_ALLOW", "").split(",") if n.strip()
        ]
        if "FNFLOW_SCHEDULE_MIN_INTERVAL" in os.environ:  # for tests only: lets a schedule fire every second
            s.schedule_min_interval = float(os.environ["FNFLOW_SCHEDULE_MIN_INTERVAL"])
            s.trigger_min_interval = s.schedule_min_interval
        s.region = os.environ.get("FNFLOW_REGION") or s.region
        s.account_id = os.environ.get("FNFLOW_ACCOUNT_ID") or s.account_id
        if "FNFLOW_FUNCTION_LOG_AGE" in os.environ:
            s.function_log_age = float(os.environ["FNFLOW_FUNCTION_LOG_AGE"])
        if "FNFLOW_FUNCTION_LOG_BYTES" in os.environ:
            s.function_log_bytes = int(os.environ["FNFLOW_FUNCTION_LOG_BYTES"])
        if os.environ.get("FNFLOW_CALL_RETENTION"):
            s.call_retention = float(os.environ["FNFLOW_CALL_RETENTION"])
        if os.environ.get("FNFLOW_EXECUTION_RETENTION"):
            s.execution_retention = float(os.environ["FNFLOW_EXECUTION_RETENTION"])
        if "FNFLOW_KEY_CACHE_SECONDS" in os.environ:
            s.key_cache_seconds = float(os.environ["FNFLOW_KEY_CACHE_SECONDS"])
        if "FNFLOW_PARALLELISM" in os.environ:
            s.parallelism = int(os.environ["FNFLOW_PARALLELISM"])
        if os.environ.get("FNFLOW_ACCEPT_PORT"):
            s.accept_port = int(os.environ["FNFLOW_ACCEPT_PORT"])
        if os.environ.get("FNFLOW_ACCEPT_PROCESSES"):
            s.accept_processes = int(os.environ["FNFLOW_ACCEPT_PROCESSES"])
        if "FNFLOW_ASYNC_PARALLELISM" in os.environ:
            s.async_parallelism = int(os.environ["FNFLOW_ASYNC_PARALLELISM"])
        if os.environ.get("FNFLOW_FUNCTION_SCHEDULING"):
            s.function_scheduling = os.environ["FNFLOW_FUNCTION_SCHEDULING"].strip().lower()
            if s.function_scheduling not in FUNCTION_SCHEDULING:
                choices = ", ".join(FUNCTION_SCHEDULING)
                raise ValueError(f"FNFLOW_FUNCTION_SCHEDULING must be one of {choices}")
        if os.environ.get("FNFLOW_DB_WRITERS"):
            s.db_writers = int(os.environ["FNFLOW_DB_WRITERS"])
            if s.db_writers < 1:
                raise ValueError("FNFLOW_DB_WRITERS must be at least 1")
        return s

    def store_options(self) -> dict[str, Any]:
        """What ``open_store`` is given besides the URL: writer threads go to PostgreSQL only (SQLite
        writes on the event loop)."""
        options: dict[str, Any] = {"synchronous": self.sqlite_synchronous}
        if self.db_writers is not None and is_postgres(self.db):
            options["writers"] = self.db_writers
        return options

    @property
    def auth_enabled(self) -> bool:
        return self.auth if self.auth is not None else not is_loopback(self.host)

    def check(self) -> None:
        """Refuse settings that would expose an unauthenticated server."""
        if not self.auth_enabled and not is_loopback(self.host):
            raise ValueError(
                f"refusing to serve without authentication on {self.host}: bind to 127.0.0.1 or use "
                "--auth on (create a key with `fnflow keys create --scope admin`)"
            )

    @property
    def endpoint(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"
