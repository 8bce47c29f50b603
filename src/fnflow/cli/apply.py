"""``fnflow apply``: deploy what an example's ``fnflow.yaml`` lists."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fnflow.cli.common import Format, Output, Url, connect, emit
from fnflow.client import Flow, Function, Schedule
from fnflow.client.api import Applied
from fnflow.client.queues import Queue
from fnflow.client.topics import Subscription, Topic

#: (what, key in --output json) of each kind of item, in the order they are deployed
KINDS: list[tuple[type, str]] = [
    (Function, "functions"),
    (Queue, "queues"),
    (Topic, "topics"),
    (Subscription, "subscriptions"),
    (Flow, "flows"),
    (Schedule, "schedules"),
]


def _line(item: Applied) -> str:
    if isinstance(item, Function):
        return f"function {item.service}/{item.name} deployed (code {item.code_checksum[:12]})"
    if isinstance(item, Queue):
        return f"queue {item.name} applied"
    if isinstance(item, Topic):
        return f"topic {item.name} applied"
    if isinstance(item, Subscription):
        return f"subscription {item.topic}/{item.name} applied ({item.endpoint})"
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
    """Deploy an example through the API: its functions first, then its queues and topics, its
    flows and its schedules.

    Example:

        fnflow apply -f examples/polling
        fnflow exec start poll-job --input '{"delay": 1}' --wait
    """
    progress = (lambda item: typer.echo(_line(item))) if output is Format.text else None
    with connect(url) as client:
        items = client.apply(path, progress)
    applied = {key: [i.raw for i in items if isinstance(i, kind)] for kind, key in KINDS}
    summary = ", ".join(f"{len(found)} {key}" for key, found in applied.items() if found)
    emit(output, applied, lambda: f"applied {path}: {summary or 'nothing'}")
