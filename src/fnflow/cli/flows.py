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
            ("version", str(flow.version)),
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
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", exists=True, dir_okay=False, readable=True, help="The new FDL definition."
        ),
    ] = None,
    to_version: Annotated[
        int | None,
        typer.Option(
            "--to-version", min=1, help="Instead of a file: roll back to this version's definition."
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="A new description (default: keep it).")] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Make a new definition current (a new flow version); running executions keep theirs.

    Examples:

        fnflow flow update poll-job -f examples/polling/flow.yaml
        fnflow flow update poll-job --to-version 2     # roll back: version 2's definition, as a new version
    """
    if (file is None) == (to_version is None):
        raise typer.BadParameter("give either --file or --to-version", param_hint="--file")
    with connect(url) as client:
        if to_version is not None:
            flow = client.rollback_flow(name, to_version, description or "")
        else:
            assert file is not None
            current = client.get_flow(name)
            text = file.read_text()
            flow = client.put_flow(name, text, current.description if description is None else description)
    emit(output, flow.raw, lambda: show(flow))


@app.command()
def get(
    name: str,
    version: Annotated[int | None, typer.Option(min=1, help="Show this version instead.")] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Show a flow and its current definition, or one of its versions."""
    with connect(url) as client:
        if version is not None:
            old = client.get_flow_version(name, version)
            fields = [
                ("flow", old.flow_name),
                ("version", str(old.version)),
                ("description", old.description),
                ("created", render.when(old.created_time)),
                ("hash", old.definition_hash),
            ]
            emit(
                output,
                old.raw,
                lambda: f"{render.fields(fields)}\n\n{(old.definition or '').rstrip()}",
            )
            return
        flow = client.get_flow(name)
    emit(output, flow.raw, lambda: f"{show(flow)}\n\n{flow.definition.rstrip()}")


@app.command()
def versions(
    name: str, limit: Limit = 100, next_token: NextToken = None, url: Url = None, output: Output = Format.text
) -> None:
    """List a flow's versions, newest first (`fnflow flow get NAME --version N` shows one)."""
    with connect(url) as client:
        page = client.flow_versions(name, limit, next_token)
    rows = [
        (str(v.version), render.when(v.created_time), v.definition_hash[:12], render.clip(v.description, 60))
        for v in page.items
    ]
    emit(output, page.raw, lambda: render.table(("VERSION", "CREATED", "HASH", "DESCRIPTION"), rows))
    more(page.next_token, output)


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
