"""``fnflow server`` (API, engine, task workers, queues and timers in one process) and
``fnflow worker`` (the same without the HTTP API, for more processes on one PostgreSQL)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import socket
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fnflow.config import Settings, is_postgres

if TYPE_CHECKING:
    import uvicorn

    from fnflow.app import Fnflow

Db = Annotated[
    str | None, typer.Option(help="Database URL (env FNFLOW_DB; default sqlite:///.fnflow/fnflow.db)")
]
DataDir = Annotated[Path | None, typer.Option(help="Where function code is unpacked (default .fnflow)")]
Parallelism = Annotated[
    int | None,
    typer.Option(help="Flow task steps running at once in this process (env FNFLOW_PARALLELISM; default 64)"),
]
AsyncParallelism = Annotated[
    int | None,
    typer.Option(help="Asynchronous calls run at once per queue (env FNFLOW_ASYNC_PARALLELISM; default 16)"),
]
Queue = Annotated[
    list[str], typer.Option(help="NAME=N: a named queue's parallelism (com.openfaas.queue); repeat")
]
CallbackAllowPrivate = Annotated[
    bool, typer.Option(help="Allow callbacks to private ranges (10/8, 172.16/12, 192.168/16 …)")
]
CallbackAllow = Annotated[
    list[str], typer.Option(help="A network (CIDR) callbacks may reach even if private; repeat")
]
LeaseSeconds = Annotated[
    float | None,
    typer.Option(
        help="How long work stays with a process that stopped renewing it before others take it (default 60)"
    ),
]
CallRetention = Annotated[
    float | None,
    typer.Option(
        help="Seconds a finished asynchronous call (its result, its callbacks) is kept; 0 keeps them"
        " (env FNFLOW_CALL_RETENTION; default 604800, a week)",
        min=0,
    ),
]
ExecutionRetention = Annotated[
    float | None,
    typer.Option(
        help="Seconds a finished execution (its history) is kept; 0 keeps them"
        " (env FNFLOW_EXECUTION_RETENTION; default 7776000, 90 days)",
        min=0,
    ),
]
PublicUrl = Annotated[
    str | None, typer.Option(help="The URL functions use to call fnflow back (env FNFLOW_PUBLIC_URL)")
]
SecretKeyFile = Annotated[
    Path | None,
    typer.Option(
        help="The key that encrypts secrets (env FNFLOW_SECRET_KEY_FILE; default <data dir>/secret.key, made"
        " on first start on SQLite); every process sharing a PostgreSQL database needs the same one",
        dir_okay=False,
    ),
]
LogLevel = Annotated[str, typer.Option(help="debug, info, warning or error")]


class LogFormat(StrEnum):
    text = "text"
    json = "json"


Logs = Annotated[LogFormat, typer.Option("--log-format", help="text, or json: one object per line")]


class JsonLines(logging.Formatter):
    """A log record as one JSON object: time (UTC), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _settings(
    db: str | None,
    data_dir: Path | None,
    parallelism: int | None,
    async_parallelism: int | None,
    queue: list[str],
    callback_allow_private: bool,
    callback_allow: list[str],
    lease_seconds: float | None,
    public_url: str | None,
    secret_key_file: Path | None,
    call_retention: float | None,
    execution_retention: float | None,
) -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as e:  # an FNFLOW_* variable it cannot use
        typer.echo(f"fnflow: {e}", err=True)
        raise typer.Exit(2) from None
    settings.db = db or settings.db
    settings.data_dir = data_dir or settings.data_dir
    settings.parallelism = parallelism or settings.parallelism
    settings.async_parallelism = async_parallelism or settings.async_parallelism
    settings.callback_allow_private = callback_allow_private or settings.callback_allow_private
    settings.callback_allow_networks += callback_allow
    settings.lease_seconds = lease_seconds or settings.lease_seconds
    settings.public_url = public_url or settings.public_url
    settings.secret_key_file = secret_key_file or settings.secret_key_file
    if call_retention is not None:
        settings.call_retention = call_retention
    if execution_retention is not None:
        settings.execution_retention = execution_retention
    for item in queue:
        name, _, count = item.partition("=")
        if not name or not count.isdigit() or int(count) < 1:
            raise typer.BadParameter(f"{item!r}: use NAME=N with N ≥ 1", param_hint="--queue")
        settings.queue_parallelism[name] = int(count)
    return settings


