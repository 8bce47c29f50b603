"""``fnflow keys``: API keys, made and removed directly in the database; the callback signing key.

Directly, not through the API, because the first admin key has to exist before a server that
requires keys can be asked for anything. The store is imported only when a keys command runs,
so that the other commands start quickly. A secret is sealed with the server key when the
command finds it (``--secret-key-file``, else ``secret.key`` beside a SQLite database); else it
is stored plain and the first server that has the key seals it. ``callback-key`` asks a running
server instead (the key is the server's, and an admin may read it without database access).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fnflow.cli import render
from fnflow.cli.common import Format, Output, Url, connect, emit, fail

if TYPE_CHECKING:
    from fnflow.secretbox import SecretBox
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

KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--secret-key-file",
        envvar="FNFLOW_SECRET_KEY_FILE",
        help="The servers' secret key, which seals key secrets (default: secret.key beside a SQLite file)",
        dir_okay=False,
    ),
]


def _box(db: str | None, key_file: Path | None) -> SecretBox:
    """The server key, if this command can find it (it never makes one: that is the server's)."""
    from sqlalchemy.engine import make_url

    from fnflow.secretbox import KEY_FILE, SecretBox, SecretKeyError
    from fnflow.store import DEFAULT_URL

    if key_file is None:
        url = make_url(db or DEFAULT_URL)
        database = url.database if url.get_backend_name() == "sqlite" else None
        key_file = Path(database).parent / KEY_FILE if database and database != ":memory:" else None
    if key_file is None:
        return SecretBox(Path(), None)
    try:
        return SecretBox.load(key_file, create=False)
    except SecretKeyError as e:
        fail(e.message)


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
    key_file: KeyFile = None,
    output: Output = Format.text,
) -> None:
    """Create a key and print its id and secret, once (the secret cannot be shown again).

    Example, for a server that requires keys:

        fnflow keys create --scope admin --description ops
        fnflow server --auth on
        export FNFLOW_API_KEY=<id>:<secret>
    """
    from fnflow.services.keys import new_key, seal_key

    key = new_key(scope.value, description)
    stored = seal_key(_box(db, key_file), key)
    with _store(db) as store:
        store.write_sync(lambda tx: tx.put_key(stored))
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
    key_file: KeyFile = None,
    output: Output = Format.text,
) -> None:
    """Print temporary credentials of a key, as Alibaba's STS gives them: AccessKeyId,
    AccessKeySecret and SecurityToken (for the SDKs' StsTokenCredential; FnF requests only).

        fnflow keys temporary FNF0123… --scope report-task --duration 900 --output json
    """
    from datetime import UTC, datetime

    from fnflow.errors import InvalidArgument
    from fnflow.fdl.timestamps import format_timestamp
    from fnflow.secretbox import SecretUnavailable
    from fnflow.services.keys import issue_temporary, temporary_keys

    box = _box(db, key_file)
    with _store(db) as store:
        parent = store.read_sync(lambda tx: tx.get_key(key_id))
        if parent is None or not parent.enabled:
            fail(f"key {key_id!r} does not exist")
        try:
            maker = store.write_sync(lambda tx: temporary_keys(box, tx))
        except SecretUnavailable as e:
            fail(e.message)
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
def rotate(key_id: str, db: Db = None, key_file: KeyFile = None, output: Output = Format.text) -> None:
    """Give a key a new secret (same id and scope) and print it, once. Running servers stop
    accepting the old secret within their key cache time (5 s by default)."""
    import dataclasses

    from fnflow.services.keys import new_secret, seal_key

    box = _box(db, key_file)
    with _store(db) as store:
        key = store.read_sync(lambda tx: tx.get_key(key_id))
        if key is None:
            fail(f"key {key_id!r} does not exist")
        rotated = dataclasses.replace(key, secret=new_secret(), sealed=None, sealed_with=None)
        stored = seal_key(box, rotated)
        if not store.write_sync(lambda tx: tx.set_key_secret(stored)):
            fail(f"key {key_id!r} does not exist")
    emit(
        output,
        {**_json(rotated), "secret": rotated.secret},
        lambda: (
            f"new secret of {rotated.scope} key {rotated.id}: {rotated.secret}\n"
            f"  FNFLOW_API_KEY={rotated.id}:{rotated.secret}"
        ),
    )


@app.command()
def delete(key_id: str, db: Db = None, output: Output = Format.text) -> None:
    """Delete a key. Running servers stop accepting it within their key cache time (5 s by default)."""
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
