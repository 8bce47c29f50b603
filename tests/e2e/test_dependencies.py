"""Functions with their own packages, through a real server: requirements.txt environments (two
versions of one package side by side, a failing install that leaves the old code serving, kill -9
mid-install), vendored packages, layers, what a function can import, housekeeping, and two
processes on PostgreSQL. pip installs from tiny local wheels, set up as pip's own settings."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow import Client
from fnflow.client import InvalidArgumentError, NotFoundError
from fnflow.functions import requirements
from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.e2e.cli import fnflow
from tests.packages import greeting_wheels, offline_pip

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("dependencies")]  # one server for the module

VERSION_HANDLER = """\
import greeting


def handler(event, context):
    return greeting.hello("fc")
"""
HTTP_HANDLER = """\
from greeting import hello


def handle(event, context):
    return {"statusCode": 200, "body": hello(event.body.decode())}
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def pinned(folder: Path, version: str, spec: str = "==") -> Path:
    return write(folder, {"index.py": VERSION_HANDLER, "requirements.txt": f"greeting{spec}{version}\n"})


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return greeting_wheels(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("deps"), env=offline_pip(wheels)).start()
    yield process
    process.stop()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.url) as c:
        yield c


def test_an_openfaas_python3_http_function_with_requirements_deployed_by_fnflow_up(
    server: ServerProcess, tmp_path: Path
) -> None:
    write(tmp_path / "greet", {"handler.py": HTTP_HANDLER, "requirements.txt": "greeting==2.0\n"})
    (tmp_path / "stack.yml").write_text(
        "version: 1.0\nprovider: {name: openfaas}\nfunctions:\n"
        "  greet: {lang: python3-http, handler: ./greet, image: greet:latest}\n"
    )
    up = fnflow("up", "-f", str(tmp_path / "stack.yml"), url=server.url)
    assert up.returncode == 0, up.stderr
    assert "Successfully installed greeting-2.0" in up.stderr, "pip's progress is shown"
    assert httpx.post(f"{server.url}/function/greet", content=b"you").text == "hello you from greeting 2.0"


def test_two_functions_pinned_to_two_versions_of_one_package(client: Client, tmp_path: Path) -> None:
    lines: list[str] = []
    one = client.deploy_function("v1", pinned(tmp_path / "v1", "1.0"), service="deps", progress=lines.append)
    client.deploy_function("v2", pinned(tmp_path / "v2", "2.0"), service="deps")
    assert any("Successfully installed greeting-1.0" in line for line in lines)
    lines.clear()
    same = client.deploy_function(
        "v1-again", pinned(tmp_path / "again", "1.0"), service="deps", progress=lines.append
    )
    assert lines == [f"Environment {one.dependencies.hash[:12]} is installed already (1 package(s))"]  # type: ignore[union-attr]
    assert client.invoke_function("v1", service="deps").body == b"hello fc from greeting 1.0"
    assert client.invoke_function("v2", service="deps").body == b"hello fc from greeting 2.0"
    assert client.invoke_function("v1-again", service="deps").body == b"hello fc from greeting 1.0"
    described = client.get_function("v1", "deps").dependencies
    assert described is not None and described == client.get_function("v1-again", "deps").dependencies
    assert (described.hash, described.python) == (
        requirements.environment_hash("greeting==1.0", requirements.python_tag()),
        requirements.python_tag(),
    )
    assert (described.requirements, described.packages) == (["greeting==1.0"], [("greeting", "1.0")])
    assert same.dependencies is not None and same.dependencies.hash == described.hash
    shown = fnflow("fn", "describe", "v2", "--service", "deps", url=client.url)
    assert "packages:" in shown.stdout and "greeting==2.0" in shown.stdout


