"""``fnflow topic``: built-in topics — create, subscribe, publish."""

from __future__ import annotations

from typing import Annotated

import typer

from fnflow.cli import render
from fnflow.cli.common import Format, NextToken, Output, Url, connect, emit, more, read_arg
from fnflow.client import Subscription, Topic

app = typer.Typer(
    help="Create topics; subscribe URLs, functions and queues; publish messages.", no_args_is_help=True
)

Prefix = Annotated[str, typer.Option(help="Only names that start with this.")]
Limit = Annotated[int, typer.Option(min=1, max=1000, help="At most this many per page.")]


def show(t: Topic) -> str:
    return render.fields(
        [
            ("name", t.name),
            ("max message size", f"{t.maximum_message_size} bytes"),
            ("created", render.when(t.created_time)),
            ("modified", render.when(t.last_modified_time)),
        ]
    )


def show_subscription(s: Subscription) -> str:
    return render.fields(
        [
            ("topic", s.topic),
            ("name", s.name),
            ("endpoint", s.endpoint),
            ("filter tag", s.filter_tag or ""),
            ("strategy", s.notify_strategy),
            ("format", s.notify_content_format),
            ("created", render.when(s.created_time)),
        ]
    )


def _attribute(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--attribute")
    return key, value


@app.command()
def create(
    name: str,
    max_message_size: Annotated[int, typer.Option(help="Bytes of a body (1024-65536).")] = 65_536,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Create a topic (or set the attributes of one that exists)."""
    with connect(url) as client:
        topic = client.put_topic(name, maximum_message_size=max_message_size)
    emit(output, topic.raw, lambda: show(topic))


@app.command("list")
def list_(
    prefix: Prefix = "",
    limit: Limit = 100,
    next_token: NextToken = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """List topics by name."""
    with connect(url) as client:
        page = client.list_topics(prefix, limit, next_token)
    rows = [(t.name, render.when(t.created_time)) for t in page.items]
    emit(output, page.raw, lambda: render.table(("NAME", "CREATED"), rows))
    more(page.next_token, output)


@app.command()
def get(name: str, url: Url = None, output: Output = Format.text) -> None:
    """Show a topic."""
    with connect(url) as client:
        topic = client.get_topic(name)
    emit(output, topic.raw, lambda: show(topic))


@app.command()
def delete(name: str, url: Url = None, output: Output = Format.text) -> None:
    """Delete a topic and its subscriptions."""
    with connect(url) as client:
        client.delete_topic(name)
    emit(output, None, lambda: f"deleted topic {name}")


@app.command()
def publish(
    name: str,
    body: Annotated[str, typer.Argument(help="The message: text, @file, or @- (stdin).")],
    tag: Annotated[
        str | None, typer.Option(help="Subscriptions filtering on a tag get only their tag.")
    ] = None,
    attribute: Annotated[
        list[str] | None, typer.Option("--attribute", "-a", help="KEY=VALUE sent along (repeatable).")
    ] = None,
    message_id: Annotated[
        str | None, typer.Option(help="Your own id: publishing it again within a day pushes nothing.")
    ] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Publish a message to every subscription.

    Example:

        fnflow topic publish orders '{"order": 7}' --tag paid
    """
    text = read_arg(body, "BODY").decode()
    attributes = dict(_attribute(a) for a in attribute or [])
    with connect(url) as client:
        published = client.publish(name, text, tag=tag, attributes=attributes, message_id=message_id)
    emit(output, published.raw, lambda: published.message_id)


@app.command()
def subscribe(
    topic: str,
    name: str,
    endpoint: Annotated[
        str,
        typer.Argument(
            help="http(s)://… (a POST per message), acs:fc:::services/S/functions/F (a function) "
            "or acs:mns:::queues/Q (a queue)."
        ),
    ],
    filter_tag: Annotated[str | None, typer.Option(help="Only messages with this tag.")] = None,
    strategy: Annotated[
        str, typer.Option(help="Retries of HTTP pushes: BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY.")
    ] = "BACKOFF_RETRY",
    format: Annotated[
        str, typer.Option("--format", help="JSON, XML or SIMPLIFIED (the message alone).")
    ] = "JSON",
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Subscribe an endpoint, a function or a queue to a topic (or change the subscription).

    Example:

        fnflow topic subscribe orders audit acs:mns:::queues/audit
    """
    with connect(url) as client:
        subscription = client.subscribe(
            topic,
            name,
            endpoint,
            filter_tag=filter_tag,
            notify_strategy=strategy,
            notify_content_format=format,
        )
    emit(output, subscription.raw, lambda: show_subscription(subscription))


@app.command()
def unsubscribe(topic: str, name: str, url: Url = None, output: Output = Format.text) -> None:
    """Delete a subscription."""
    with connect(url) as client:
        client.unsubscribe(topic, name)
    emit(output, None, lambda: f"deleted subscription {name} of topic {topic}")


@app.command()
def subscriptions(
    topic: str,
    limit: Limit = 100,
    next_token: NextToken = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """List a topic's subscriptions."""
    with connect(url) as client:
        page = client.list_subscriptions(topic, limit, next_token)
    rows = [(s.name, s.endpoint, s.filter_tag or "", s.notify_content_format) for s in page.items]
    emit(output, page.raw, lambda: render.table(("NAME", "ENDPOINT", "FILTER TAG", "FORMAT"), rows))
    more(page.next_token, output)
