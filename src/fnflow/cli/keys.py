"""``fnflow keys``: API keys, made and removed directly in the database; the callback signing key.

Directly, not through the API, because the first admin key has to exist before a server that
requires keys can be asked for anything. The store is imported only when a keys command runs,
so that the other commands start quickly. ``callback-key`` asks a running server instead (the
key is the server's, and an admin may read it without database access).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from fnflow.cli import render
from fnflow.cli.common import Format, Output, Url, connect, emit, fail

if TYPE_CHECKING:
    from fnflow.store import ApiKeyRecord, Store


app = typer.Typer(
    help="Create, list and delete API keys (directly in the database, so it works before any key exists).",
    no_args_is_help=True,
)


class Scope(StrEnum):
    admin = "admin"
    invoke = "invoke"
    report_task = "report-task"


Db = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="FNFLOW_DB", help="The server's database URL (default sqlite:///.fnflow/fnflow.db)."
    ),
]


@contextmanager
def _store(db: str | None) -> Iterator[Store]:
    from sqlalchemy.exc import SQLAlchemyError

    from fnflow.store import DEFAULT_URL, open_store

    url = db or DEFAULT_URL
    try:
        store = open_store(url)
    except (OSError, ValueError, NotImplementedError, SQLAlchemyError) as e:
        fail(f"cannot open the database {url}: {e}")
    try:
        yield store
    finally:
        store.close()


def _json(key: ApiKeyRecord) -> dict[str, object]:
    from fnflow.fdl.timestamps import format_timestamp

    return {
        "id": key.id,
        "scope": key.scope,
        "description": key.description,
        "createdTime": format_timestamp(key.created_at),
        "enabled": key.enabled,
    }


@app.command()
def create(
    scope: Annotated[
        Scope,
        typer.Option(
            help="admin: everything; invoke: run flows and functions, no changes; report-task: only that."
        ),
    ],
    description: Annotated[str, typer.Option(help="Who or what uses the key.")] = "",
    db: Db = None,
    output: Output = Format.text,
) -> None:
    """Create a key and print its id and secret, once (the secret cannot be shown again).

    Example, for a server that requires keys:

        fnflow keys create --scope admin --description ops
        fnflow server --auth on
        export FNFLOW_API_KEY=<id>:<secret>
    """
    from fnflow.services.keys import new_key

    key = new_key(scope.value, description)
    with _store(db) as store:
        store.write_sync(lambda tx: tx.put_key(key))
    emit(
        output,
        {**_json(key), "secret": key.secret},
        lambda: (
            f"created {key.scope} key {key.id}\n"
            f"secret: {key.secret}\n"
            "The secret is shown only now. Clients take both as:\n"
            f"  FNFLOW_API_KEY={key.id}:{key.secret}"
        ),
    )


@app.command()
def temporary(
    key_id: Annotated[str, typer.Argument(help="The key the credentials come from (they end with it).")],
    scope: Annotated[
        Scope | None, typer.Option(help="The key's scope or a narrower one (default: the key's).")
    ] = None,
    duration: Annotated[int, typer.Option(help="Seconds they are good for, 900 to 43200.")] = 3600,
    db: Db = None,
    output: Output = Format.text,
) -> None:
    """Print temporary credentials of a key, as Alibaba's STS gives them: AccessKeyId,
    AccessKeySecret and SecurityToken (for the SDKs' StsTokenCredential; FnF requests only).

        fnflow keys temporary FNF0123… --scope report-task --duration 900 --output json
    """
    from datetime import UTC, datetime

    from fnflow.errors import InvalidArgument
    from fnflow.fdl.timestamps import format_timestamp
    from fnflow.services.keys import issue_temporary, temporary_keys

    with _store(db) as store:
        parent = store.read_sync(lambda tx: tx.get_key(key_id))
        if parent is None or not parent.enabled:
            fail(f"key {key_id!r} does not exist")
        maker = store.write_sync(temporary_keys)
    try:
        made = issue_temporary(maker, parent, scope.value if scope else None, duration, datetime.now(UTC))
    except InvalidArgument as e:
        fail(e.message)
    credentials = {
        "AccessKeyId": made.access_key_id,
        "AccessKeySecret": made.access_key_secret,
        "SecurityToken": made.security_token,
        "Expiration": format_timestamp(made.expiration),
    }
    emit(output, credentials, lambda: "\n".join(f"{k}: {v}" for k, v in credentials.items()))


@app.command("list")
def list_(db: Db = None, output: Output = Format.text) -> None:
    """List keys: id, scope, created (never their secrets)."""
    with _store(db) as store:
        keys = store.read_sync(lambda tx: tx.list_keys())
    rows = [
        (
            k.id,
            k.scope,
            render.when(k.created_at),
            "yes" if k.enabled else "no",
            render.clip(k.description, 60),
        )
        for k in keys
    ]
    emit(
        output,
        {"keys": [_json(k) for k in keys]},
        lambda: render.table(("ID", "SCOPE", "CREATED", "ENABLED", "DESCRIPTION"), rows),
    )


@app.command()
def delete(key_id: str, db: Db = None, output: Output = Format.text) -> None:
    """Delete a key. A running server may accept it until it restarts (it caches keys)."""
    with _store(db) as store:
        if not store.write_sync(lambda tx: tx.delete_key(key_id)):
            fail(f"key {key_id!r} does not exist")
    emit(output, None, lambda: f"deleted key {key_id}")


@app.command("callback-key")
def callback_key(url: Url = None, output: Output = Format.text) -> None:
    """Print the key that signs callbacks (X-Fnflow-Signature), for receivers to verify them.

    Asks the server at --url (an admin key when auth is on). A receiver checks a callback with
    fnflow.verify_callback(headers, body, key).
    """
    with connect(url) as client:
        key = client.callback_key()
    emit(output, {"key": key}, lambda: key)
