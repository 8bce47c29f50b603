"""Flow versions and service versions with aliases, through a real server: the native API, the
client, the gateway (``/function/{fn}.{service}.{qualifier}``), asynchronous calls and flows whose
task steps name ``services/{service}.{qualifier}/functions/{fn}``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow.client import Client, ConflictError, InvalidArgumentError, NotFoundError
from fnflow.testing import ServerProcess
from tests.e2e.api import history, wait
from tests.e2e.cli import fields, fnflow

pytestmark = pytest.mark.e2e

PASS = (
    "version: v1\ntype: flow\nsteps:\n  - type: pass\n    name: {step}\n"
    "    outputMappings: [{{target: v, source: {v}}}]\n"
)
PASS_A = PASS.format(step="a", v=1)
PASS_B = PASS.format(step="b", v=2)


def flow_calling(qualifier: str) -> str:
    return (
        "version: v1\ntype: flow\nsteps:\n  - type: task\n    name: call\n"
        f"    resourceArn: acs:fc:::services/shop.{qualifier}/functions/which\n"
    )


def code(root: Path, answer: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.py").write_text(
        f"import json\n\ndef handler(event, context):\n    return json.dumps({{'answer': {answer}}})\n"
    )
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("versions")).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.url, api_key="") as c:
        yield c


def test_flow_versions_pin_executions_and_roll_back(client: Client, server: ServerProcess) -> None:
    assert client.put_flow("versioned", PASS_A).version == 1
    assert client.put_flow("versioned", PASS_A, "same text").version == 1
    assert client.put_flow("versioned", PASS_B).version == 2
    versions = client.flow_versions("versioned").items
    assert [v.version for v in versions] == [2, 1]
    assert client.get_flow_version("versioned", 1).definition == PASS_A
    on_one = client.start_execution("versioned", {}, name="on-one", version=1)
    on_now = client.start_execution("versioned", {}, name="on-now")
    assert (on_one.flow_version, on_now.flow_version) == (1, 2)
    assert wait(server.url, "versioned", "on-one")["output"] == {"v": 1}
    assert wait(server.url, "versioned", "on-now")["output"] == {"v": 2}
    assert client.describe_execution("versioned", "on-one").flow_version == 1
    rolled = client.rollback_flow("versioned", 1)
    assert (rolled.version, rolled.definition) == (3, PASS_A)
    with pytest.raises(NotFoundError):
        client.start_execution("versioned", {}, version=9)
    with pytest.raises(NotFoundError):
        client.get_flow_version("versioned", 9)
    with pytest.raises(NotFoundError):
        client.rollback_flow("versioned", 9)
    bad = httpx.put(f"{server.url}/api/v1/flows/versioned", json={"version": 0}, timeout=10)
    assert bad.status_code == 400 and "version" in bad.json()["message"]
    both = httpx.put(
        f"{server.url}/api/v1/flows/versioned", json={"version": 1, "definition": PASS_A}, timeout=10
    )
    assert both.status_code == 400


def test_service_versions_aliases_and_qualifiers_everywhere(
    client: Client, server: ServerProcess, tmp_path: Path
) -> None:
    url = server.url
    client.deploy_function("which", code(tmp_path / "one", 1), service="shop")
    one = client.publish_version("shop", "first")
    assert (one.version_id, one.functions) == ("1", ["which"])
    with pytest.raises(ConflictError, match="nothing changed"):
        client.publish_version("shop")
    client.deploy_function("which", code(tmp_path / "two", 2), service="shop")
    assert client.publish_version("shop").version_id == "2"
    client.deploy_function("which", code(tmp_path / "three", 3), service="shop")  # LATEST: not published
    assert [v.version_id for v in client.list_versions("shop")] == ["2", "1"]
    client.set_alias("shop", "prod", 1)
    assert [a.name for a in client.list_aliases("shop")] == ["prod"]

    # the native API, the client and the gateway, sync and async
    for qualifier, answer in (("LATEST", 3), ("1", 1), ("2", 2), ("prod", 1)):
        invoked = client.invoke_function("which", b"{}", service="shop", qualifier=qualifier)
        assert invoked.body == f'{{"answer": {answer}}}'.encode()
        assert invoked.version == ("LATEST" if qualifier == "LATEST" else str(answer))
    answer = httpx.post(f"{url}/function/which.shop.prod", content=b"{}", timeout=30)
    assert answer.status_code == 200 and answer.json() == {"answer": 1}
    assert answer.headers["x-fc-invocation-service-version"] == "1"
    assert httpx.post(f"{url}/function/which.shop", content=b"{}", timeout=30).json() == {"answer": 3}
    missing = httpx.post(f"{url}/function/which.shop.nope", content=b"{}", timeout=30)
    assert missing.status_code == 404 and "nope" in missing.json()["message"]
    assert httpx.post(f"{url}/async-function/which.shop.nope", timeout=30).status_code == 404
    queued = httpx.post(f"{url}/async-function/which.shop.2", content=b"{}", timeout=30)
    assert queued.status_code == 202
    call_id = queued.headers["x-call-id"]
    for _ in range(100):
        call = httpx.get(f"{url}/api/v1/calls/{call_id}", timeout=10).json()
        if call["status"] == "Succeeded":
            break
        time.sleep(0.1)
    assert (call["status"], call["qualifier"], call["version"]) == ("Succeeded", "2", "2")

    # a flow's task step names the alias: it follows the alias; the history says which version ran
    client.put_flow("via-alias", flow_calling("prod"))
    client.start_execution("via-alias", {}, name="first")
    assert wait(url, "via-alias", "first")["output"] == {"answer": 1}
    client.set_alias("shop", "prod", 2)
    client.start_execution("via-alias", {}, name="second")
    assert wait(url, "via-alias", "second")["output"] == {"answer": 2}
    done = [e for e in history(url, "via-alias", "second") if e["type"] == "TaskSucceeded"]
    assert done[0]["eventDetail"]["functionVersion"] == "2"
    client.put_flow("via-missing", flow_calling("nope"))
    client.start_execution("via-missing", {}, name="x")
    failed = wait(url, "via-missing", "x")
    assert (failed["status"], failed["error"]) == ("Failed", "FC.QualifierNotFound")

    # what is refused
    with pytest.raises(ConflictError, match="prod"):
        client.delete_version("shop", 2)
    client.delete_version("shop", 1)  # no alias uses it any more
    with pytest.raises(NotFoundError):
        client.delete_version("shop", 1)
    with pytest.raises(InvalidArgumentError, match="additionalVersionWeight"):
        client.set_alias("shop", "prod", 2, {"2": 0.5})
    client.publish_version("shop")
    with pytest.raises(InvalidArgumentError, match="additionalVersionWeight"):
        client.set_alias("shop", "canary", 2, {"3": 1.5})
    with pytest.raises(NotFoundError):
        client.set_alias("shop", "canary", 7)
    with pytest.raises(InvalidArgumentError, match="alias name"):
        client.set_alias("shop", "9lives", 2)
    weird = httpx.put(
        f"{url}/api/v1/services/shop/aliases/canary",
        json={"versionId": "2", "additionalVersionWeight": {"3": "lots"}},
        timeout=10,
    )
    assert weird.status_code == 400 and "additionalVersionWeight" in weird.json()["message"]
    with pytest.raises(NotFoundError):
        client.publish_version("no-such-service")
    client.delete_alias("shop", "prod")
    with pytest.raises(NotFoundError):
        client.get_alias("shop", "prod")
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    assert 'fnflow_function_version_invocations_total{function_name="which.shop",version="1"}' in metrics


def test_the_command_line(client: Client, server: ServerProcess, tmp_path: Path) -> None:
    url = server.url
    flow_file = tmp_path / "flow.yaml"
    flow_file.write_text(PASS_A)
    assert fnflow("flow", "create", "cli-flow", "-f", str(flow_file), url=url).returncode == 0
    flow_file.write_text(PASS_B)
    updated = fnflow("flow", "update", "cli-flow", "-f", str(flow_file), url=url)
    assert fields(updated.stdout)["version"] == "2", updated.stderr
    listed = fnflow("flow", "versions", "cli-flow", url=url)
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["2", "1"]
    one = fnflow("flow", "get", "cli-flow", "--version", "1", url=url)
    assert "name: a" in one.stdout
    started = fnflow("exec", "start", "cli-flow", "--version", "1", "--name", "old", "--wait", url=url)
    assert started.returncode == 0, started.stderr
    described = fnflow("exec", "describe", "cli-flow", "old", url=url)
    assert fields(described.stdout)["flow version"] == "1"
    rolled = fnflow("flow", "update", "cli-flow", "--to-version", "1", url=url)
    assert fields(rolled.stdout)["version"] == "3", rolled.stderr
    assert fnflow("flow", "update", "cli-flow", url=url).returncode == 2  # neither a file nor a version

    client.deploy_function("which", code(tmp_path / "c1", 1), service="cli")
    published = fnflow("service", "publish", "cli", "--description", "first", url=url)
    assert fields(published.stdout)["version"] == "1", published.stderr
    again = fnflow("service", "publish", "cli", url=url)
    assert again.returncode != 0 and "nothing changed" in again.stderr
    client.deploy_function("which", code(tmp_path / "c2", 2), service="cli")
    assert fnflow("service", "publish", "cli", url=url).returncode == 0
    versions = fnflow("service", "versions", "cli", url=url)
    assert [line.split()[0] for line in versions.stdout.splitlines()[1:]] == ["2", "1"]
    canary = fnflow("service", "alias", "set", "cli", "prod", "--version", "1", "--weight", "2=0.25", url=url)
    assert fields(canary.stdout)["additional version weight"] == "2:0.25", canary.stderr
    aliases = fnflow("service", "alias", "list", "cli", "-o", "json", url=url)
    assert json.loads(aliases.stdout)["aliases"][0]["additionalVersionWeight"] == {"2": 0.25}
    bad = fnflow("service", "alias", "set", "cli", "prod", "--version", "1", "--weight", "2=7", url=url)
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr
    assert fnflow("service", "alias", "set", "cli", "prod", "--version", "2", url=url).returncode == 0
    invoked = fnflow("fn", "invoke", "which", "--service", "cli", "--qualifier", "prod", "-d", "{}", url=url)
    assert json.loads(invoked.stdout) == {"answer": 2}, invoked.stderr
    refused = fnflow("service", "delete-version", "cli", "2", url=url)
    assert refused.returncode != 0 and "prod" in refused.stderr
    assert fnflow("service", "delete-version", "cli", "1", url=url).returncode == 0


def test_up_publishes_and_moves_an_alias(server: ServerProcess, tmp_path: Path) -> None:
    url = server.url
    (tmp_path / "upfn").mkdir()
    (tmp_path / "stack.yml").write_text(
        "version: 1.0\nprovider:\n  name: openfaas\nfunctions:\n"
        "  upfn:\n    lang: python3\n    handler: ./upfn\n    namespace: upsvc\n"
    )
    for answer in ("one", "two"):
        (tmp_path / "upfn" / "handler.py").write_text(f"def handle(req):\n    return {answer!r}\n")
        up = fnflow("up", "-f", str(tmp_path / "stack.yml"), "--alias", "prod", url=url)
        assert up.returncode == 0, up.stderr
        assert "Alias: prod of service upsvc" in up.stdout
        assert httpx.post(f"{url}/function/upfn.upsvc.prod", content=b"", timeout=30).text.strip() == answer
    again = fnflow("up", "-f", str(tmp_path / "stack.yml"), "--publish", url=url)
    assert "Unchanged: service upsvc version 2" in again.stdout, again.stderr


def reserved_workers(url: str, function: str) -> float:
    """Started workers of ``service/name:version`` in the server, from its metrics."""
    found = 0.0
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(f'fnflow_function_workers{{function="{function}"'):
            found += float(line.rsplit(" ", 1)[1])
    return found


def test_an_alias_s_reserved_instances_start_and_come_back_after_a_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server").start()
    try:
        with Client(server.url, api_key="") as client:
            client.deploy_function("which", code(tmp_path / "one", 1), service="warm")
            client.publish_version("warm")
            with pytest.raises(InvalidArgumentError, match="reservedInstances"):
                client.set_alias("warm", "prod", 1, reserved_instances=-1)
            alias = client.set_alias("warm", "prod", 1, reserved_instances=2)
            assert alias.reserved_instances == 2
        deadline = time.monotonic() + 30
        while reserved_workers(server.url, "warm/which:1") < 2:
            assert time.monotonic() < deadline, "the reserved instances did not start"
            time.sleep(0.2)
        described = fnflow("fn", "describe", "which", "--service", "warm", url=server.url)
        assert "2 (alias prod, version 1)" in described.stdout, described.stderr
        server.kill()
        server.start()
        deadline = time.monotonic() + 30
        while reserved_workers(server.url, "warm/which:1") < 2:
            assert time.monotonic() < deadline, "the reserved instances did not come back"
            time.sleep(0.2)
    finally:
        server.stop()
