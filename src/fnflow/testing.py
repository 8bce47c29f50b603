"""Run a real ``fnflow server`` in a subprocess, for end-to-end tests and benchmarks; and a
throwaway PostgreSQL database (``throwaway_database``) for tests of several processes.

    server = ServerProcess(tmp_path, "--apply", "examples/polling").start()
    ...  # talk to server.url with fnflow.Client or any HTTP client
    server.kill()     # kill -9, to test recovery
    server.start()    # same database, same port
    server.stop()

    with throwaway_database() as db:     # several processes on one PostgreSQL database
        a = ServerProcess(tmp_path / "a", db=db).start()
        w = ServerProcess(tmp_path / "w", db=db, command="worker").start()
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

FNFLOW = [sys.executable, "-m", "fnflow"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


class ServerProcess:
    """Start, kill -9 and restart a server (or, with ``command="worker"``, a worker) that keeps its
    code cache in ``root`` and its data in ``db`` (default: a SQLite file in ``root``)."""

    def __init__(
        self,
        root: Path,
        *args: str,
        env: dict[str, str] | None = None,
        db: str | None = None,
        command: str = "server",
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        self.kind = command
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = db or f"sqlite:///{root / 'fnflow.db'}"
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = root / f"{command}.log"

    def command(self) -> list[str]:
        where = ["--port", str(self.port)] if self.kind == "server" else []
        # A worker has no HTTP port to ask; it says "running" in its log at info level.
        level = "warning" if self.kind == "server" else "info"
        return [
            *FNFLOW,
            self.kind,
            "--db",
            self.db,
            *where,
            "--data-dir",
            str(self.root),
            "--log-level",
            level,
            *self.args,
        ]

    def _ready(self) -> bool:
        if self.kind != "server":
            return " running" in self.log()
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 30) -> ServerProcess:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fnflow {self.kind} exited with {self.process.returncode}:\n{self.log()}")
            if self._ready():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"fnflow {self.kind} did not become ready in {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """kill -9 the server process (its function workers notice and exit on their own)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def orphans(self, within: float = 10) -> int:
        """How many processes of the last server's group are still alive after ``within`` seconds."""
        assert self.process is not None
        deadline = time.monotonic() + within
        while True:
            pids = map(int, filter(str.isdigit, os.listdir("/proc")))
            alive = [pid for pid in pids if _pgid(pid) == self.process.pid]
            if not alive or time.monotonic() > deadline:
                return len(alive)
            time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):  # make sure no worker outlives the test
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode

    def restart(self) -> ServerProcess:
        self.kill()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- PostgreSQL, for tests and benchmarks that run several processes ------------------------------

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class NoPostgres(RuntimeError):
    """No PostgreSQL server answers."""


def admin_url() -> str:
    return os.environ.get("FNFLOW_TEST_PG") or DEFAULT_PG_ADMIN


def _execute(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(statement.encode())


@contextmanager
def throwaway_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped (with its connections) on exit."""
    import psycopg

    admin = admin_url()
    name = f"fnflow_test_{uuid.uuid4().hex[:12]}"
    try:
        _execute(admin, f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as e:
        raise NoPostgres(f"no PostgreSQL at {admin} ({str(e).strip()}); set FNFLOW_TEST_PG") from None
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        _execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
