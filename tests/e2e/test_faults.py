"""A full disk or a read-only database gives clear errors, and fnflow carries on once it clears.

Disk full: the SQLite database lives on a small tmpfs of its own (mounting needs root: elsewhere
this skips) that the test fills while the server runs. Read-only: a PostgreSQL database turned
read-only as a hot standby is, its sessions cut as by a failover. Writes answer 503
``Unavailable`` saying what is wrong, never a 500 or a stack trace; reads and ``/healthz`` keep
answering; once the disk has room again, or the database is writable again, the same server
takes new work and finishes what it had.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.postgres import no_postgres

pytestmark = pytest.mark.e2e

FLOW = """version: v1
type: flow
steps:
  - type: wait
    name: nap
    duration: 1
  - type: pass
    name: done
"""


@contextlib.contextmanager
def small_disk(where: Path, size: str = "16m") -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root only): {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False)
    return filler


@pytest.fixture
def server_on_small_disk(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    with small_disk(tmp_path / "disk") as disk:
        server = ServerProcess(tmp_path / "server", db=f"sqlite:///{disk / 'fnflow.db'}").start()
        try:
            yield server, disk
        finally:
            server.stop()


def refused_clearly(response: httpx.Response, words: str) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "Unavailable" and words in body["message"], body
    assert "Traceback" not in response.text


def start(http: httpx.Client, name: str) -> httpx.Response:
    return http.post("/api/v1/flows/napper/executions", json={"name": name})


def test_a_full_disk_is_said_plainly_and_work_resumes_when_it_has_room(
    server_on_small_disk: tuple[ServerProcess, Path],
) -> None:
    server, disk = server_on_small_disk
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.put("/api/v1/flows/napper", json={"definition": FLOW}).status_code in (200, 201)
        assert start(http, "before").status_code == 201
        filler = fill(disk)
        refused = [start(http, f"full-{i}") for i in range(40)]  # the last pages of the file fill up too
        assert refused[-1].status_code == 503
        for response in refused:
            assert response.status_code in (201, 503), response.text
            if response.status_code == 503:
                refused_clearly(response, "disk is full")
        assert http.get("/healthz").status_code == 200
        assert http.get("/api/v1/flows/napper").status_code == 200  # reads go on

        filler.unlink()
        after = start(http, "after")
        assert after.status_code == 201, after.text
        for name in ("before", "after"):
            done = http.get(f"/api/v1/flows/napper/executions/{name}", params={"wait": 60}).json()
            assert done["status"] == "Succeeded", done
    assert "Traceback" not in server.log() or "disk is full" in server.log()


def _set_read_only(db: str, on: bool) -> None:
    """Make the database read-only for new sessions (as a hot standby is), and end the sessions
    it has, as a failover would: fnflow's connections come back under the new rule."""
    import psycopg

    name = db.rsplit("/", 1)[1]
    admin = db.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        setting = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
        conn.execute(f'ALTER DATABASE "{name}" {setting}'.encode())
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


def test_a_read_only_database_is_said_plainly_and_work_resumes_when_writable(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        try:
            db = stack.enter_context(throwaway_database())
        except NoPostgres as e:
            no_postgres("READ-ONLY DATABASE TEST", e)
        server = ServerProcess(tmp_path, db=db)
        stack.callback(server.stop)
        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.put("/api/v1/flows/napper", json={"definition": FLOW}).status_code in (200, 201)
            assert start(http, "before").status_code == 201
            _set_read_only(db, True)
            try:
                refused = [
                    start(http, f"read-only-{i}") for i in range(3)
                ]  # the first may meet a cut session
                refused_clearly(refused[-1], "read-only")
                for response in refused:
                    assert response.status_code == 503, response.text
                assert http.get("/api/v1/flows/napper").status_code == 200  # reads go on
            finally:
                _set_read_only(db, False)
            deadline = time.monotonic() + 60  # the writers come back on their next attempt
            while (after := start(http, "after")).status_code != 201:
                assert after.status_code == 503 and time.monotonic() < deadline, after.text
                time.sleep(0.1)
            for name in ("before", "after"):
                done = http.get(f"/api/v1/flows/napper/executions/{name}", params={"wait": 60}).json()
                assert done["status"] == "Succeeded", done
