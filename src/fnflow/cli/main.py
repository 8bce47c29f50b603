"""``fnflow``: the command groups, assembled."""

from __future__ import annotations

import typer

from fnflow.cli import (
    apply,
    bins,
    calls,
    deploy,
    executions,
    flows,
    functions,
    keys,
    queues,
    replay,
    scaffold,
    schedules,
    secrets,
    server,
    services,
    tasks,
    test,
    topics,
    up,
)

app = typer.Typer(
    name="fnflow",
    help="Self-hosted serverless: durable FDL workflows and functions invoked sync or async.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("server")(server.serve)
app.command("worker")(server.work)
app.add_typer(flows.app, name="flow")
app.add_typer(executions.app, name="exec")
app.add_typer(schedules.app, name="schedule")
app.add_typer(tasks.app, name="task")
app.add_typer(functions.app, name="fn")
app.add_typer(services.app, name="service")
app.add_typer(calls.app, name="call")
app.add_typer(queues.app, name="queue")
app.add_typer(topics.app, name="topic")
app.add_typer(bins.app, name="bin")
app.add_typer(secrets.app, name="secret")
app.command("apply")(apply.apply)
app.command("new")(scaffold.new)
app.command("up")(up.up)
app.command("deploy")(deploy.deploy)
app.add_typer(deploy.app, name="stack")
app.add_typer(keys.app, name="keys")
app.command("test")(test.test)
app.command("replay")(replay.replay)


@app.callback()
def _root() -> None:
    """fnflow: durable FDL workflows and functions invoked sync or async, self-hosted."""


def main() -> None:
    app()
