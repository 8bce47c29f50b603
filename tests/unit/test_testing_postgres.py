"""The PostgreSQL that tests get when neither FNFLOW_TEST_PG nor 127.0.0.1:5432 has one: a throwaway
cluster started by ``fnflow.testing`` itself (forced here by pointing the default at a closed port)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fnflow.testing import (
    NoPostgres,
    PostgresMisconfigured,
    ThrowawayCluster,
    free_port,
    postgres_bin_dirs,
    resolve_admin_url,
)
from tests.postgres import no_postgres


def closed_port_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"


def answers(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def needs_binaries() -> None:
    if not postgres_bin_dirs():  # the one case these tests may not run
        no_postgres("THROWAWAY CLUSTER TEST", "no initdb/pg_ctl on this machine")


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    needs_binaries()
    url, started = resolve_admin_url(None, closed_port_url())
    assert started is not None and url == started.url
    yield started
    started.stop()


def test_a_throwaway_cluster_starts_answers_and_is_gone_after_stop(cluster: ThrowawayCluster) -> None:
    try:
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
            conn.execute("CREATE DATABASE fnflow_throwaway_check")  # what throwaway_database does
        pid = cluster.pid
        assert pid is not None and alive(pid)
        assert cluster.directory.is_dir()
    finally:
        cluster.stop()
    assert not alive(pid)
    assert not cluster.directory.exists()
    assert not answers(cluster.url)
    cluster.stop()  # twice is harmless


def test_admin_url_starts_one_per_process_and_stops_it_at_exit(tmp_path: Path) -> None:
    """Through the environment, as the test suite uses it: two calls, one cluster; gone at exit."""
    needs_binaries()
    script = (
        "import json, psycopg, fnflow.testing as t\n"
        "url = t.admin_url()\n"
        "assert t.admin_url() == url\n"
        "with t.throwaway_database() as db, psycopg.connect(db) as conn:\n"
        "    one = conn.execute('SELECT 1').fetchone()[0]\n"
        "with psycopg.connect(url) as conn:\n"
        "    directory = conn.execute('SHOW data_directory').fetchone()[0]\n"
        "print(json.dumps({'url': url, 'one': one, 'directory': directory}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "FNFLOW_TEST_PG"}
    env["FNFLOW_TEST_PG_DEFAULT"] = closed_port_url()
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["one"] == 1
    assert seen["url"] != env["FNFLOW_TEST_PG_DEFAULT"]
    assert not Path(seen["directory"]).exists()  # atexit stopped it and removed its directory
    assert not answers(seen["url"])


def test_a_configured_server_that_does_not_answer_is_an_error_not_a_fallback() -> None:
    with pytest.raises(PostgresMisconfigured, match="FNFLOW_TEST_PG="):
        resolve_admin_url(closed_port_url(), closed_port_url())


def test_nothing_to_start_says_what_was_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    import fnflow.testing

    monkeypatch.setattr(fnflow.testing, "postgres_bin_dirs", list)
    default = closed_port_url()
    with pytest.raises(NoPostgres) as raised:
        resolve_admin_url(None, default)
    reason = str(raised.value)
    assert "FNFLOW_TEST_PG is unset" in reason
    assert default in reason
    assert "initdb and pg_ctl" in reason


def test_a_configured_sqlalchemy_url_is_spelled_for_libpq() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    try:
        resolved, cluster = resolve_admin_url(url)
    except PostgresMisconfigured as e:
        assert "postgresql://postgres@127.0.0.1:5432" in str(e)  # no server here: still spelled right
    else:
        assert (resolved, cluster) == ("postgresql://postgres@127.0.0.1:5432/postgres", None)
