"""Secrets through a real server: OpenFaaS' /system/secrets as faas-cli sends it (openfaas/faas-cli
proxy/secret.go: the namespace in the body, ``value`` or base64 ``rawValue``), ``fnflow secret``,
functions reading them as files or variables, deploys naming a missing one, bad input, a value
that never comes back out, and a process with another key that says so."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import fnflow
from fnflow.testing import ServerProcess

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "functions_fixtures"
VALUE = "pa55-w0rd-7c1e9b"  # must never come back out of the server
UPDATED = "n3w-pa55-1d4a0f"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    started = ServerProcess(tmp_path_factory.mktemp("secrets")).start()
    yield started
    started.stop()


def secrets(url: str, method: str, body: dict[str, Any] | None = None, **params: str) -> httpx.Response:
    return httpx.request(method, f"{url}/system/secrets", json=body, params=params)


def fnflow_cli(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fnflow", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "FNFLOW_URL": url},
        timeout=60,
    )


def test_faas_cli_secret_create_list_update_remove(server: ServerProcess) -> None:
    url = server.url
    created = secrets(url, "POST", {"name": "api-key", "namespace": "", "value": VALUE})
    assert (created.status_code, created.content) == (201, b"")
    again = secrets(url, "POST", {"name": "api-key", "value": "other"})
    assert again.status_code == 409 and again.json()["code"] == "Conflict"
    raw = {"name": "api-key", "rawValue": base64.b64encode(b"\x00\xffbytes").decode()}
    assert secrets(url, "PUT", raw).status_code == 200
    in_team = {"name": "api-key", "namespace": "team", "value": VALUE}
    assert secrets(url, "POST", in_team).status_code == 201
    assert secrets(url, "GET").json() == [{"name": "api-key", "namespace": "openfaas-fn"}]
    assert secrets(url, "GET", namespace="team").json() == [{"name": "api-key", "namespace": "team"}]
    assert secrets(url, "GET", namespace="empty").json() == []
    absent = secrets(url, "PUT", {"name": "nope", "value": "x"})
    assert absent.status_code == 404 and absent.json()["code"] == "NotFound"
    removed = secrets(url, "DELETE", {"name": "api-key", "namespace": "team"})
    assert (removed.status_code, removed.content) == (204, b"")
    assert secrets(url, "DELETE", {"name": "api-key", "namespace": "team"}).status_code == 404
    assert secrets(url, "GET", namespace="team").json() == []


def test_bad_secrets_are_400_with_a_clear_message(server: ServerProcess) -> None:
    rule = "at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
    for body, message in [
        ({"name": "DB_Password", "value": "x"}, f"invalid secret name 'DB_Password': {rule}"),
        ({"name": "-dash", "value": "x"}, f"invalid secret name '-dash': {rule}"),
        ({"name": "a" * 254, "value": "x"}, f"invalid secret name '{'a' * 254}': {rule}"),
        ({"name": "empty"}, "secret 'empty' needs a value: value (text) or rawValue (base64)"),
        ({"name": "raw", "rawValue": "not base64!"}, "rawValue must be base64"),
        (
            {"name": "big", "value": "x" * (512 * 1024 + 1)},
            f"the value of secret 'big' is {512 * 1024 + 1} bytes, more than the {512 * 1024} allowed",
        ),
    ]:
        for method in ("POST", "PUT"):
            response = secrets(server.url, method, body)
            assert (response.status_code, response.json()) == (
                400,
                {"code": "InvalidArgument", "message": message},
            ), method
    no_name = secrets(server.url, "POST", {"value": "x"})
    assert no_name.status_code == 400 and no_name.json()["code"] == "InvalidArgument"
    bad_namespace = secrets(server.url, "GET", namespace="no spaces")
    assert bad_namespace.status_code == 400
    assert secrets(server.url, "GET").json() == [
        s for s in secrets(server.url, "GET").json() if s["name"] != "big"
    ]


def call(url: str, name: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/function/{name}", content=body, timeout=30)


def test_functions_read_their_secrets_as_files_and_variables(server: ServerProcess) -> None:
    url = server.url
    secrets(url, "POST", {"name": "db-password", "value": VALUE}).raise_for_status()
    secrets(url, "POST", {"name": "unused", "value": "u"}).raise_for_status()
    with fnflow.Client(url) as client:
        client.deploy_function(
            "reader",
            FIXTURES / "basic",
            handler="index.read_secret",
            secrets=["db-password"],
            secret_environment={"DB_PASSWORD": "db-password"},
        )
    assert call(url, "reader", b"db-password").json() == {
        "value": VALUE,
        "env": VALUE,
        "same_path": True,
        "files": ["db-password"],
    }
    secrets(url, "PUT", {"name": "db-password", "value": UPDATED}).raise_for_status()
    deadline = time.monotonic() + 20
    while (read := call(url, "reader", b"db-password").json())["value"] != UPDATED:
        assert time.monotonic() < deadline, read
        time.sleep(0.2)
    assert read["env"] == UPDATED, "new workers hold the new value"

    # faas-cli deploy of a classic-watchdog function (secrets in the FunctionDeployment)
    deployment = {
        "service": "catsecret",
        "image": "ghcr.io/openfaas/alpine:latest",
        "envProcess": "sh -c 'cat \"$OPENFAAS_SECRETS_PATH/db-password\"'",
        "secrets": ["db-password"],
    }
    deployed = httpx.post(f"{url}/system/functions", json=deployment)
    assert (deployed.status_code, deployed.json()) == (202, {"ignored": []})
    assert call(url, "catsecret", b"").text == UPDATED
    assert httpx.get(f"{url}/system/function/catsecret").json()["secrets"] == ["db-password"]


def test_a_deploy_naming_a_missing_secret_fails_naming_it(server: ServerProcess) -> None:
    deployment = {"service": "needy", "image": "x", "envProcess": "cat", "secrets": ["missing-one"]}
    refused = httpx.post(f"{server.url}/system/functions", json=deployment)
    assert (refused.status_code, refused.json()) == (
        400,
        {
            "code": "InvalidArgument",
            "message": "function needy names secret(s) that do not exist in its namespace: missing-one"
            " (create them with `fnflow secret create NAME`)",
        },
    )
    assert httpx.get(f"{server.url}/system/function/needy").status_code == 404
    native = {"runtime": "command", "command": "cat", "secretEnvironment": {"TOKEN": "missing-two"}}
    refused = httpx.put(f"{server.url}/api/v1/functions/default/needy", json=native)
    assert refused.status_code == 400 and "missing-two" in refused.json()["message"]


def test_fnflow_secret_commands_read_values_from_stdin_or_a_file(
    server: ServerProcess, tmp_path: Path
) -> None:
    created = fnflow_cli(server.url, "secret", "create", "from-cli", "--service", "clis", stdin=f"{VALUE}\n")
    assert (created.returncode, created.stdout) == (0, "created secret from-cli in service clis\n")
    listed = fnflow_cli(server.url, "secret", "list", "--service", "clis", "-o", "json")
    assert json.loads(listed.stdout) == {"secrets": ["from-cli"]}
    (tmp_path / "value").write_bytes(b"from a file\n")
    updated = fnflow_cli(
        server.url, "secret", "update", "from-cli", "-s", "clis", "--from-file", str(tmp_path / "value")
    )
    assert updated.returncode == 0, updated.stderr
    duplicate = fnflow_cli(server.url, "secret", "create", "from-cli", "-s", "clis", stdin="x")
    assert (duplicate.returncode, duplicate.stderr) == (
        2,
        "fnflow: secret 'from-cli' already exists in namespace 'clis'\n",
    )
    empty = fnflow_cli(server.url, "secret", "create", "empty", stdin="  \n")
    assert empty.returncode == 2 and "the value is empty" in empty.stderr
    assert fnflow_cli(server.url, "secret", "delete", "from-cli", "-s", "clis").returncode == 0
    assert fnflow_cli(server.url, "secret", "delete", "from-cli", "-s", "clis").returncode == 2


def test_values_never_come_back_out(server: ServerProcess) -> None:
    """Run last in this module: every answer, log and the database file are free of the values."""
    url = server.url
    answers = [
        httpx.get(f"{url}/system/secrets").text,
        httpx.get(f"{url}/system/functions").text,
        httpx.get(f"{url}/system/function/reader").text,
        httpx.get(f"{url}/api/v1/functions").text,
        httpx.get(f"{url}/system/logs", params={"name": "reader"}).text,
        httpx.get(f"{url}/system/logs", params={"name": "catsecret"}).text,
        httpx.get(f"{url}/api/v1/calls").text,
        httpx.get(f"{url}/metrics").text,
    ]
    stored = b"".join(p.read_bytes() for p in server.root.glob("fnflow.db*"))
    for value in (VALUE, UPDATED):
        assert all(value not in answer for answer in answers)
        assert value not in server.log()
        assert value.encode() not in stored, "stored encrypted"
    key = server.root / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_a_process_with_another_key_says_so(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "data").start()
    try:
        secrets(first.url, "POST", {"name": "db-password", "value": VALUE}).raise_for_status()
        with fnflow.Client(first.url) as client:
            client.deploy_function(
                "reader", FIXTURES / "basic", handler="index.read_secret", secrets=["db-password"]
            )
    finally:
        first.stop()
    other_key = tmp_path / "other.key"
    made = subprocess.run(
        [sys.executable, "-m", "fnflow", "secret", "keygen", str(other_key)], capture_output=True, text=True
    )
    assert made.returncode == 0 and other_key.stat().st_mode & 0o777 == 0o600
    again = ServerProcess(tmp_path / "data", "--secret-key-file", str(other_key))
    again.port, again.url = first.port, first.url
    again.start()
    try:
        assert "this process cannot decrypt 1 secret(s)" in again.log()
        failed = call(again.url, "reader", b"db-password")
        assert failed.status_code == 500
        assert "is encrypted with key" in failed.text and "--secret-key-file" in failed.text
        assert "function default/reader cannot run: secret 'db-password' is encrypted with key" in again.log()
        assert VALUE not in again.log()
    finally:
        again.stop()
