"""``fnflow task``: report the result of a waitForCallback step, by its task token."""

from __future__ import annotations

from typing import Annotated

import typer

from fnflow.cli.common import Url, connect, json_arg

app = typer.Typer(
    help="Report the result of a waitForCallback task step (ReportTaskSucceeded / ReportTaskFailed).",
    no_args_is_help=True,
)


@app.command()
def succeed(
    token: str,
    output: Annotated[
        str, typer.Option("--output", help="The step's output: JSON, @file, or @- to read stdin.")
    ] = "{}",
    url: Url = None,
) -> None:
    """The waiting step continues with this output.

    The token is in the step's input where the flow maps $context.task.token
    (see `fnflow exec history`). Example:

        fnflow task succeed "$TOKEN" --output '{"approved": true}'
    """
    value = json_arg(output, "--output")
    with connect(url) as client:
        client.report_task_succeeded(token, value)
    typer.echo("reported: the task succeeded")


@app.command()
def fail(
    token: str,
    error: Annotated[str, typer.Option(help="Error name (the step's retry and catch match it).")],
    cause: Annotated[str, typer.Option(help="What went wrong.")] = "",
    url: Url = None,
) -> None:
    """The waiting step fails with this error; its retry and catch rules apply.

    Example:

        fnflow task fail "$TOKEN" --error Rejected --cause "over budget"
    """
    with connect(url) as client:
        client.report_task_failed(token, error, cause)
    typer.echo("reported: the task failed")
