"""``fnflow server``: API, engine, task workers and timers in one process."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from fnflow.config import Settings


def serve(
    db: str | None = typer.Option(
        None, help="Database URL (env FNFLOW_DB; default sqlite:///.fnflow/fnflow.db)"
    ),
    host: str | None = typer.Option(None, help="Address to bind (env FNFLOW_HOST; default 127.0.0.1)"),
    port: int | None = typer.Option(None, help="Port (env FNFLOW_PORT; default 8080)"),
    auth: str | None = typer.Option(
        None, help="on|off (env FNFLOW_AUTH); off is allowed, and the default, on a loopback address only"
    ),
    data_dir: Path | None = typer.Option(None, help="Where function code is unpacked (default .fnflow)"),
    apply: list[Path] = typer.Option([], help="Deploy the functions and flows of these example directories"),
    async_parallelism: int | None = typer.Option(
        None, help="Asynchronous calls run at once per queue (env FNFLOW_ASYNC_PARALLELISM; default 16)"
    ),
    queue: list[str] = typer.Option(
        [], help="NAME=N: a named queue's parallelism (com.openfaas.queue); repeat"
    ),
    callback_allow_private: bool = typer.Option(
        False, help="Allow callbacks to private ranges (10/8, 172.16/12, 192.168/16 …)"
    ),
    callback_allow: list[str] = typer.Option(
        [], help="A network (CIDR) callbacks may reach even if private; repeat"
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error"),
) -> None:
    """Run the fnflow server (stops cleanly on SIGTERM or Ctrl-C)."""
    settings = Settings.from_env()
    settings.db = db or settings.db
    settings.host = host or settings.host
    settings.port = port or settings.port
    settings.data_dir = data_dir or settings.data_dir
    settings.async_parallelism = async_parallelism or settings.async_parallelism
    settings.callback_allow_private = callback_allow_private or settings.callback_allow_private
    settings.callback_allow_networks += callback_allow
    for item in queue:
        name, _, count = item.partition("=")
        if not name or not count.isdigit() or int(count) < 1:
            raise typer.BadParameter(f"{item!r}: use NAME=N with N ≥ 1", param_hint="--queue")
        settings.queue_parallelism[name] = int(count)
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

    from fnflow.api.app import create_app
    from fnflow.app import Fnflow

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    fnflow = Fnflow(settings, apply=apply)
    config = uvicorn.Config(
        create_app(fnflow),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
    )
    uvicorn.Server(config).run()
