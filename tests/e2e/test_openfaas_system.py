"""OpenFaaS' system API against a real server: the requests faas-cli makes (list, describe,
deploy as PUT then POST, remove, info), their shapes, status codes and scopes."""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import fnflow
from fnflow.services.keys import new_key
from fnflow.store import Tx, open_store
from fnflow.testing import ServerProcess

pytestmark = pytest.mark.e2e

# What faas-cli deploy sends for a function with an fprocess (openfaas/faas-cli proxy/deploy.go).
CAT = {
    "service": "cat-fn",
    "image": "ghcr.io/openfaas/alpine:latest",
    "envProcess": "cat",
    "labels": {},
    "annotations": {},
}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("system")).start()
    yield server.url
    server.stop()


def status(url: str, name: str, **params: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/system/function/{name}", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_faas_cli_deploy_puts_then_posts_and_the_function_runs(url: str) -> None:
    absent = httpx.put(f"{url}/system/functions", json=CAT)
    assert absent.status_code == 404 and absent.json()["code"] == "NotFound"
    created = httpx.post(f"{url}/system/functions", json=CAT)
    assert (created.status_code, created.json()) == (202, {"ignored": []})
    assert httpx.post(f"{url}/function/cat-fn", content=b"meow").text == "meow"

    update = {
        **CAT,
        "envVars": {"exec_timeout": "5s", "GREETING": "hi"},
        "labels": {"team": "a"},
        "annotations": {"com.openfaas.queue": "slow"},
        "limits": {"memory": "256Mi", "cpu": "100m"},
        "requests": {"memory": "5Mi"},
    }
    updated = httpx.put(f"{url}/system/functions", json=update)
    assert updated.status_code == 200
    assert [(n["field"], n["function"]) for n in updated.json()["ignored"]] == [
        ("limits.cpu", "cat-fn"),
        ("requests", "cat-fn"),
    ]
    described = status(url, "cat-fn")
    created_at = datetime.fromisoformat(described.pop("createdAt"))
    assert created_at.tzinfo is not None
    assert described == {
        "name": "cat-fn",
        "namespace": "openfaas-fn",
        "image": "ghcr.io/openfaas/alpine:latest",
        "envProcess": "cat",
        "envVars": {"exec_timeout": "5s", "GREETING": "hi"},
        "labels": {"team": "a"},
        "annotations": {"com.openfaas.queue": "slow"},
        "limits": {"memory": "256Mi", "cpu": "100m"},
        "requests": {"memory": "5Mi"},
        "replicas": 0,
        "availableReplicas": 1,
        "invocationCount": 1.0,
    }
    native = httpx.get(f"{url}/api/v1/functions/default/cat-fn").json()
    assert (native["runtime"], native["timeout"], native["memoryMB"]) == ("command", 5, 256)
    assert native["asyncPolicy"]["queue"] == "slow"


def test_the_status_echoes_what_was_deployed_and_leaves_out_what_was_not(url: str) -> None:
    """A 5Mi limit comes back as 5Mi (the 64 MiB minimum applies, and is noted); nothing deployed,
    nothing reported."""
    small = {**CAT, "service": "small", "limits": {"memory": "5Mi"}, "constraints": ["lowmem=true"]}
    deployed = httpx.post(f"{url}/system/functions", json=small)
    assert [n["field"] for n in deployed.json()["ignored"]] == ["limits.memory", "constraints"]
    described = status(url, "small")
    assert (described["limits"], described["constraints"]) == ({"memory": "5Mi"}, ["lowmem=true"])
    assert httpx.get(f"{url}/api/v1/functions/default/small").json()["memoryMB"] == 64
    bare = {"service": "bare", "image": "", "envProcess": "cat"}
    httpx.post(f"{url}/system/functions", json=bare).raise_for_status()
    assert set(status(url, "bare")) == {
        "name",
        "namespace",
        "image",
        "envProcess",
        "replicas",
        "availableReplicas",
        "invocationCount",
        "createdAt",
    }


def test_list_and_get_by_name_namespace_and_query(url: str) -> None:
    for name in ("listed", "tooled"):
        body = {"service": name, "image": "x", "envProcess": "cat"}
        namespace = {"namespace": "tools"} if name == "tooled" else {"namespace": "openfaas-fn"}
        assert httpx.post(f"{url}/system/functions", json={**body, **namespace}).status_code == 202
    for _ in range(2):
        httpx.post(f"{url}/function/tooled.tools", content=b"x").raise_for_status()

    default = {f["name"]: f for f in httpx.get(f"{url}/system/functions").json()}
    assert "listed" in default and "tooled" not in default, "no namespace: the default one"
    assert default["listed"]["namespace"] == "openfaas-fn"
    assert default["listed"]["invocationCount"] == 0.0
    tools = httpx.get(f"{url}/system/functions", params={"namespace": "tools"}).json()
    assert [(f["name"], f["namespace"], f["invocationCount"]) for f in tools] == [("tooled", "tools", 2.0)]
    named = httpx.get(f"{url}/system/functions", params={"namespace": "openfaas-fn"}).json()
    assert {f["name"] for f in named} == set(default)

    assert status(url, "tooled.tools")["namespace"] == "tools"
    assert status(url, "tooled", namespace="tools")["invocationCount"] == 2.0
    assert status(url, "listed.openfaas-fn")["namespace"] == "openfaas-fn"
    missing = httpx.get(f"{url}/system/function/tooled")  # not in the default namespace
    assert missing.status_code == 404
    assert missing.json() == {"code": "NotFound", "message": "function default/tooled does not exist"}


def test_namespaces_are_listed_and_an_unknown_one_is_a_400(url: str) -> None:
    body = {"service": "spaced", "image": "x", "envProcess": "cat", "namespace": "team-a"}
    assert httpx.post(f"{url}/system/functions", json=body).status_code == 202
    namespaces = httpx.get(f"{url}/system/namespaces").json()
    assert namespaces[0] == "openfaas-fn" and "team-a" in namespaces and "default" not in namespaces
    for response in (
        httpx.get(f"{url}/system/functions", params={"namespace": "nowhere"}),
        httpx.get(f"{url}/system/function/spaced.nowhere"),
        httpx.request(
            "DELETE",
            f"{url}/system/functions",
            params={"namespace": "nowhere"},
            json={"functionName": "spaced"},
        ),
    ):
        assert response.status_code == 400, response.text
        assert response.json() == {
            "code": "InvalidArgument",
            "message": "namespace 'nowhere' does not exist (it has no functions)",
        }
    conflicting = httpx.get(f"{url}/system/function/spaced.team-a", params={"namespace": "other"})
    assert conflicting.status_code == 400


def test_a_deployment_with_only_an_image_is_refused(url: str) -> None:
    refused = httpx.post(f"{url}/system/functions", json={"service": "figlet", "image": "functions/figlet"})
    assert refused.status_code == 400 and refused.json()["code"] == "InvalidArgument"
    assert "fnflow up -f stack.yml" in refused.json()["message"]
    assert httpx.get(f"{url}/system/function/figlet").status_code == 404
    bad_name = httpx.post(f"{url}/system/functions", json={**CAT, "service": "no spaces"})
    assert bad_name.status_code == 400
    assert httpx.post(f"{url}/system/functions", json={"image": "x"}).status_code == 400  # no service


def test_an_upstream_annotation_deploys_a_proxy(url: str) -> None:
    body = {"service": "proxied", "image": "x", "annotations": {"fnflow.upstream": f"{url}/bin/upstream"}}
    assert httpx.post(f"{url}/system/functions", json=body).status_code == 202
    assert httpx.post(f"{url}/function/proxied", content=b"through").json() == {"ok": True}
    received = httpx.get(f"{url}/api/v1/bins/upstream/requests").json()["requests"]
    assert received[0]["body"] == "through"


def test_delete(url: str) -> None:
    httpx.post(f"{url}/system/functions", json={**CAT, "service": "doomed"}).raise_for_status()
    gone = httpx.request("DELETE", f"{url}/system/functions", json={"functionName": "doomed"})
    assert (gone.status_code, gone.content) == (200, b"")
    again = httpx.request("DELETE", f"{url}/system/functions", json={"functionName": "doomed"})
    assert again.status_code == 404 and again.json()["code"] == "NotFound"
    assert httpx.request("DELETE", f"{url}/system/functions", json={}).status_code == 400
    assert httpx.post(f"{url}/function/doomed").status_code == 404


def test_delete_with_the_namespace_in_the_query_never_touches_another_namespace(url: str) -> None:
    """faas-cli remove NAME --namespace NS sends NS in the query: the default namespace's NAME stays."""
    for namespace in ("openfaas-fn", "staging"):
        body = {**CAT, "service": "twin", "namespace": namespace, "envVars": {"WHERE": namespace}}
        httpx.post(f"{url}/system/functions", json=body).raise_for_status()
    removed = httpx.request(
        "DELETE", f"{url}/system/functions", params={"namespace": "staging"}, json={"functionName": "twin"}
    )
    assert removed.status_code == 200
    assert status(url, "twin")["envVars"] == {"WHERE": "openfaas-fn"}, "the default namespace's twin stays"
    assert httpx.get(f"{url}/system/function/twin", params={"namespace": "staging"}).status_code == 400
    by_body = httpx.request(
        "DELETE", f"{url}/system/functions", json={"functionName": "twin", "namespace": "openfaas-fn"}
    )
    assert by_body.status_code == 200
    assert httpx.get(f"{url}/system/function/twin").status_code == 404


def test_info(url: str) -> None:
    """The sha is the commit this checkout is at (the tests run from one), as git says."""
    response = httpx.get(f"{url}/system/info")
    assert response.status_code == 200
    git = ["git", "-C", str(Path(fnflow.__file__).parent), "log", "-1", "--format=%H%n%s"]
    sha, subject = subprocess.run(git, capture_output=True, text=True, check=True).stdout.splitlines()
    info = response.json()
    assert info["provider"]["provider"] == "fnflow"
    assert info["provider"]["orchestration"] == "process"
    for version in (info["provider"]["version"], info["version"]):
        assert version["release"] == fnflow.__version__
        assert version["sha"].removesuffix("-dirty") == sha
    assert info["version"]["commit_message"] == subject
    assert info["arch"] == platform.machine()


def test_reads_need_an_invoke_key_and_writes_an_admin_key(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--auth", "on")
    keys = {scope: new_key(scope) for scope in ("admin", "invoke")}
    store = open_store(server.db)

    def put_keys(tx: Tx) -> None:
        for key in keys.values():
            tx.put_key(key)

    try:
        store.write_sync(put_keys)
    finally:
        store.close()
    server.start()
    try:
        auth = {scope: {"Authorization": f"Bearer {k.id}:{k.secret}"} for scope, k in keys.items()}
        assert httpx.get(f"{server.url}/system/functions").status_code == 401
        assert httpx.get(f"{server.url}/system/info").status_code == 401
        assert httpx.get(f"{server.url}/system/functions", headers=auth["invoke"]).status_code == 200
        assert httpx.get(f"{server.url}/system/info", headers=auth["invoke"]).status_code == 200
        denied = httpx.post(f"{server.url}/system/functions", json=CAT, headers=auth["invoke"])
        assert denied.status_code == 403 and denied.json()["code"] == "Forbidden"
        assert (
            httpx.post(f"{server.url}/system/functions", json=CAT, headers=auth["admin"]).status_code == 202
        )
        delete = {"functionName": "cat-fn"}
        assert (
            httpx.request(
                "DELETE", f"{server.url}/system/functions", json=delete, headers=auth["invoke"]
            ).status_code
            == 403
        )
    finally:
        server.stop()


FIXTURES = Path(__file__).resolve().parents[1] / "functions_fixtures"


def scale(url: str, name: str, replicas: int, **body: str) -> httpx.Response:
    """What faas-cli's ScaleFunction sends (openfaas/faas-cli proxy/scale.go)."""
    return httpx.post(
        f"{url}/system/scale-function/{name}", json={"serviceName": name, "replicas": replicas, **body}
    )


def wait_for(url: str, name: str, available: int) -> dict[str, Any]:
    """The status once ``availableReplicas`` is ``available`` (workers start in the background)."""
    deadline = time.monotonic() + 30
    while (found := status(url, name))["availableReplicas"] != available:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def test_scale_sets_the_warm_instances_that_replicas_reports(url: str) -> None:
    with fnflow.Client(url) as client:
        client.deploy_function(
            "warm", FIXTURES / "basic", runtime="python3", handler="index.echo", max_instances=3
        )
    described = status(url, "warm")
    assert (described["replicas"], described["availableReplicas"]) == (0, 0), "none started yet"
    accepted = scale(url, "warm", 2)
    assert (accepted.status_code, accepted.content) == (202, b"")
    assert wait_for(url, "warm", available=2)["replicas"] == 2
    assert httpx.post(f"{url}/function/warm", content=b"hi").text == "hi"
    assert status(url, "warm")["availableReplicas"] == 2, "a call uses a warm instance"
    assert scale(url, "warm", 0).status_code == 202
    assert status(url, "warm")["replicas"] == 0
    assert httpx.post(f"{url}/function/warm", content=b"again").text == "again", "scaled to zero: still runs"
    native = httpx.get(f"{url}/api/v1/functions/default/warm").json()
    assert native["minInstances"] == 0


def test_scale_in_a_namespace_and_its_bad_input(url: str) -> None:
    body = {**CAT, "service": "scaled", "namespace": "scaling", "labels": {"com.openfaas.scale.min": "2"}}
    httpx.post(f"{url}/system/functions", json=body).raise_for_status()
    assert status(url, "scaled.scaling")["replicas"] == 2, "the scale.min label sets the warm instances"
    assert scale(url, "scaled", 3, namespace="scaling").status_code == 202
    described = status(url, "scaled", namespace="scaling")
    assert (described["replicas"], described["availableReplicas"]) == (3, 3)
    too_many = scale(url, "scaled.scaling", 5)
    assert too_many.status_code == 400
    assert too_many.json() == {
        "code": "InvalidArgument",
        "message": "replicas must be between 0 and the function's maxInstances (4), got 5: deploy it"
        " with a higher maximum (max_inflight, com.openfaas.scale.max)",
    }
    assert scale(url, "scaled.scaling", -1).status_code == 400
    missing = httpx.post(f"{url}/system/scale-function/scaled.scaling", json={"serviceName": "scaled"})
    assert missing.status_code == 400 and missing.json()["code"] == "InvalidArgument"
    assert scale(url, "nobody", 1).status_code == 404
    assert scale(url, "scaled", 1, namespace="nowhere").status_code == 400
    assert status(url, "scaled.scaling")["replicas"] == 3, "refused scales change nothing"
