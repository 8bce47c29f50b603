"""``fnflow new`` and ``fnflow up`` as subprocesses against a real server, as the labs use faas-cli."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.cli import fnflow

pytestmark = pytest.mark.e2e

LAB_STACK = """\
version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  long-task:
    lang: dockerfile
    handler: ./long-task
    image: ${DOCKER_USER:-me}/long-task:latest
    secrets: [token]
    environment: {max_inflight: 2, exec_timeout: 30s}
  other:
    lang: node18
    handler: ./other
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("up")).start()
    yield server.url
    server.stop()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI runs in the test's own directory, where it writes the function folders and stack.yml."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_new_then_up_deploys_functions_that_answer_through_the_gateway(url: str, workdir: Path) -> None:
    for name, lang in (
        ("hello", "python3-http"),
        ("echo", "python3"),
        ("fc", "python3-fc"),
        ("long-task", "dockerfile"),
    ):
        args = ("--append", "stack.yml") if (workdir / "stack.yml").exists() else ()
        made = fnflow("new", name, "--lang", lang, *args)
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith(f"Function created in folder: {name}\n")
    # the lab's step: "Edit long-task/Dockerfile and change the fprocess to sleep 1"
    dockerfile = workdir / "long-task" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace('ENV fprocess="cat"', 'ENV fprocess="sleep 1"'))

    up = fnflow("up", "-f", "stack.yml", url=url)
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines() == [
        "Deployed: hello (python3-http)",
        f"URL: {url}/function/hello",
        "Deployed: echo (python3-classic)",
        f"URL: {url}/function/echo",
        "Deployed: fc (python3)",
        f"URL: {url}/function/fc",
        "Deployed: long-task (command)",
        f"URL: {url}/function/long-task",
    ]
    assert up.stderr == ""

    hello = httpx.get(f"{url}/function/hello", params={"name": "lab"}, timeout=30)
    assert (hello.status_code, hello.json()) == (200, {"hello": "lab", "method": "GET"})
    echo = httpx.post(f"{url}/function/echo", content=b"hi", timeout=30)
    assert (echo.status_code, echo.content) == (200, b"hi\n")
    fc = httpx.post(f"{url}/function/fc", json={"name": "flow"}, timeout=30)
    assert fc.json()["hello"] == "flow"
    started = time.monotonic()
    long_task = httpx.post(f"{url}/function/long-task", content=b"", timeout=30)
    assert (long_task.status_code, long_task.content) == (200, b"")
    assert time.monotonic() - started >= 1.0


def test_new_refuses_to_overwrite(url: str, workdir: Path) -> None:
    assert fnflow("new", "one", "--lang", "python3").returncode == 0
    again = fnflow("new", "one", "--lang", "python3", "--append", "stack.yml")
    assert (again.returncode, again.stderr) == (2, "fnflow: folder one already exists\n")
    other = fnflow("new", "two", "--lang", "python3")
    assert other.returncode == 2
    assert "stack.yml already exists: add the function to it with --append stack.yml" in other.stderr
    (workdir / "one").rename(workdir / "moved")
    duplicate = fnflow("new", "one", "--lang", "python3", "--append", "stack.yml")
    assert (duplicate.returncode, duplicate.stderr) == (
        2,
        "fnflow: function one already exists in stack.yml\n",
    )
    assert not (workdir / "one").exists()


def test_up_reads_the_labs_stack_file_and_says_what_it_ignores(url: str, workdir: Path) -> None:
    (workdir / "long-task").mkdir()
    (workdir / "long-task" / "Dockerfile").write_text(
        'FROM alpine\nENV fprocess="sleep 1"\nCMD ["fwatchdog"]\n'
    )
    (workdir / "long-task.yml").write_text(LAB_STACK)
    refused = fnflow("up", "-f", "long-task.yml", "--filter", "long-*", url=url)
    assert refused.returncode == 2
    assert "function long-task names secret(s) that do not exist in its namespace: token" in refused.stderr
    made = httpx.post(f"{url}/system/secrets", json={"name": "token", "value": "t0k3n"})
    assert made.status_code == 201
    up = fnflow("up", "-f", "long-task.yml", "--filter", "long-*", "-o", "json", url=url)
    assert up.returncode == 0, up.stderr
    doc = json.loads(up.stdout)
    [function] = doc["functions"]
    assert (function["runtime"], function["command"], function["maxInstances"], function["timeout"]) == (
        "command",
        "sleep 1",
        2,
        30,
    )
    assert (function["openfaas"]["image"], function["secrets"]) == ("me/long-task:latest", ["token"])
    assert (doc["ignored"], up.stderr) == ([], "")
    refused = fnflow("up", "-f", "long-task.yml", url=url)
    assert refused.returncode == 2
    assert "function other: language 'node18' needs a container" in refused.stderr
