"""Run a real ``fnflow server`` in a subprocess, for end-to-end tests and benchmarks.

server = ServerProcess(tmp_path, "--apply", "examples/polling").start()
...  # talk to server.url with fnflow.Client or any HTTP client
server.kill()     # kill -9, to test recovery
server.start()    # same database, same port
server.stop()
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
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
    """Start, kill -9 and restart a server that keeps its database and code cache in ``root``."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.args = list(args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = f"sqlite:///{root / 'fnflow.db'}"
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = root / "server.log"

    def command(self) -> list[str]:
        return [
            *FNFLOW,
            "server",
            "--db",
            self.db,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.root),
            "--log-level",
            "warning",
            *self.args,
        ]

    def start(self, timeout: float = 30) -> ServerProcess:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fnflow server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"fnflow server did not become healthy in {timeout}s:\n{self.log()}")

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
