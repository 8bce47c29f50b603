"""``fnflow flow``: create, update, show, list and delete flows."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fnflow.cli import render
from fnflow.cli.common import Format, Limit, NextToken, Output, Url, connect, emit, fail, more
from fnflow.client import Flow, NotFoundError

app = typer.Typer(
    help="Create, update, show, list and delete flows (FDL definitions).",
    no_args_is_help=True,
)

File = Annotated[
    Path,
    typer.Option(
        "--file", "-f", exists=True, dir_okay=False, readable=True, help="The FDL definition (YAML or JSON)."
    ),
]


def show(flow: Flow) -> str:
    return render.fields(
        [
            ("name", flow.name),
            ("revision", str(flow.revision)),
            ("description", flow.description),
            ("created", render.when(flow.created_time)),
            ("modified", render.when(flow.last_modified_time)),
            ("id", flow.id),
        ]
    )


@app.command()
def create(
    name: str,
    file: File,
    description: Annotated[str, typer.Option(help="What the flow is for.")] = "",
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Create a flow from an FDL file (refused if it exists: use update).

    Example:

        fnflow flow create poll-job -f examples/polling/flow.yaml --description "Poll a job"
    """
    definition = file.read_text()
    with connect(url) as client:
        try:
            client.get_flow(name)
        except NotFoundError:
            flow = client.put_flow(name, definition, description)
        else:
            fail(f"flow {name!r} already exists; change it with `fnflow flow update {name} -f FILE`")
    emit(output, flow.raw, lambda: show(flow))


@app.command()
def update(
    name: str,
    file: File,
    description: Annotated[str | None, typer.Option(help="A new description (default: keep it).")] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Make a new definition current; running executions keep the one they started with.

    Example:

        fnflow flow update poll-job -f examples/polling/flow.yaml
    """
    definition = file.read_text()
    with connect(url) as client:
        current = client.get_flow(name)
        flow = client.put_flow(name, definition, current.description if description is None else description)
    emit(output, flow.raw, lambda: show(flow))


@app.command()
def get(name: str, url: Url = None, output: Output = Format.text) -> None:
    """Show a flow and its current definition."""
    with connect(url) as client:
        flow = client.get_flow(name)
    emit(output, flow.raw, lambda: f"{show(flow)}\n\n{flow.definition.rstrip()}")


@app.command("list")
def list_(
    limit: Limit = 100, next_token: NextToken = None, url: Url = None, output: Output = Format.text
) -> None:
    """List flows by name."""
    with connect(url) as client:
        page = client.list_flows(limit, next_token)
    rows = [
        (f.name, str(f.revision), render.when(f.last_modified_time), render.clip(f.description, 60))
        for f in page.items
    ]
    emit(output, page.raw, lambda: render.table(("NAME", "REVISION", "MODIFIED", "DESCRIPTION"), rows))
    more(page.next_token, output)


@app.command()
def delete(name: str, url: Url = None, output: Output = Format.text) -> None:
    """Delete a flow and its finished executions (refused while executions run: stop them first)."""
    with connect(url) as client:
        client.delete_flow(name)
    emit(output, None, lambda: f"deleted flow {name}")


class GraphFormat(StrEnum):
    svg = "svg"
    mermaid = "mermaid"
    json = "json"


@app.command()
def graph(
    name: str,
    format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="svg (as the console draws it), mermaid or json.")
    ] = GraphFormat.svg,
    url: Url = None,
) -> None:
    """Draw a flow's current definition as a graph (the console's drawing).

    Examples:

        fnflow flow graph poll-job > poll-job.svg
        fnflow flow graph poll-job --format mermaid
    """
    with connect(url) as client:
        typer.echo(client.flow_graph(name, format.value), nl=False)