def test_a_failing_install_changes_nothing_and_the_old_version_keeps_serving(
    client: Client, tmp_path: Path
) -> None:
    before = client.deploy_function("stable", pinned(tmp_path / "ok", "1.0"), service="deps")
    assert client.invoke_function("stable", service="deps").body == b"hello fc from greeting 1.0"
    with pytest.raises(InvalidArgumentError) as failed:
        client.deploy_function("stable", pinned(tmp_path / "bad", "9.0"), service="deps")
    assert failed.value.code == "InstallFailed"
    assert "No matching distribution found for greeting==9.0" in failed.value.message
    assert client.get_function("stable", "deps").code_checksum == before.code_checksum
    assert client.invoke_function("stable", service="deps").body == b"hello fc from greeting 1.0"
    with pytest.raises(InvalidArgumentError):  # a new function that cannot install is not created either
        client.deploy_function("never", pinned(tmp_path / "bad", "9.0"), service="deps")
    with pytest.raises(NotFoundError):
        client.get_function("never", "deps")
    cli = fnflow(
        "fn", "deploy", "stable", "--service", "deps", "--code", str(tmp_path / "bad"), url=client.url
    )
    assert cli.returncode == 2
    assert "ERROR: No matching distribution found for greeting==9.0" in cli.stderr


def test_vendored_packages_and_layers_need_no_install(client: Client, tmp_path: Path) -> None:
    version = requirements.python_version()
    code = write(
        tmp_path / "fc",
        {
            "index.py": "import funmod, plainmod, layermod\n\n"
            "def handler(event, context):\n    return [funmod.NAME, plainmod.NAME, layermod.NAME]\n",
            f".fun/python/lib/python{version}/site-packages/funmod/__init__.py": "NAME = 'fun install'\n",
            "python/plainmod.py": "NAME = 'pip install -t python'\n",
        },
    )
    layer = write(tmp_path / "shared", {"python/layermod.py": "NAME = 'a layer'\n"})
    deployed = client.deploy_function("vendored", code, service="deps", layers=[layer])
    assert client.invoke_function("vendored", service="deps").body == (
        b'["fun install","pip install -t python","a layer"]'
    )
    [(name, checksum)] = deployed.layers
    assert name == "shared" and deployed.dependencies is None
    other = write(
        tmp_path / "other", {"index.py": "import layermod\n\ndef handler(e, c):\n    return layermod.NAME\n"}
    )
    cli = fnflow("fn", "deploy", "layered", "--code", str(other), "--layer", str(layer), url=client.url)
    assert cli.returncode == 0, cli.stderr
    assert client.invoke_function("layered").body == b"a layer"
    assert client.get_function("layered").layers == [("shared", checksum)], "one layer, stored once"


def test_a_function_sees_its_packages_and_fnflows_client_but_not_the_servers(
    client: Client, tmp_path: Path
) -> None:
    code = write(
        tmp_path / "probe",
        {
            "index.py": "import importlib.util, json, sys\n\n"
            "def handler(event, context):\n"
            "    found = {m: importlib.util.find_spec(m) is not None"
            " for m in ('fnflow', 'httpx', 'greeting', 'sqlalchemy', 'fastapi', 'pydantic', 'yaml')}\n"
            "    from fnflow import Client\n"
            "    return {'found': found, 'path': sys.path}\n",
            "requirements.txt": "greeting==2.0\n",
        },
    )
    client.deploy_function("probe", code, service="deps")
    seen = json.loads(client.invoke_function("probe", service="deps").body)
    assert seen["found"] == {
        "fnflow": True,
        "httpx": True,
        "greeting": True,
        "sqlalchemy": False,
        "fastapi": False,
        "pydantic": False,
        "yaml": False,
    }
    path = seen["path"]
    assert "site-packages" in path[-2] and "/envs/" in path[-2], "its environment, then what fnflow provides"
    assert "/provided/" in path[-1]


