"""``fnflow exec``: start, watch, list and stop executions of a flow."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fnflow.cli import render
from fnflow.cli.common import (
    EXIT_FAILED,
    Format,
    Limit,
    NextToken,
    Output,
    Url,
    connect,
    emit,
    fail,
    json_arg,
    more,
)

app = typer.Typer(help="Start, watch, list and stop executions of a flow.", no_args_is_help=True)


@app.command()
def start(
    flow: str,
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="A JSON object, @file, or @- to read stdin.")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", "-n", help="Execution name; starting the same name and input again is a no-op."
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Wait for the end and print the output.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(min=0, help="With --wait: give up when nothing happened for this many seconds."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="With --wait: do not report the steps on stderr.")
    ] = False,
    version: Annotated[
        int | None, typer.Option(min=1, help="Run this flow version (default: the current one).")
    ] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Start an execution; with --wait, report its steps as they happen (on stderr), print its
    output and exit 1 unless it succeeded.

    Examples:

        fnflow exec start poll-job --input '{"delay": 1}' --wait
        fnflow exec start poll-job --input @input.json --name job-42
        fnflow exec start poll-job --version 3 --wait
    """
    value = json_arg(input, "--input") if input is not None else None
    if value is not None and not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--input")
    with connect(url) as client:
        execution = client.start_execution(flow, value, name, version)
        if wait:
            if not quiet:
                typer.echo(f"started {flow}/{execution.name}", err=True)
            for progress in client.watch_execution(flow, execution.name, timeout):
                for event in progress.events if not quiet else []:
                    if line := render.step_event(event):
                        typer.echo(line, err=True)
            execution = client.describe_execution(flow, execution.name)
    if wait and execution.succeeded:
        emit(output, execution.raw, lambda: json.dumps(execution.output, indent=2, ensure_ascii=False))
        return
    emit(output, execution.raw, lambda: render.execution(execution))
    if wait:
        why = "did not succeed" if execution.finished else f"is still {execution.status} after {timeout:g}s"
        fail(f"execution {execution.name} of flow {flow} {why}", EXIT_FAILED)


@app.command()
def describe(
    flow: str,
    name: str,
    wait: Annotated[
        float, typer.Option(min=0, max=60, help="Wait up to this many seconds for the execution to end.")
    ] = 0,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Show an execution: status, input, output, error."""
    with connect(url) as client:
        execution = client.describe_execution(flow, name, wait)
    emit(output, execution.raw, lambda: render.execution(execution))


@app.command()
def history(flow: str, name: str, url: Url = None, output: Output = Format.text) -> None:
    """Show an execution's history as a timeline (every page).

    The DETAIL column is cut short; --output json has every event in full.
    """
    with connect(url) as client:
        events = client.get_history(flow, name)
    emit(output, {"events": [e.raw for e in events], "nextToken": None}, lambda: render.timeline(events))


@app.command("list")
def list_(
    flow: str,
    status: Annotated[
        str | None,
        typer.Option(help="Only those with this status: Running, Succeeded, Failed, Stopped or TimedOut."),
    ] = None,
    name_prefix: Annotated[str | None, typer.Option(help="Only names that start with this.")] = None,
    limit: Limit = 100,
    next_token: NextToken = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """List a flow's executions, newest first."""
    with connect(url) as client:
        page = client.list_executions(flow, status, name_prefix, limit, next_token)
    emit(output, page.raw, lambda: render.executions(page.items))
    more(page.next_token, output)


@app.command()
def stop(
    flow: str,
    name: str,
    error: Annotated[str, typer.Option(help="Error name to record.")] = "",
    cause: Annotated[str, typer.Option(help="Why it was stopped.")] = "",
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Stop a running execution."""
    with connect(url) as client:
        execution = client.stop_execution(flow, name, error, cause)
    emit(output, execution.raw, lambda: render.execution(execution))


@app.command()
def redrive(
    flow: str,
    name: str,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Continue a Failed or TimedOut execution from the step where it ended, keeping its history and
    the outputs of the steps that succeeded (as Step Functions' RedriveExecution does).

    Example:

        fnflow exec redrive book-trip order-7
    """
    with connect(url) as client:
        execution = client.redrive_execution(flow, name)
    emit(output, execution.raw, lambda: render.execution(execution))


@app.command()
def reset(
    flow: str,
    name: str,
    to_step: Annotated[str, typer.Option("--to-step", help="The task step to start again from.")],
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="JSON merged over the $input of the steps around it.")
    ] = None,
    new_name: Annotated[str | None, typer.Option("--name", "-n", help="The new execution's name.")] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Start a new execution from an earlier task step of this one, with the state recorded there (as
    Temporal's reset does): its history up to that step is copied and the step runs again. The
    original execution is left as it is.

    Example:

        fnflow exec reset book-trip order-7 --to-step ReserveHotel --input '{"nights": 2}'
    """
    value = json_arg(input, "--input") if input is not None else None
    if value is not None and not isinstance(value, dict):
        fail("--input must be a JSON object")
    with connect(url) as client:
        execution = client.reset_execution(flow, name, to_step, new_name=new_name, input=value)
    emit(output, execution.raw, lambda: render.execution(execution))
