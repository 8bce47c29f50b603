"""Every runtime deployed through the API of a real server and invoked through the native API and flows."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow import Client
from fnflow.client import ApiError
from fnflow.functions.config import AsyncPolicy
from fnflow.testing import ServerProcess
from tests.e2e.api import start, wait

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "functions_fixtures"
SERVICE = "rt"
FLOW = """\
version: v1
type: flow
steps:
  - type: task
    name: Call
    resourceArn: acs:fc:::services/rt/functions/{function}
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("runtimes")).start()
    with Client(server.url) as client:
        client.deploy_function("fc", FIXTURES / "basic", service=SERVICE, handler="index.echo")
        client.deploy_function("fc-fail", FIXTURES / "basic", service=SERVICE, handler="index.fail")
        client.deploy_function("pyhttp", FIXTURES / "http_style", service=SERVICE, runtime="python3-http")
        client.deploy_function("flask", FIXTURES / "flask_style", service=SERVICE, runtime="python3-flask")
        client.deploy_function(
            "classic", FIXTURES / "classic_style", service=SERVICE, runtime="python3-classic"
        )
        client.deploy_function(
            "upper",
            FIXTURES / "command",
            service=SERVICE,
            runtime="command",
            command=f"{sys.executable} tool.py upper",
        )
        client.deploy_function("exit2", service=SERVICE, runtime="command", command="sh -c 'cat; exit 2'")
        client.deploy_function(
            "remote",
            service=SERVICE,
            runtime="http",
            upstream=f"{server.url}/function/pyhttp.{SERVICE}",
            annotations={"owner": "team-a"},
            labels={"tier": "edge"},
            async_policy=AsyncPolicy(retries=1, queue="edge"),
        )
        for function in ("pyhttp", "exit2", "fc-fail"):
            client.put_flow(f"call-{function}", FLOW.format(function=function))
    yield server.url
    log = server.log()
    server.stop()
    assert "Traceback (most recent call last)" not in log, log  # handlers' own go to INFO, not shown


