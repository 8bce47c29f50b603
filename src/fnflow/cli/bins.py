"""``fnflow bin``: what a request bin (``/bin/NAME``, e.g. a callback URL) received."""

from __future__ import annotations

from typing import Annotated

import typer

from fnflow.cli import render
from fnflow.cli.calls import preview
from fnflow.cli.common import Format, Output, Url, connect, emit
from fnflow.client import BinRequest

app = typer.Typer(help="Show what a request bin (/bin/NAME) received.", no_args_is_help=True)

# The headers that say what a callback was about; -o json has them all.
KEY_HEADERS = ("Content-Type", "X-Call-Id", "X-Function-Name", "X-Function-Status", "X-Duration-Seconds")


def show(requests: list[BinRequest], name: str) -> str:
    if not requests:
        return f"bin {name} received nothing yet (send requests to /bin/{name})"
    blocks = []
    for r in requests:
        target = r.path + (f"?{r.query}" if r.query else "")
        lines = [f"{render.when(r.received_time)}  {r.method} {target}  ({len(r.body)} bytes)"]
        lines += [f"  {h}: {r.header(h)}" for h in KEY_HEADERS if r.header(h) is not None]
        lines.append(f"  body: {preview(r.body)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


@app.command("show")
def show_(
    name: str,
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many, newest first.")] = 100,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Show the requests a bin received, newest first: time, method, path, key headers, body.

    Example, with a bin as the callback of an asynchronous call:

        fnflow fn invoke long-task --async -H "X-Callback-Url: http://127.0.0.1:8080/bin/done"
        fnflow bin show done
    """
    with connect(url) as client:
        requests = client.bin_requests(name, limit)
    emit(output, {"requests": [r.raw for r in requests]}, lambda: show(requests, name))
