"""Alibaba apps on a server that requires keys: Function Compute's runtime (WSGI environ, context,
Initializer once per instance), the credentials of a function's role (no more than the role
allows, void once the function is deleted), FUNCTION triggers, and HTTPS that never leaves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkfnf.request.v20190315.ListFlowsRequest import ListFlowsRequest

from fnflow.testing import ServerProcess
from tests.e2e.cli import fnflow
from tests.e2e.fnf import Fnf, create_key

TEMPLATE = Path(__file__).parent / "fixtures" / "alibaba" / "template.yml"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    process = ServerProcess(tmp_path_factory.mktemp("apps"), "--auth", "on")
    key = ":".join(create_key(process.db, "admin"))
    process.start()
    deployed = fnflow(
        "deploy", "-t", str(TEMPLATE), "--stack-name", "probes", url=process.url, FNFLOW_API_KEY=key
    )
    assert deployed.returncode == 0, deployed.stderr
    yield process, key
    process.stop()
    assert "Traceback" not in process.log(), process.log()


def probe(server: ServerProcess, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(kwargs.pop("method", "GET"), server.url + path, timeout=30, **kwargs)


def test_the_runtime_gives_fc_environ_context_and_one_initializer(server: tuple[ServerProcess, str]) -> None:
    process, _ = server
    for _ in range(2):
        answer = probe(
            process,
            "/2016-08-15/proxy/Full/Probe/a/b?x=1&y=2",
            method="POST",
            content=b"hi",
            headers={"X-Probe": "p"},
        )
        assert answer.status_code == 201 and answer.headers["x-probe"] == "yes", answer.text
        assert answer.headers["x-fc-request-id"]
        doc = answer.json()
        assert doc["initialized"] == ["index.init"]  # once per instance, not per call
    assert (doc["method"], doc["path"], doc["query"], doc["body"], doc["header"]) == (
        "POST",
        "/a/b",
        "x=1&y=2",
        "hi",
        "p",
    )
    assert doc["uri"] == "/2016-08-15/proxy/Full/Probe/a/b?x=1&y=2"
    assert (doc["region"], doc["account"], doc["service"]) == ("cn-hangzhou", "1234567890123456", "Full")
    assert doc["function"] == ["Probe", "index.handler", "index.init"]
    assert doc["credentials"][0].startswith("STS.") and doc["credentials"][2]
    assert doc["results"]["list"] == doc["results"]["start"] == "ok"
    assert doc["results"]["https"] != "reached"  # HTTPS goes to fnflow as a proxy, which tunnels nothing
    assert doc["packages"] == []  # FC's runtime packages (the fc extra) import without requirements


def test_credentials_do_no_more_than_the_role_allows(server: tuple[ServerProcess, str]) -> None:
    doc = probe(server[0], "/2016-08-15/proxy/Narrow/Probe/").json()
    assert doc["results"]["list"] == doc["results"]["start"] == "AccessDenied"  # ReadOnly: report-task


def test_function_triggers_need_a_key(server: tuple[ServerProcess, str]) -> None:
    process, key = server
    refused = probe(process, "/2016-08-15/proxy/Guarded/Probe/")
    assert refused.status_code == 404  # no such function: Guarded is a function of Full
    assert probe(process, "/2016-08-15/proxy/Full/Guarded/").status_code == 401
    allowed = probe(process, "/2016-08-15/proxy/Full/Guarded/", headers={"Authorization": f"Bearer {key}"})
    assert allowed.status_code == 201, allowed.text


def test_credentials_end_with_their_function(
    server: tuple[ServerProcess, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    process, key = server
    access_key_id, secret, token = probe(process, "/2016-08-15/proxy/Full/Probe/").json()["credentials"]
    monkeypatch.setenv("HTTP_PROXY", process.url)
    fnf = Fnf(StsTokenCredential(access_key_id, secret, token))
    assert "Flows" in fnf(ListFlowsRequest)
    deleted = fnflow("stack", "delete", "probes", url=process.url, FNFLOW_API_KEY=key)
    assert deleted.returncode == 0, deleted.stderr
    deadline = time.monotonic() + 15  # keys are cached for a few seconds
    while True:
        try:
            fnf(ListFlowsRequest)
        except ServerException as e:
            assert e.get_http_status() == 403, e
            break
        assert time.monotonic() < deadline, "the credentials still work"
        time.sleep(0.5)
    assert probe(process, "/2016-08-15/proxy/Full/Probe/").status_code == 404
