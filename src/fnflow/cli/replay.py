"""``fnflow replay``: re-run a recorded execution against its pinned or an edited definition."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fnflow.cli.common import EXIT_FAILED, Format, Output, Url, connect, emit, fail


def replay(
    flow: Annotated[str, typer.Argument(help="The flow.")],
    execution: Annotated[str, typer.Argument(help="The execution's name.")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            dir_okay=False,
            help="An edited definition to replay against (default: the pinned one).",
        ),
    ] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Run a recorded execution again, in this process, against the definition it ran (or an edited
    one), and report the first event where the histories part: a check of a change before deploying.

    Each task attempt answers what it answered then (after as long as it took then); waits and
    timers run in virtual time. Exit codes: 0 the same history, 1 they diverge, 2 bad input.

    Example:

        fnflow replay poll-job job-1 -f examples/polling/flow.yaml
    """
    import asyncio

    from fnflow.errors import InvalidDefinition
    from fnflow.fdl import parse_flow
    from fnflow.flowtest.harness import Template
    from fnflow.flowtest.replay import Event, Recorded, describe
    from fnflow.flowtest.replay import replay as run_replay

    with connect(url) as client:
        record = client.describe_execution(flow, execution)
        history = client.get_history(flow, execution)
        pinned = client.execution_definition(flow, execution)
    if file is not None:
        try:
            definition = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            fail(f"cannot read {file}: {getattr(e, 'strerror', None) or e}")
        where = str(file)
    else:
        definition, where = pinned, "the pinned definition"
    try:
        parse_flow(definition)
    except InvalidDefinition as e:
        fail("\n".join([f"{where} is not a valid flow:", *(f"  {p}" for p in e.problems)]))
    events = [
        Event(e.event_id, e.type, e.step_name, e.time, e.detail, e.schedule_event_id)
        for e in history
        if e.time is not None
    ]
    if not events:
        fail(f"execution {execution!r} of flow {flow!r} has no history to replay")
    recorded = Recorded(flow, execution, dict(record.input or {}), record.status, events)
    template = Template()
    try:
        result = asyncio.run(run_replay(recorded, definition, template, time_limit=30 * 24 * 3600.0))
    finally:
        template.close()

    def text() -> str:
        lines = [
            f"replayed execution {execution} of flow {flow} ({record.status}) against {where}",
        ]
        d = result.divergence
        if d is None:
            lines.append(f"the same history: {len(recorded.events)} recorded event(s), replayed alike")
        else:
            lines += [
                f"diverges at event {d.index}: {d.why}",
                f"  recorded: {describe(d.recorded, recorded.started)}",
                f"  replayed: {describe(d.replayed, recorded.started)}",
            ]
        lines += [f"  note: {p}" for p in result.problems]
        return "\n".join(lines)

    emit(output, result.to_dict(), text)
    if result.divergence is not None:
        raise typer.Exit(EXIT_FAILED)
