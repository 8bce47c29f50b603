"""What the client commands share: ``--url`` and ``--output``, one client per command, errors as exit codes.

Exit codes: 0 ok, 1 a failed execution or invocation (or a server error), 2 a usage or input
error (bad JSON, unknown flow, invalid definition, missing key), 3 the server cannot be reached.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from fnflow.client import ApiError, Client, ConnectionError
from fnflow.errors import DefinitionProblem

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class Format(StrEnum):
    text = "text"
    json = "json"


Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="FNFLOW_URL",
        show_default=False,
        help="The fnflow server (default http://127.0.0.1:8080).",
    ),
]
Output = Annotated[
    Format, typer.Option("--output", "-o", help="text for people; json prints the API's answer, for scripts.")
]
Limit = Annotated[int, typer.Option(min=1, max=999, help="At most this many per page.")]
NextToken = Annotated[str | None, typer.Option(help="Continue after the page that printed this token.")]


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    typer.echo(f"fnflow: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def connect(url: str | None) -> Iterator[Client]:
    """A client (API key from FNFLOW_API_KEY) whose errors end the command with a message and an exit code."""
    try:
        with Client(url) as client:
            yield client
    except ConnectionError as e:
        fail(
            f"{e}\nStart one with `fnflow server`, or point --url (or FNFLOW_URL) at a running server.",
            EXIT_UNREACHABLE,
        )
    except ApiError as e:
        fail(_explain(e), EXIT_USAGE if e.status < 500 else EXIT_FAILED)
    except ValueError as e:
        fail(str(e))


def _explain(e: ApiError) -> str:
    if e.errors:
        return "invalid flow definition:\n" + "\n".join(f"  {DefinitionProblem(**p)}" for p in e.errors)
    if e.status == 401:
        return f"{e.message}\nSet FNFLOW_API_KEY=<key id>:<secret> (make one with `fnflow keys create`)."
    return e.message


def emit(output: Format, raw: Any, text: Callable[[], str]) -> None:
    """Print ``raw`` (the API's JSON; None if it has no body) with ``--output json``, else ``text()``."""
    if output is Format.text:
        typer.echo(text())
    elif raw is not None:
        typer.echo(json.dumps(raw, indent=2, ensure_ascii=False))


def more(next_token: str | None, output: Format) -> None:
    """Tell a person how to see the next page (json output has the token in it)."""
    if next_token and output is Format.text:
        typer.echo(f"(more: add --next-token {next_token})", err=True)


def write_body(body: bytes) -> None:
    """A function's response body on stdout, as it is (a newline added only on a terminal)."""
    sys.stdout.buffer.write(body)
    if sys.stdout.isatty() and not body.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")  # keep the prompt on its own line
    sys.stdout.flush()


def read_arg(value: str, option: str) -> bytes:
    """An option's bytes: the text itself, or the contents of ``@file`` (``@-`` reads stdin)."""
    if not value.startswith("@"):
        return value.encode()
    source = value[1:]
    try:
        return sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as e:
        raise typer.BadParameter(f"cannot read {source}: {e.strerror}", param_hint=option) from None


def json_arg(value: str, option: str) -> Any:
    """An option's JSON value, given as JSON text, ``@file`` or ``@-``."""
    try:
        return json.loads(read_arg(value, option))
    except ValueError as e:
        raise typer.BadParameter(f"not valid JSON: {e}", param_hint=option) from None
