"""``fnflow schedule``: cron schedules that start a flow's executions with a fixed input."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from fnflow.cli import render
from fnflow.cli.common import Format, NextToken, Output, Url, connect, emit, fail, json_arg, more
from fnflow.client import NotFoundError, Schedule

app = typer.Typer(
    help="Create, update, show, list and delete schedules (cron expressions that start executions).",
    no_args_is_help=True,
)

CRON_HELP = (
    "Seconds Minutes Hours Day-of-month Month Day-of-week ('0 */5 * * * *'), with an optional "
    "'CRON_TZ=Zone ' prefix, or '@every 10m' ('@every 2s'). At most once a second."
)
Cron = Annotated[str, typer.Option("--cron", help=CRON_HELP)]
NewCron = Annotated[str | None, typer.Option("--cron", help=CRON_HELP + " Default: keep it.")]
Payload = Annotated[
    str | None,
    typer.Option(help="The executions' input: a JSON object, @file or @- (default {})."),
]
TimeZone = Annotated[
    str | None, typer.Option("--time-zone", help="IANA zone the expression is read in (default UTC).")
]
Description = Annotated[str | None, typer.Option(help="What the schedule is for.")]
Enable = Annotated[
    bool | None, typer.Option("--enable/--disable", help="Whether it fires (default: enabled).")
]


class Missed(StrEnum):
    fire_once = "fire-once"
    skip = "skip"


MISSED = {Missed.fire_once: "fireOnce", Missed.skip: "skip"}
MissedTicks = Annotated[
    Missed | None,
    typer.Option(
        "--missed",
        help="Ticks missed while fnflow was down (or late): fire the latest once (default), or skip them.",
    ),
]


def show(s: Schedule) -> str:
    return render.fields(
        [
            ("name", s.name),
            ("flow", s.flow_name),
            ("cron", s.cron_expression),
            ("time zone", s.time_zone),
            ("enabled", "yes" if s.enabled else "no"),
            ("next fire", render.when(s.next_fire_time)),
            ("missed ticks", "skip" if s.missed_ticks == "skip" else "fire the latest once"),
            ("payload", render.compact(s.payload)),
            ("description", s.description),
            ("created", render.when(s.created_time)),
            ("modified", render.when(s.last_modified_time)),
            ("id", s.id),
        ]
    )


def _payload(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    payload = json_arg(value, "--payload")
    if not isinstance(payload, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--payload")
    return payload


@app.command()
def create(
    flow: str,
    name: str,
    cron: Cron,
    payload: Payload = None,
    time_zone: TimeZone = None,
    description: Description = None,
    enable: Enable = None,
    missed: MissedTicks = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Create a schedule of FLOW (refused if it exists: use update).

    Example:

        fnflow schedule create hello every-5-min --cron "0 */5 * * * *" --payload '{"name": "cron"}'
    """
    with connect(url) as client:
        try:
            client.get_schedule(flow, name)
        except NotFoundError:
            schedule = client.put_schedule(
                flow,
                name,
                cron,
                payload=_payload(payload),
                time_zone=time_zone or "",
                enabled=enable is not False,
                description=description or "",
                missed_ticks=MISSED[missed] if missed is not None else "fireOnce",
            )
        else:
            fail(
                f"schedule {name!r} of flow {flow!r} already exists; change it with `fnflow schedule update`"
            )
    emit(output, schedule.raw, lambda: show(schedule))


@app.command()
def update(
    flow: str,
    name: str,
    cron: NewCron = None,
    payload: Payload = None,
    time_zone: TimeZone = None,
    description: Description = None,
    enable: Enable = None,
    missed: MissedTicks = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Change a schedule: what is not given stays as it is.

    Example:

        fnflow schedule update hello every-5-min --disable
    """
    with connect(url) as client:
        current = client.get_schedule(flow, name)
        new_payload = _payload(payload)
        schedule = client.put_schedule(
            flow,
            name,
            current.cron_expression if cron is None else cron,
            payload=current.payload if new_payload is None else new_payload,
            time_zone=current.time_zone if time_zone is None else time_zone,
            enabled=current.enabled if enable is None else enable,
            description=current.description if description is None else description,
            missed_ticks=current.missed_ticks if missed is None else MISSED[missed],
        )
    emit(output, schedule.raw, lambda: show(schedule))


@app.command()
def get(flow: str, name: str, url: Url = None, output: Output = Format.text) -> None:
    """Show a schedule and when it fires next."""
    with connect(url) as client:
        schedule = client.get_schedule(flow, name)
    emit(output, schedule.raw, lambda: show(schedule))


@app.command()
def describe(flow: str, name: str, url: Url = None, output: Output = Format.text) -> None:
    """Show a schedule, when it fires next and what it does with missed ticks (as get)."""
    get(flow, name, url, output)


@app.command("list")
def list_(
    flow: Annotated[str | None, typer.Argument(help="Only this flow's (default: every flow's).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many per page.")] = 100,
    next_token: NextToken = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """List a flow's schedules by name, or every flow's."""
    with connect(url) as client:
        page = client.list_schedules(flow, limit, next_token)
    rows = [
        (
            s.flow_name,
            s.name,
            s.cron_expression,
            "yes" if s.enabled else "no",
            render.when(s.next_fire_time),
            render.compact(s.payload, 40),
        )
        for s in page.items
    ]
    header = ("FLOW", "NAME", "CRON", "ENABLED", "NEXT FIRE", "PAYLOAD")
    emit(output, page.raw, lambda: render.table(header, rows))
    more(page.next_token, output)


@app.command()
def delete(flow: str, name: str, url: Url = None, output: Output = Format.text) -> None:
    """Delete a schedule (the executions it started stay)."""
    with connect(url) as client:
        client.delete_schedule(flow, name)
    emit(output, None, lambda: f"deleted schedule {name} of flow {flow}")
