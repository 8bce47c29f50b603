"""``fnflow apply``: deploy the functions and flows an example's ``fnflow.yaml`` lists."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fnflow.cli.common import Format, Output, Url, connect, emit
from fnflow.client import Flow, Function, Schedule


def _line(item: Function | Flow | Schedule) -> str:
    if isinstance(item, Function):
        return f"function {item.service}/{item.name} deployed (code {item.code_checksum[:12]})"
    if isinstance(item, Schedule):
        return f"schedule {item.flow_name}/{item.name} applied ({item.cron_expression})"
    return f"flow {item.name} applied (revision {item.revision})"


def apply(
    path: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            exists=True,
            help="An example directory (or its fnflow.yaml); a directory of examples.",
        ),
    ],
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Deploy an example through the API: its functions first, then its flows and schedules.

    Example:

        fnflow apply -f examples/polling
        fnflow exec start poll-job --input '{"delay": 1}' --wait
    """
    progress = (lambda item: typer.echo(_line(item))) if output is Format.text else None
    with connect(url) as client:
        items = client.apply(path, progress)
    functions = [i.raw for i in items if isinstance(i, Function)]
    flows = [i.raw for i in items if isinstance(i, Flow)]
    schedules = [i.raw for i in items if isinstance(i, Schedule)]
    emit(
        output,
        {"functions": functions, "flows": flows, "schedules": schedules},
        lambda: (
            f"applied {path}: {len(functions)} function(s), {len(flows)} flow(s), "
            f"{len(schedules)} schedule(s)"
        ),
    )
