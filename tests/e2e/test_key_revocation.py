"""A key rotated or deleted while servers run: the new secret works at once everywhere, the old one
and a deleted key stop working within the key cache time (FNFLOW_KEY_CACHE_SECONDS; 1 s here,
5 s by default, docs/api.md) on every process — one on SQLite, two sharing PostgreSQL.

The checks wait out the promised time and then look, so a slow machine cannot fail them."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.postgres import no_postgres

pytestmark = pytest.mark.e2e

CACHE_SECONDS = 1.0
ENV = {"FNFLOW_KEY_CACHE_SECONDS": str(CACHE_SECONDS)}


def keys(db: str, *args: str, key_file: Path | None = None) -> dict[str, str]:
    where = ["--secret-key-file", str(key_file)] if key_file else []
    done = subprocess.run(
        [sys.executable, "-m", "fnflow", "keys", *args, "--db", db, *where, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout) if done.stdout.strip() else {}


def status(server: ServerProcess, key_id: str, secret: str) -> int:
    headers = {"Authorization": f"Bearer {key_id}:{secret}"}
    return httpx.get(f"{server.url}/api/v1/flows", headers=headers, timeout=30).status_code


def after_the_promised_time() -> None:
    """Sleep out the cache time, and a little more, from when the change was made. A slow machine
    cannot fail the check that follows: a cache entry is at least as old as the sleep."""
    time.sleep(CACHE_SECONDS + 0.25)


def rotate_then_delete(servers: list[ServerProcess], db: str, key_file: Path | None = None) -> None:
    made = keys(db, "create", "--scope", "invoke", key_file=key_file)
    key_id, old = made["id"], made["secret"]
    assert [status(s, key_id, old) for s in servers] == [200] * len(servers)  # now cached everywhere

    new = keys(db, "rotate", key_id, key_file=key_file)["secret"]
    assert [status(s, key_id, new) for s in servers] == [200] * len(servers), "the new secret works at once"
    after_the_promised_time()
    assert [status(s, key_id, old) for s in servers] == [401] * len(servers), "the old secret still works"

    assert [status(s, key_id, new) for s in servers] == [200] * len(servers)
    keys(db, "delete", key_id)
    after_the_promised_time()
    assert [status(s, key_id, new) for s in servers] == [401] * len(servers), "a deleted key still works"


def test_rotated_and_deleted_keys_stop_working_within_the_cache_time(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--auth", "on", env=ENV).start()
    try:
        rotate_then_delete([server], server.db)
    finally:
        server.stop()


@pytest.mark.slow
def test_on_postgresql_every_process_stops_accepting_them(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    subprocess.run([sys.executable, "-m", "fnflow", "secret", "keygen", str(key_file)], check=True)
    with contextlib.ExitStack() as stack:
        try:
            db = stack.enter_context(throwaway_database())
        except NoPostgres as e:
            no_postgres("KEY REVOCATION TEST", e)
        servers = []
        for name in "ab":
            server = ServerProcess(
                tmp_path / name, "--auth", "on", "--secret-key-file", str(key_file), db=db, env=ENV
            )
            stack.callback(server.stop)
            servers.append(server.start())
        rotate_then_delete(servers, db, key_file)