def invoke(url: str, function: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/functions/{SERVICE}/{function}/invoke", content=body, timeout=30)


def test_python3_keeps_function_compute_answers(url: str) -> None:
    ok = invoke(url, "fc", b'{"a": 1}')
    failed = invoke(url, "fc-fail", b"")
    assert (ok.status_code, ok.content, ok.headers.get("x-fc-error-type")) == (200, b'{"a": 1}', None)
    assert (failed.status_code, failed.headers["x-fc-error-type"]) == (200, "UnhandledInvocationError")
    assert failed.json()["errorType"] == "ErrorNeedsRetry"


@pytest.mark.parametrize(
    ("function", "body", "status", "content_type", "answer"),
    [
        ("pyhttp", b"dict", 201, "application/json", b'{"a":[true,null],"b":1}\n'),
        ("pyhttp", b"not-found", 404, "text/html; charset=utf-8", b"no such thing"),
        ("pyhttp", b"raise", 500, "text/plain; charset=utf-8", b"ValueError: bad input\n"),
        ("flask", b"missing", 404, "text/html; charset=utf-8", b"not here"),
        ("classic", b"hello", 200, None, b"hello\n"),
        ("upper", b"shout", 200, None, b"SHOUT"),
        ("exit2", b"in", 500, "text/plain; charset=utf-8", b"exit status 2\nin"),
        ("remote", b"dict", 201, "application/json", b'{"a":[true,null],"b":1}\n'),
    ],
)
def test_other_runtimes_answer_with_their_own_status_headers_and_body(
    url: str, function: str, body: bytes, status: int, content_type: str | None, answer: bytes
) -> None:
    response = invoke(url, function, body)
    assert (response.status_code, response.headers.get("content-type"), response.content) == (
        status,
        content_type,
        answer,
    )
    assert response.headers.get("x-fc-error-type") is None
    assert response.headers["x-fc-request-id"]


def test_the_proxy_passes_the_upstreams_headers(url: str) -> None:
    response = invoke(url, "remote", b"dict")
    assert response.headers["x-custom"] == "yes"
    assert float(response.headers["x-duration-seconds"]) >= 0


def test_the_api_carries_the_new_settings(url: str) -> None:
    with Client(url) as client:
        remote = client.get_function("remote", SERVICE)
        upper = client.get_function("upper", SERVICE)
        pyhttp = client.get_function("pyhttp", SERVICE)
    assert (remote.runtime, remote.upstream, remote.code_checksum) == (
        "http",
        f"{url}/function/pyhttp.rt",
        "",
    )
    assert (remote.annotations, remote.labels) == ({"owner": "team-a"}, {"tier": "edge"})
    assert remote.async_policy == AsyncPolicy(retries=1, queue="edge")
    assert remote.raw["asyncPolicy"]["retryCodes"] == [408, 429, 500, 502, 503, 504]
    assert (upper.command, upper.handler, pyhttp.handler) == (
        f"{sys.executable} tool.py upper",
        "",
        "handler.handle",
    )


def test_code_rules_per_runtime(url: str) -> None:
    with Client(url) as client:
        with pytest.raises(ApiError, match="a python3-http function needs code") as error:
            client.deploy_function("nocode", service=SERVICE, runtime="python3-http")
        assert error.value.status == 400
        before = client.get_function("upper", SERVICE).code_checksum
        kept = client.deploy_function(
            "upper", service=SERVICE, runtime="command", command=f"{sys.executable} tool.py upper", timeout=5
        )
        assert (kept.code_checksum, kept.timeout) == (before, 5)
        with pytest.raises(ApiError, match="exit2 has no code"):
            client.deploy_function("exit2", service=SERVICE, runtime="python3")
        with pytest.raises(ApiError, match="needs an upstream"):
            client.deploy_function("bad-proxy", service=SERVICE, runtime="http", upstream="ftp://x")


def test_flows_see_non_2xx_answers_as_errors_named_by_status(url: str) -> None:
    succeeded = wait(url, "call-pyhttp", start(url, "call-pyhttp", {"case": "x"})["name"])
    failed = wait(url, "call-exit2", start(url, "call-exit2", {"a": 1})["name"])
    fc_failed = wait(url, "call-fc-fail", start(url, "call-fc-fail", {})["name"])
    assert succeeded["status"] == "Succeeded"
    assert (succeeded["output"]["method"], succeeded["output"]["body"]) == ("POST", '{"case":"x"}')
    assert (failed["status"], failed["error"]) == ("Failed", "FC.InternalServerError")
    assert "exit status 2" in failed["cause"]
    assert (fc_failed["status"], fc_failed["error"]) == ("Failed", "ErrorNeedsRetry")


@pytest.mark.parametrize(("setting", "policy"), [(None, os.SCHED_BATCH), ("normal", os.SCHED_OTHER)])
def test_function_code_runs_under_the_servers_scheduling_policy(
    tmp_path: Path, setting: str | None, policy: int
) -> None:
    """SCHED_BATCH unless ``FNFLOW_FUNCTION_SCHEDULING=normal``: a worker, a command and what each
    starts (``fnflow.scheduling``); the server keeps its own."""
    env = {"FNFLOW_FUNCTION_SCHEDULING": setting} if setting else {}
    server = ServerProcess(tmp_path, env=env).start()
    try:
        with Client(server.url) as client:
            client.deploy_function("policy", FIXTURES / "basic", service=SERVICE, handler="index.policy")
            command = f"{sys.executable} tool.py policy"
            client.deploy_function(
                "cmd", FIXTURES / "command", service=SERVICE, runtime="command", command=command
            )
        worker, run = invoke(server.url, "policy", b""), invoke(server.url, "cmd", b"x")
        assert server.process is not None
        own = os.sched_getscheduler(server.process.pid)
    finally:
        server.stop()
    assert worker.json() == {"worker": policy, "child": policy}
    assert run.json() == {"command": policy, "child": policy}
    assert own == os.SCHED_OTHER
