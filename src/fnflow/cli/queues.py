"""``fnflow queue``: built-in queues — create, send, receive, delete messages."""

from __future__ import annotations

from typing import Annotated

import typer

from fnflow.cli import render
from fnflow.cli.common import Format, NextToken, Output, Url, connect, emit, more, read_arg
from fnflow.client import Message, Queue

app = typer.Typer(
    help="Create queues; send, receive (long-poll), peek and delete messages.", no_args_is_help=True
)

Prefix = Annotated[str, typer.Option(help="Only names that start with this.")]
Handle = Annotated[str, typer.Argument(help="The receipt handle a receive printed.")]
Body = Annotated[str, typer.Argument(help="The message body: text, @file, or @- (stdin).")]


def show(q: Queue) -> str:
    counts = (
        ""
        if q.active_messages is None
        else (f"{q.active_messages} visible, {q.inactive_messages} received, {q.delay_messages} delayed")
    )
    dead = (
        f"after {q.max_receive_count} receives → {q.dead_letter_queue or 'dropped'}"
        if q.max_receive_count
        else ""
    )
    return render.fields(
        [
            ("name", q.name),
            ("messages", counts),
            ("visibility timeout", f"{q.visibility_timeout:g}s"),
            ("delay", f"{q.delay_seconds:g}s"),
            ("max message size", f"{q.maximum_message_size} bytes"),
            ("retention", f"{q.message_retention_period:g}s"),
            ("polling wait", f"{q.polling_wait_seconds:g}s"),
            ("dead letters", dead),
            ("created", render.when(q.created_time)),
            ("modified", render.when(q.last_modified_time)),
        ]
    )


def messages(items: list[Message]) -> str:
    if not items:
        return "(no message)"
    return "\n\n".join(
        render.fields(
            [
                ("message id", m.message_id),
                ("receipt handle", m.receipt_handle or ""),
                ("receive count", str(m.receive_count)),
                ("visible again", render.when(m.next_visible_time)),
                ("body", render.clip(m.body)),
            ]
        )
        for m in items
    )


@app.command()
def create(
    name: str,
    visibility_timeout: Annotated[
        float, typer.Option(help="Seconds a received message stays invisible (1-43200).")
    ] = 30,
    delay: Annotated[float, typer.Option(help="Seconds a sent message stays invisible (0-604800).")] = 0,
    max_message_size: Annotated[int, typer.Option(help="Bytes of a body (1024-65536).")] = 65_536,
    retention: Annotated[float, typer.Option(help="Seconds a message is kept (60-604800).")] = 345_600,
    polling_wait: Annotated[float, typer.Option(help="Seconds a receive waits by default (0-30).")] = 0,
    max_receive_count: Annotated[
        int | None, typer.Option(help="Receives before a message goes to the dead-letter queue.")
    ] = None,
    dead_letter_queue: Annotated[
        str | None, typer.Option(help="Where such messages go (default: they are dropped).")
    ] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Create a queue (or set all the attributes of one that exists).

    Example:

        fnflow queue create jobs --visibility-timeout 60 --max-receive-count 5 --dead-letter-queue jobs-dead
    """
    with connect(url) as client:
        queue = client.put_queue(
            name,
            visibility_timeout=visibility_timeout,
            delay_seconds=delay,
            maximum_message_size=max_message_size,
            message_retention_period=retention,
            polling_wait_seconds=polling_wait,
            max_receive_count=max_receive_count,
            dead_letter_queue=dead_letter_queue,
        )
    emit(output, queue.raw, lambda: show(queue))


@app.command("list")
def list_(
    prefix: Prefix = "",
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many per page.")] = 100,
    next_token: NextToken = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """List queues by name."""
    with connect(url) as client:
        page = client.list_queues(prefix, limit, next_token)
    rows = [(q.name, f"{q.visibility_timeout:g}s", q.dead_letter_queue or "") for q in page.items]
    emit(output, page.raw, lambda: render.table(("NAME", "VISIBILITY", "DEAD LETTERS TO"), rows))
    more(page.next_token, output)


@app.command()
def get(name: str, url: Url = None, output: Output = Format.text) -> None:
    """Show a queue's attributes and how many messages it holds."""
    with connect(url) as client:
        queue = client.get_queue(name)
    emit(output, queue.raw, lambda: show(queue))


@app.command()
def delete(name: str, url: Url = None, output: Output = Format.text) -> None:
    """Delete a queue and its messages."""
    with connect(url) as client:
        client.delete_queue(name)
    emit(output, None, lambda: f"deleted queue {name}")


@app.command()
def send(
    name: str,
    body: Body,
    delay: Annotated[
        float | None, typer.Option(help="Seconds before it is visible (default: the queue's).")
    ] = None,
    priority: Annotated[int, typer.Option(min=1, max=16, help="1 is received first.")] = 8,
    message_id: Annotated[
        str | None, typer.Option(help="Your own id: sending it again sends nothing (safe to retry).")
    ] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Send a message.

    Example:

        fnflow queue send jobs '{"task": 1}'
    """
    text = read_arg(body, "BODY").decode()
    with connect(url) as client:
        sent = client.send_message(name, text, delay_seconds=delay, priority=priority, message_id=message_id)
    emit(output, sent.raw, lambda: sent.message_id)


@app.command()
def receive(
    name: str,
    wait: Annotated[float | None, typer.Option(help="Seconds to wait for a message (0-30).")] = None,
    visibility: Annotated[
        float | None, typer.Option(help="Seconds the messages stay invisible (default: the queue's).")
    ] = None,
    max: Annotated[int, typer.Option("--max", min=1, max=16, help="Messages at most.")] = 1,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Receive messages; delete each with its receipt handle once done, or it comes back.

    Example:

        fnflow queue receive jobs --wait 20 --max 10
    """
    with connect(url) as client:
        got = client.receive_messages(name, max=max, wait=wait, visibility=visibility)
    emit(output, {"messages": [m.raw for m in got]}, lambda: messages(got))


@app.command()
def peek(
    name: str,
    max: Annotated[int, typer.Option("--max", min=1, max=16, help="Messages at most.")] = 1,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Show the messages the next receive would get, without receiving them."""
    with connect(url) as client:
        got = client.peek_messages(name, max)
    emit(output, {"messages": [m.raw for m in got]}, lambda: messages(got))


@app.command("delete-message")
def delete_message(name: str, receipt_handle: Handle, url: Url = None, output: Output = Format.text) -> None:
    """Delete a received message."""
    with connect(url) as client:
        client.delete_message(name, receipt_handle)
    emit(output, None, lambda: "deleted")


@app.command("change-visibility")
def change_visibility(
    name: str,
    receipt_handle: Handle,
    seconds: Annotated[float, typer.Argument(help="Seconds from now until it is visible again (0: now).")],
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Keep a received message invisible longer, or let it go back now."""
    with connect(url) as client:
        message = client.change_message_visibility(name, receipt_handle, seconds)
    emit(output, message.raw, lambda: f"visible again {render.when(message.next_visible_time) or 'now'}")