def test_gc_removes_what_no_function_uses(client: Client, server: ServerProcess, tmp_path: Path) -> None:
    gone = client.deploy_function("short-lived", pinned(tmp_path / "gone", "2.0", spec=">="), service="gc")
    kept = client.deploy_function("short-lived", pinned(tmp_path / "kept", "1.0", spec="<="), service="gc")
    assert gone.dependencies is not None and kept.dependencies is not None
    envs = server.root / "envs"
    assert (envs / gone.dependencies.hash).is_dir(), "named by no function, not pruned yet"
    cli = fnflow("fn", "gc", "-o", "json", url=client.url)
    assert cli.returncode == 0, cli.stderr
    assert gone.dependencies.hash in json.loads(cli.stdout)["environments"]
    assert not (envs / gone.dependencies.hash).exists()
    assert (envs / kept.dependencies.hash).is_dir()
    assert client.invoke_function("short-lived", service="gc").body == b"hello fc from greeting 1.0"


def test_kill_9_during_an_install_never_leaves_a_half_filled_environment(
    tmp_path: Path, wheels: Path
) -> None:
    answered = threading.Event()
    release = threading.Event()

    class Stall(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # an index that never answers while the server is killed
            answered.set()
            release.wait(30)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    index = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stall)
    threading.Thread(target=index.serve_forever, daemon=True).start()
    slow = {
        "PIP_INDEX_URL": f"http://127.0.0.1:{index.server_address[1]}/simple",
        "PIP_CONFIG_FILE": os.devnull,
    }
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    server = ServerProcess(tmp_path / "server", env=slow)
    server.env = {**environ, **slow}
    server.start()
    code = pinned(tmp_path / "code", "1.0")
    hash = requirements.environment_hash("greeting==1.0", requirements.python_tag())
    try:
        with Client(server.url) as client:

            def deploy() -> None:
                with contextlib.suppress(Exception):  # the server dies under it
                    client.deploy_function("f", code)

            deploying = threading.Thread(target=deploy, daemon=True)
            deploying.start()
            assert answered.wait(30), server.log()
            assert list((server.root / "envs").glob(f".{hash}.tmp-*")), "pip is filling a hidden folder"
            server.kill()
            release.set()
            deploying.join(30)
        server.env = {**environ, **offline_pip(wheels)}
        server.start()
        with Client(server.url) as client:
            with pytest.raises(NotFoundError):
                client.get_function("f")
            assert not (server.root / "envs" / hash).exists()
            client.deploy_function("f", code)
            assert client.invoke_function("f").body == b"hello fc from greeting 1.0"
        assert not list((server.root / "envs").glob(f".{hash}.tmp-*")), "the killed build's folder is gone"
    finally:
        server.stop()
        index.shutdown()
        index.server_close()


def test_processes_on_postgresql_build_on_first_use_what_a_deploy_elsewhere_resolved(
    tmp_path: Path, wheels: Path
) -> None:
    with contextlib.ExitStack() as stack:
        try:
            db = stack.enter_context(throwaway_database())
        except NoPostgres as e:
            pytest.skip(f"POSTGRES CLUSTER TEST NOT RUN: {e}")
        a = ServerProcess(tmp_path / "a", db=db, env=offline_pip(wheels)).start()
        stack.callback(a.stop)
        b = ServerProcess(tmp_path / "b", db=db, env=offline_pip(wheels)).start()
        stack.callback(b.stop)
        code = write(tmp_path / "code", {"index.py": VERSION_HANDLER, "requirements.txt": "greeting\n"})
        with Client(a.url) as on_a, Client(b.url) as on_b:
            (wheels_2 := tmp_path / "hide").mkdir()
            hidden = wheels / "greeting-2.0-py3-none-any.whl"
            hidden.rename(wheels_2 / hidden.name)  # A resolves "greeting" to 1.0 …
            try:
                deployed = on_a.deploy_function("any-greeting", code)
            finally:
                (wheels_2 / hidden.name).rename(hidden)  # … B could have 2.0, but installs what A did
            assert deployed.dependencies is not None
            assert not (b.root / "envs" / deployed.dependencies.hash).exists()
            assert on_b.invoke_function("any-greeting").body == b"hello fc from greeting 1.0"
            assert (b.root / "envs" / deployed.dependencies.hash).is_dir()
            assert on_b.get_function("any-greeting").dependencies.packages == [("greeting", "1.0")]  # type: ignore[union-attr]
