"""``fnflow secret``: create, update, list and delete the secrets functions read, and make a key.

A value comes from standard input (or a prompt that does not echo it), or from ``--from-file``;
never from the command line, where other users and the shell's history would see it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fnflow.cli.common import Format, Output, Url, connect, emit, fail
from fnflow.client.api import DEFAULT_SERVICE

app = typer.Typer(help="Create, update, list and delete secrets functions read.", no_args_is_help=True)

Service = Annotated[
    str, typer.Option("--service", "-s", help="The service (OpenFaaS namespace) the secret belongs to.")
]
FromFile = Annotated[
    Path | None,
    typer.Option(
        "--from-file", exists=True, dir_okay=False, help="Read the value, as it is, from this file."
    ),
]
Trim = Annotated[
    bool, typer.Option(help="Trim whitespace around a value read from standard input (as faas-cli does).")
]


def _value(from_file: Path | None, trim: bool) -> bytes:
    if from_file is not None:
        return from_file.read_bytes()
    if sys.stdin is None or sys.stdin.isatty():
        text = str(typer.prompt("Value", hide_input=True))
    else:
        text = sys.stdin.read()
    value = (text.strip() if trim else text).encode()
    if not value:
        fail("the value is empty: pipe it to standard input, or use --from-file")
    return value


@app.command()
def create(
    name: str,
    service: Service = DEFAULT_SERVICE,
    from_file: FromFile = None,
    trim: Trim = True,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Create a secret.

    Examples:

        printf %s "$DB_PASSWORD" | fnflow secret create db-password
        fnflow secret create tls-key --from-file key.pem --service payments
    """
    _put(name, service, _value(from_file, trim), url, output, create=True)


@app.command()
def update(
    name: str,
    service: Service = DEFAULT_SERVICE,
    from_file: FromFile = None,
    trim: Trim = True,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Replace a secret's value; the functions that read it see the new one within seconds."""
    _put(name, service, _value(from_file, trim), url, output, create=False)


def _put(name: str, service: str, value: bytes, url: str | None, output: Format, *, create: bool) -> None:
    with connect(url) as client:
        (client.create_secret if create else client.update_secret)(name, value, service=service)
    done = "created" if create else "updated"
    emit(output, None, lambda: f"{done} secret {name} in service {service}")


@app.command("list")
def list_(service: Service = DEFAULT_SERVICE, url: Url = None, output: Output = Format.text) -> None:
    """List a service's secrets, by name (values are never shown)."""
    with connect(url) as client:
        names = client.list_secrets(service)
    emit(output, {"secrets": names}, lambda: "\n".join(names))


@app.command()
def delete(
    name: str, service: Service = DEFAULT_SERVICE, url: Url = None, output: Output = Format.text
) -> None:
    """Delete a secret (the functions that name it fail until it exists again)."""
    with connect(url) as client:
        client.delete_secret(name, service=service)
    emit(output, None, lambda: f"deleted secret {name} from service {service}")


@app.command()
def keygen(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="Where to write the new key (mode 0600).")],
) -> None:
    """Write a new key that encrypts secrets, for `fnflow server --secret-key-file FILE`.

    Every process sharing a PostgreSQL database needs the same key file. Keep a copy: secrets
    cannot be read without it.
    """
    from fnflow.secretbox import new_key_file

    try:
        new_key_file(file)
    except FileExistsError:
        fail(f"{file} exists: fnflow never overwrites a key")
    except OSError as e:
        fail(f"cannot write {file}: {e.strerror}")
    typer.echo(f"wrote a new secret key to {file}")
