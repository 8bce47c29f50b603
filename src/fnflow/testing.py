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

Flows in-process, with mocked tasks and virtual time (what ``fnflow test`` runs; see
docs/testing.md): ``FlowTester`` and, for pytest, the ``flow_tester`` fixture (``pytest_plugins =
["fnflow.testing"]`` in a conftest.py, or import it).

    run = FlowTester("examples/saga/flow.yaml").run({...}, mocks={"ReserveHotel": {"result": {}}})
    run.expect(status="Succeeded", duration=0)

The PostgreSQL server is ``admin_url()``'s: ``FNFLOW_TEST_PG`` if set (an error if it does not
answer), else postgresql://postgres@127.0.0.1:5432/postgres (or ``FNFLOW_TEST_PG_DEFAULT``) if it
answers, else a throwaway cluster this process starts itself (initdb/pg_ctl from PATH or
/usr/lib/postgresql/*/bin; about a second) and stops at exit. NoPostgres says what was tried.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import itertools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from fnflow.flowtest.api import FlowRun, FlowTester
from fnflow.flowtest.load import TestFileError

__all__ = [
    "FlowRun",
    "FlowTester",
    "NoPostgres",
    "PostgresMisconfigured",
    "ServerProcess",
    "TestFileError",
    "ThrowawayCluster",
    "admin_url",
    "flow_tester",
    "free_port",
    "postgres_bin_dirs",
    "resolve_admin_url",
    "throwaway_database",
    "write_wheel",
]

FNFLOW = [sys.executable, "-m", "fnflow"]


#: ports ``free_port`` hands a pytest-xdist worker: a range of its own below the kernel's
#: ephemeral ports (32768-60999 on Linux by default), ``PORTS_PER_WORKER`` wide, from ``FIRST_PORT``
FIRST_PORT, PORTS_PER_WORKER, WORKER_RANGES = 20_000, 1_000, 12
_handed_out = itertools.count()


def free_port() -> int:
    """A port nothing listens on now. Under pytest-xdist, from the worker's own range: a port the
    kernel picks (bind to port 0) is free again the moment its server is killed, and another
    worker's next server took one while a test was restarting its own on it (a crash test then
    met a stranger on its port)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not worker[2:].isdigit():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    first = FIRST_PORT + int(worker[2:]) % WORKER_RANGES * PORTS_PER_WORKER
    for _ in range(PORTS_PER_WORKER):
        port = first + next(_handed_out) % PORTS_PER_WORKER
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # a server of an earlier test still has it
            return port
    raise RuntimeError(f"no free port in {first}-{first + PORTS_PER_WORKER - 1}")


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
#: where Debian and Ubuntu put the server binaries (one directory per major version)
DEBIAN_PG_BIN = "/usr/lib/postgresql/*/bin"


class NoPostgres(RuntimeError):
    """No PostgreSQL server answers and none could be started; the message says what was tried."""


class PostgresMisconfigured(RuntimeError):
    """``FNFLOW_TEST_PG`` is set but does not answer: an error, never a reason to skip."""


def _answers(url: str, timeout: float) -> str | None:
    """None if ``url`` accepts a connection within ``timeout`` seconds, else why not."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=max(1, round(timeout)), autocommit=True).close()
    except psycopg.OperationalError as e:
        return " ".join(str(e).split()) or type(e).__name__
    return None


def _version(bin_dir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def postgres_bin_dirs() -> list[Path]:
    """Directories holding both ``initdb`` and ``pg_ctl``: the ones on PATH first, then
    /usr/lib/postgresql/*/bin, newest version first."""
    found = [shutil.which("pg_ctl"), shutil.which("initdb")]
    candidates = [Path(path).resolve().parent for path in found if path]
    candidates += sorted(Path("/").glob(DEBIAN_PG_BIN.lstrip("/")), key=_version, reverse=True)
    dirs: list[Path] = []
    for directory in candidates:
        if directory not in dirs and all((directory / tool).is_file() for tool in ("initdb", "pg_ctl")):
            dirs.append(directory)
    return dirs


def _unprivileged_ids() -> tuple[int, int] | None:
    """The uid/gid to run the server as: None (ourselves) unless we are root, whom initdb and
    postgres refuse; then the ``postgres`` system user."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise NoPostgres(
            "running as root, which initdb/postgres refuse, and there is no 'postgres' user to run them as"
        ) from None
    return user.pw_uid, user.pw_gid


class ThrowawayCluster:
    """A PostgreSQL cluster of its own in a temporary directory: ``initdb -A trust -U postgres``,
    listening on 127.0.0.1 at a free port, fsync off (its data dies with it). ``stop`` kills it and
    removes the directory.

        cluster = ThrowawayCluster.start()
        cluster.url    # postgresql://postgres@127.0.0.1:<port>/postgres
        cluster.stop()
    """

    def __init__(self, bin_dir: Path, directory: Path, ids: tuple[int, int] | None) -> None:
        self.bin_dir = bin_dir
        self.directory = directory
        self.data = directory / "data"
        self.log_path = directory / "postgres.log"
        self.port = 0
        self._ids = ids
        self.started_in: float | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def start(cls, timeout: float = 60) -> ThrowawayCluster:
        """Start one with the first ``postgres_bin_dirs()``; raises NoPostgres saying why not."""
        began = time.monotonic()
        dirs = postgres_bin_dirs()
        if not dirs:
            raise NoPostgres(
                f"initdb and pg_ctl are neither on PATH nor under {DEBIAN_PG_BIN} "
                "(install the PostgreSQL server, e.g. apt-get install postgresql)"
            )
        ids = _unprivileged_ids()
        directory = Path(tempfile.mkdtemp(prefix="fnflow-pg-"))
        cluster = cls(dirs[0], directory, ids)
        try:
            if ids is not None:
                os.chown(directory, *ids)
            cluster._start(timeout)
        except BaseException:
            cluster.stop()
            raise
        cluster.started_in = time.monotonic() - began
        return cluster

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        uid, gid = self._ids if self._ids is not None else (None, None)
        # PG* variables of the caller's environment must not point pg_ctl at another server
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.directory,  # the postgres user may not enter ours
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            user=uid,
            group=gid,
            extra_groups=None if uid is None else [],
            start_new_session=True,  # a Ctrl-C of the tests leaves the server to stop()
        )

    def _fail(self, what: str, result: subprocess.CompletedProcess[str]) -> NoPostgres:
        log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        output = (result.stdout + result.stderr + log).strip()[-2000:]
        return NoPostgres(f"{what} ({self.bin_dir}) failed with exit code {result.returncode}: {output}")

    def _start(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        initdb = self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C", "--no-sync", timeout=timeout,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise self._fail("initdb", initdb)
        for _attempt in range(3):  # another process may take the free port before the server binds it
            self.port = free_port()
            options = (
                f"-p {self.port} -k {shlex.quote(str(self.directory))} "
                "-c listen_addresses=127.0.0.1 -c fsync=off"
            )
            remaining = max(1, round(deadline - time.monotonic()))
            pg_ctl = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options,
                "-w", "-t", str(remaining), "start", timeout=remaining + 5,
            )  # fmt: skip
            if pg_ctl.returncode == 0:
                break
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            if "already in use" not in log:
                raise self._fail("pg_ctl start", pg_ctl)
            self.log_path.unlink(missing_ok=True)
        else:
            raise self._fail("pg_ctl start", pg_ctl)
        while (why := _answers(self.url, 2)) is not None:
            if time.monotonic() > deadline:
                raise NoPostgres(f"a throwaway server started at {self.url} but does not answer: {why}")
            time.sleep(0.05)

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def restart(self, timeout: float = 60) -> None:
        """Stop the server (``-m fast``: every session is cut) and start it again on the same port."""
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-m", "fast", "-w",
            "-t", str(round(timeout)), "restart", timeout=timeout + 5,
        )  # fmt: skip
        if result.returncode != 0:
            raise self._fail("pg_ctl restart", result)

    def stop(self) -> None:
        """Kill the server (``pg_ctl stop -m immediate``) and remove its directory. Idempotent."""
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
            with contextlib.suppress(OSError):  # pg_ctl failed: the postmaster still goes
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.directory, ignore_errors=True)


def resolve_admin_url(
    configured: str | None, default: str = DEFAULT_PG_ADMIN
) -> tuple[str, ThrowawayCluster | None]:
    """The admin URL of a PostgreSQL server for tests, in this order: ``configured`` (the value of
    FNFLOW_TEST_PG) if set, PostgresMisconfigured if it does not answer; else ``default`` if it
    answers; else a ThrowawayCluster, which the caller must stop. NoPostgres says what was tried."""
    if configured:
        configured = re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", configured)  # libpq spelling
        why = _answers(configured, 3)
        if why is not None:
            raise PostgresMisconfigured(f"FNFLOW_TEST_PG={configured!r} does not answer: {why}")
        return configured, None
    why = _answers(default, 2)
    if why is None:
        return default, None
    try:
        cluster = ThrowawayCluster.start()
    except NoPostgres as e:
        raise NoPostgres(
            f"FNFLOW_TEST_PG is unset; {default} does not answer ({why}); "
            f"no throwaway server either: {e}. Set FNFLOW_TEST_PG=postgresql://user@host:port/db"
        ) from None
    return cluster.url, cluster


_admin: str | NoPostgres | PostgresMisconfigured | None = None
_admin_lock = threading.Lock()


def admin_url() -> str:
    """The admin URL of the PostgreSQL server for this process's tests, resolved once by
    ``resolve_admin_url`` from FNFLOW_TEST_PG, else FNFLOW_TEST_PG_DEFAULT or 127.0.0.1:5432, else a
    throwaway cluster that is stopped at interpreter exit. Raises NoPostgres or
    PostgresMisconfigured (every time, once it has failed)."""
    global _admin
    with _admin_lock:
        if _admin is None:
            default = os.environ.get("FNFLOW_TEST_PG_DEFAULT") or DEFAULT_PG_ADMIN
            try:
                url, cluster = resolve_admin_url(os.environ.get("FNFLOW_TEST_PG"), default)
            except (NoPostgres, PostgresMisconfigured) as e:
                _admin = e
            else:
                if cluster is not None:
                    atexit.register(cluster.stop)
                _admin = url
        if isinstance(_admin, str):
            return _admin
        raise type(_admin)(str(_admin))


def _execute(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(statement.encode())


@contextmanager
def throwaway_database() -> Iterator[str]:
    """The URL of a new, empty database on ``admin_url()``'s server, dropped (with its
    connections) on exit."""
    admin = admin_url()
    name = f"fnflow_test_{uuid.uuid4().hex[:12]}"
    _execute(admin, f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        _execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_wheel(folder: Path, name: str, version: str, modules: dict[str, str]) -> Path:
    """Write a tiny pure-Python wheel into ``folder`` (made if missing) and return its path, so tests
    install packages offline: ``PIP_NO_INDEX=1 PIP_FIND_LINKS=<folder>``. ``modules`` maps file paths
    inside the wheel (``greeting/__init__.py``) to their text."""
    folder.mkdir(parents=True, exist_ok=True)
    project = re.sub(r"[-_.]+", "_", name)
    info = f"{project}-{version}.dist-info"
    files = {
        **modules,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{project}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


try:  # the pytest fixture, where pytest is installed
    import pytest
except ImportError:  # pragma: no cover
    pass
else:

    @pytest.fixture
    def flow_tester() -> type[FlowTester]:
        """``flow_tester("flow.yaml", mocks=...)`` makes a FlowTester (see ``fnflow.flowtest.api``)."""
        return FlowTester
