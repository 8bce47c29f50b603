"""``fnflow call``: follow, stop and redrive asynchronous calls by call id; the dead-letter list."""

from __future__ import annotations

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
    more,
    write_body,
)
from fnflow.client import Call, Page

app = typer.Typer(
    help="Follow, stop and redrive asynchronous calls (fn invoke --async) by call id.", no_args_is_help=True
)

Function = Annotated[str | None, typer.Option("--function", help="Only this function's calls.")]
Service = Annotated[str | None, typer.Option("--service", "-s", help="Only this service's calls.")]


def preview(body: bytes, width: int = render.WIDTH) -> str:
    """A body on one line, cut to ``width``."""
    text = body.decode("utf-8", "replace").replace("\r", "").replace("\n", "⏎")
    return render.clip(text, width) if text else "(empty)"


def show(c: Call) -> str:
    result = c.result
    deliveries = "; ".join(
        f"{d.kind} {d.target}: {d.status}"
        + (f" (HTTP {d.last_status})" if d.last_status else "")
        + (f" ({d.last_error})" if d.last_error else "")
        for d in c.deliveries
    )
    return render.fields(
        [
            ("call", c.call_id),
            ("function", f"{c.service}/{c.function}"),
            ("queue", c.queue),
            ("status", c.status),
            ("attempts", f"{c.attempts} of {c.max_attempts}"),
            ("dead letter", "yes" if c.dead_letter else ""),
            ("created", render.when(c.created_time)),
            ("started", render.when(c.started_time)),
            ("finished", render.when(c.finished_time)),
            ("duration", render.duration(c.started_time, c.finished_time)),
            ("next attempt", render.when(c.next_attempt_time)),
            ("result", f"HTTP {result.status}: {preview(result.body)}" if result else ""),
            ("error", render.clip(c.error or "")),
            ("callback url", c.callback_url or ""),
            ("deliveries", deliveries),
        ]
    )


def table(calls: list[Call]) -> str:
    rows = [
        (
            c.call_id,
            f"{c.service}/{c.function}",
            c.status,
            f"{c.attempts}/{c.max_attempts}",
            render.when(c.created_time),
            render.duration(c.started_time, c.finished_time),
            render.clip(c.error or "", 40),
        )
        for c in calls
    ]
    return render.table(("CALL ID", "FUNCTION", "STATUS", "ATTEMPTS", "CREATED", "DURATION", "ERROR"), rows)


def _print_page(page: Page[Call], output: Format) -> None:
    emit(output, page.raw, lambda: table(page.items))
    more(page.next_token, output)


@app.command()
def get(call_id: str, url: Url = None, output: Output = Format.text) -> None:
    """Show a call: status, attempts, timings, result or error, callbacks."""
    with connect(url) as client:
        call = client.get_call(call_id)
    emit(output, call.raw, lambda: show(call))


@app.command("list")
def list_(
    function: Function = None,
    service: Service = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="Only those with this status: Enqueued, Running, Retrying, Succeeded, Failed,"
            " Stopping, Stopped or Expired."
        ),
    ] = None,
    dead_letter: Annotated[bool, typer.Option("--dead-letter", help="Only dead letters.")] = False,
    limit: Limit = 100,
    next_token: NextToken = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """List calls, newest first."""
    with connect(url) as client:
        page = client.list_calls(function, service, status, dead_letter or None, limit, next_token)
    _print_page(page, output)


@app.command()
def dlq(
    function: Function = None,
    service: Service = None,
    limit: Limit = 100,
    next_token: NextToken = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """List the dead-letter list: calls that failed for good (redrive them with `fnflow call redrive`)."""
    with connect(url) as client:
        page = client.list_calls(function, service, None, True, limit, next_token)
    _print_page(page, output)


@app.command()
def wait(
    call_id: str,
    timeout: Annotated[float | None, typer.Option(min=0, help="Give up after this many seconds.")] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Wait until a call ends; print its result body, and exit 1 unless it Succeeded."""
    with connect(url) as client:
        call = client.wait_call(call_id, timeout)
    if call.succeeded and output is Format.text:
        write_body(call.result.body if call.result else b"")
        return
    emit(output, call.raw, lambda: show(call))
    if not call.succeeded:
        why = f"ended {call.status}" if call.finished else f"is still {call.status} after {timeout:g}s"
        fail(f"call {call_id} {why}", EXIT_FAILED)


@app.command()
def stop(call_id: str, url: Url = None, output: Output = Format.text) -> None:
    """Stop a call: a queued one at once, a running one by cancelling its function."""
    with connect(url) as client:
        status = client.stop_call(call_id)
    emit(output, {"callId": call_id, "status": status}, lambda: f"call {call_id}: {status}")


@app.command()
def redrive(
    call_ids: Annotated[list[str] | None, typer.Argument(help="Dead-lettered calls to run again.")] = None,
    all_dead: Annotated[
        bool, typer.Option("--all-dead", help="Redrive every dead letter (of --function, if given).")
    ] = False,
    function: Function = None,
    service: Service = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Run dead-lettered calls again from the start, with the same call id and request.

    Examples:

        fnflow call redrive 6f1c…  8a2e…
        fnflow call redrive --all-dead --function resize
    """
    if bool(call_ids) == all_dead:
        raise typer.BadParameter("give call ids or --all-dead (not both)", param_hint="CALL_IDS")
    if (function or service) and not all_dead:
        raise typer.BadParameter("--function and --service go with --all-dead", param_hint="--function")
    with connect(url) as client:
        calls = (
            client.redrive_dead_letters(function, service)
            if all_dead
            else client.redrive_calls(call_ids or [])
        )
    skipped = 0 if all_dead else len(set(call_ids or [])) - len(calls)
    note = f" ({skipped} not dead letters, left alone)" if skipped else ""
    emit(
        output,
        {"calls": [c.raw for c in calls]},
        lambda: "\n".join([f"redrove {len(calls)} call(s){note}", *(c.call_id for c in calls)]),
    )