def _logging(level: str, form: LogFormat = LogFormat.text) -> None:
    if form is LogFormat.json:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLines())
        logging.basicConfig(level=level.upper(), handlers=[handler])
    else:
        logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve(
    db: Db = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (env FNFLOW_HOST; default 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (env FNFLOW_PORT; default 8080)")] = None,
    auth: Annotated[
        str | None,
        typer.Option(
            help="on|off (env FNFLOW_AUTH); off is allowed, and the default, on a loopback address only"
        ),
    ] = None,
    data_dir: DataDir = None,
    apply: Annotated[
        list[Path], typer.Option(help="Deploy the functions and flows of these example directories")
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    parallelism: Parallelism = None,
    async_parallelism: AsyncParallelism = None,
    queue: Queue = [],  # noqa: B006
    callback_allow_private: CallbackAllowPrivate = False,
    callback_allow: CallbackAllow = [],  # noqa: B006
    lease_seconds: LeaseSeconds = None,
    public_url: PublicUrl = None,
    secret_key_file: SecretKeyFile = None,
    call_retention: CallRetention = None,
    execution_retention: ExecutionRetention = None,
    accept_port: Annotated[
        int | None,
        typer.Option(
            help="Also take POST /async-function/… on this port, served by processes of their own that"
            " pass the calls to this one (env FNFLOW_ACCEPT_PORT; docs/gateway.md)"
        ),
    ] = None,
    accept_processes: Annotated[
        int | None,
        typer.Option(help="How many processes serve --accept-port (env FNFLOW_ACCEPT_PROCESSES; default 1)"),
    ] = None,
    log_level: LogLevel = "info",
    log_format: Logs = LogFormat.text,
) -> None:
    """Run the fnflow server (stops cleanly on SIGTERM or Ctrl-C)."""
    settings = _settings(
        db,
        data_dir,
        parallelism,
        async_parallelism,
        queue,
        callback_allow_private,
        callback_allow,
        lease_seconds,
        public_url,
        secret_key_file,
        call_retention,
        execution_retention,
    )
    settings.host = host or settings.host
    settings.port = port or settings.port
    settings.accept_port = accept_port or settings.accept_port
    settings.accept_processes = accept_processes or settings.accept_processes
    if settings.accept_processes < 1:
        raise typer.BadParameter("at least 1", param_hint="--accept-processes")
    if auth is not None:
        if auth not in ("on", "off"):
            raise typer.BadParameter("use on or off", param_hint="--auth")
        settings.auth = auth == "on"
    try:
        settings.check()
    except ValueError as e:
        typer.echo(f"fnflow: {e}", err=True)
        raise typer.Exit(2) from None
    # Imported here: every other command would pay for loading the server (about 1.5 s).
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from fnflow.api.app import create_app
    from fnflow.api.proxied import http_protocol
    from fnflow.app import Fnflow

    _logging(log_level, log_format)
    fnflow = Fnflow(settings, apply=apply)
    # In this order, before anything runs: the database must be usable and ours, and the port
    # ours, before the server recovers work left by a previous process.
    accept = (settings.host, settings.accept_port) if settings.accept_port else None
    listening = _prepare(fnflow, bind_to=(settings.host, settings.port), also=accept)
    config = uvicorn.Config(
        create_app(fnflow),
        log_level=log_level,
        access_log=False,
        lifespan="on",
        http=http_protocol(),
        log_config=None if log_format is LogFormat.json else LOGGING_CONFIG,  # json: uvicorn logs as ours
    )
    server = uvicorn.Server(config)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve(fnflow, server, listening[:1], listening[1:]))


async def _serve(
    fnflow: Fnflow, server: uvicorn.Server, listening: list[socket.socket], accepting: list[socket.socket]
) -> None:
    await _open(fnflow)
    # Followers of logs and of executions end, so a shutdown need not wait for them.
    fnflow.logs.stopping = fnflow.executions.stopping = lambda: server.should_exit
    host, port = listening[0].getsockname()[:2]
    log = logging.getLogger("fnflow")
    log.info("serving http://%s:%d", f"[{host}]" if ":" in host else host, port)
    if accepting:
        from fnflow.intake.owner import Fronts, Intake

        s = fnflow.settings
        fronts = Fronts(Intake(fnflow), accepting[0], s.accept_processes, max_body=s.async_max_bytes)
        await fronts.start()
        fnflow.before_close.append(fronts.close)
        log.info("taking asynchronous calls on port %d (%d process(es))", s.accept_port, s.accept_processes)
    await server.serve(sockets=listening)  # the app's lifespan closes fnflow (and the fronts first)


def _prepare(
    fnflow: Fnflow, bind_to: tuple[str, int] | None = None, also: tuple[str, int] | None = None
) -> list[socket.socket]:
    """Check the database driver, take the ports (if any: the sockets come back, ``bind_to``'s first)
    and own the database; a clear message and exit 1 if one of them cannot be had."""
    from fnflow.cli.sockets import CannotListen, bind
    from fnflow.store import BackendUnavailable, backend
    from fnflow.store.owner import DatabaseInUse

    listening: list[socket.socket] = []
    try:
        backend(fnflow.settings.db)
        for address in (bind_to, also):
            if address is not None:
                listening.append(bind(*address))
        fnflow.claim()
    except (BackendUnavailable, CannotListen, DatabaseInUse, ValueError) as e:
        for sock in listening:
            sock.close()
        typer.echo(f"fnflow: {e}", err=True)
        raise typer.Exit(1) from None
    return listening


def work(
    db: Db = None,
    data_dir: DataDir = None,
    parallelism: Parallelism = None,
    async_parallelism: AsyncParallelism = None,
    queue: Queue = [],  # noqa: B006
    callback_allow_private: CallbackAllowPrivate = False,
    callback_allow: CallbackAllow = [],  # noqa: B006
    lease_seconds: LeaseSeconds = None,
    public_url: PublicUrl = None,
    secret_key_file: SecretKeyFile = None,
    call_retention: CallRetention = None,
    execution_retention: ExecutionRetention = None,
    log_level: LogLevel = "info",
    log_format: Logs = LogFormat.text,
) -> None:
    """Run flows, asynchronous calls, callbacks and schedules without the HTTP API: one more process
    sharing a PostgreSQL database with `fnflow server` processes (stops cleanly on SIGTERM)."""
    settings = _settings(
        db,
        data_dir,
        parallelism,
        async_parallelism,
        queue,
        callback_allow_private,
        callback_allow,
        lease_seconds,
        public_url,
        secret_key_file,
        call_retention,
        execution_retention,
    )
    if not is_postgres(settings.db):
        typer.echo(
            "fnflow: a worker shares its database with other processes: use --db postgresql://…", err=True
        )
        raise typer.Exit(2)
    from fnflow.app import Fnflow

    _logging(log_level, log_format)
    fnflow = Fnflow(settings)
    _prepare(fnflow)
    asyncio.run(_work(fnflow))


def _freeze_startup_heap() -> None:
    """What starting made (modules, the app and its models, caches) lives as long as the process:
    take it out of the garbage collector's way, so that a full collection walks only what serving
    makes. Walking it all took 100 to 170 ms per full collection on a busy server (bench/timers.py),
    a stall of every request, step and timer."""
    gc.collect()
    gc.freeze()


async def _open(fnflow: Fnflow) -> None:
    """Open the store, recover, deploy what ``--apply`` names; one line and exit 1 if that fails."""
    from sqlalchemy.exc import DBAPIError

    try:
        await fnflow.open()
        _freeze_startup_heap()
    except Exception as e:
        logging.getLogger("fnflow").debug("startup failed", exc_info=True)
        if isinstance(e, DBAPIError):
            from sqlalchemy.engine import make_url

            where = make_url(fnflow.settings.db).render_as_string(hide_password=True)
            message = f"cannot use the database {where}: {' '.join(str(e.orig).split())}"
        else:
            message = f"could not start: {e} (--log-level debug shows where)"
        typer.echo(f"fnflow: {message}", err=True)
        raise typer.Exit(1) from None


async def _work(fnflow: Fnflow) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await _open(fnflow)
    logging.getLogger("fnflow").info("worker %s running", fnflow.runtime.node_id)
    try:
        await stop.wait()
    finally:
        await fnflow.close()
