"""End-to-end: ``python -m fnflow …`` client commands as subprocesses against a real server."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow import Client
from fnflow.testing import ServerProcess, free_port
from tests.e2e.cli import fields, fnflow
from tests.e2e.definitions import APPROVE, REJECT
from tests.long import long_tests

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

HANDLERS = """\
import json


def handler(event, context):
    return {"echo": json.loads(event or b"{}")}


def boom(event, context):
    raise ValueError("boom")
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("cli")).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("code")
    (root / "index.py").write_text(HANDLERS)
    return root


def polling_example(tmp_path: Path) -> Path:
    """The polling example; but for ``--long``, a copy whose wait is 2 s instead of 10 (the tour's
    job, 1 s long, is still done at the first check)."""
    if long_tests():
        return EXAMPLES / "polling"
    copy = tmp_path / "polling"
    shutil.copytree(EXAMPLES / "polling", copy, ignore=shutil.ignore_patterns("__pycache__", "test_*.py"))
    flow = (copy / "flow.yaml").read_text()
    assert flow.count("duration: 10\n") == 1, "the example's wait changed: change this test with it"
    (copy / "flow.yaml").write_text(flow.replace("duration: 10\n", "duration: 2\n"))
    return copy


@pytest.mark.slow
def test_readme_tour(url: str, tmp_path: Path) -> None:
    """Deploy the polling example and run it to the end (its flow waits 10 s per status check, 2 s
    in the copy this test deploys but for ``--long``: the commands and what they say are the same)."""
    applied = fnflow("apply", "-f", str(polling_example(tmp_path)), url=url)
    assert applied.returncode == 0, applied.stderr
    progress = applied.stdout.splitlines()
    assert progress[0].startswith("function fnf-demo/StartJob deployed (code ")
    assert progress[1].startswith("function fnf-demo/GetJobStatus deployed (code ")
    assert progress[2] == "flow poll-job applied (revision 1)"

    run = fnflow("exec", "start", "poll-job", "--input", '{"delay": 1}', "--name", "tour", "--wait", url=url)
    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)
    assert output["job_status"] == "success" and output["try_count"] == 1

    timeline = fnflow("exec", "history", "poll-job", "tour", url=url)
    assert timeline.returncode == 0, timeline.stderr
    lines = timeline.stdout.splitlines()
    assert lines[0].split() == ["ID", "TIME", "ELAPSED", "TYPE", "STEP", "DETAIL"]
    first = lines[1].split()
    assert (first[0], first[2], first[3]) == ("1", "+0.000s", "ExecutionStarted")
    assert lines[-1].split()[3] == "ExecutionSucceeded"
    assert any(line.split()[3:5] == ["StepExited", "Wait10s"] for line in lines[1:])


def test_failed_execution_exits_1(url: str, tmp_path: Path) -> None:
    (tmp_path / "reject.yaml").write_text(REJECT)
    assert fnflow("flow", "create", "reject", "-f", str(tmp_path / "reject.yaml"), url=url).returncode == 0
    run = fnflow("exec", "start", "reject", "--wait", url=url)
    assert run.returncode == 1
    shown = fields(run.stdout)
    assert (shown["status"], shown["error"], shown["cause"]) == ("Failed", "Rejected", "not today")
    assert "did not succeed" in run.stderr


def test_wait_timeout_exits_1_and_stop(url: str, tmp_path: Path) -> None:
    (tmp_path / "sleep.yaml").write_text(
        "version: v1\ntype: flow\nsteps:\n  - {type: wait, name: Nap, duration: 120}\n"
    )
    assert fnflow("flow", "create", "sleep", "-f", str(tmp_path / "sleep.yaml"), url=url).returncode == 0
    run = fnflow("exec", "start", "sleep", "--name", "nap", "--wait", "--timeout", "0.5", url=url)
    assert run.returncode == 1
    assert "still Running after 0.5s" in run.stderr
    stopped = fnflow("exec", "stop", "sleep", "nap", "--error", "Cancelled", "-o", "json", url=url)
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["status"] == "Stopped"
    listed = fnflow("exec", "list", "sleep", "--status", "Stopped", url=url)
    assert listed.stdout.splitlines()[1].split()[:2] == ["nap", "Stopped"]


def test_json_output_is_the_api_answer(url: str, tmp_path: Path) -> None:
    (tmp_path / "reject.yaml").write_text(REJECT)
    fnflow("flow", "create", "json-flow", "-f", str(tmp_path / "reject.yaml"), url=url)
    for args, path in [
        (("flow", "get", "json-flow"), "/api/v1/flows/json-flow"),
        (("flow", "list", "--limit", "999"), "/api/v1/flows?limit=999"),
    ]:
        result = fnflow(*args, "--output", "json", url=url)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == httpx.get(url + path).json()

    started = fnflow("exec", "start", "json-flow", "-i", "{}", "-n", "j1", "--wait", "-o", "json", url=url)
    assert started.returncode == 1
    assert json.loads(started.stdout) == httpx.get(url + "/api/v1/flows/json-flow/executions/j1").json()
    history = fnflow("exec", "history", "json-flow", "j1", "-o", "json", url=url)
    assert (
        json.loads(history.stdout) == httpx.get(url + "/api/v1/flows/json-flow/executions/j1/history").json()
    )


def test_flow_create_update_delete(url: str, tmp_path: Path) -> None:
    definition = tmp_path / "flow.yaml"
    definition.write_text(REJECT)
    created = fnflow("flow", "create", "lifecycle", "-f", str(definition), "--description", "first", url=url)
    assert created.returncode == 0, created.stderr
    assert (fields(created.stdout)["revision"], fields(created.stdout)["description"]) == ("1", "first")

    again = fnflow("flow", "create", "lifecycle", "-f", str(definition), url=url)
    assert again.returncode == 2 and "already exists" in again.stderr

    definition.write_text(REJECT.replace("not today", "not ever"))
    updated = fnflow("flow", "update", "lifecycle", "-f", str(definition), url=url)
    assert updated.returncode == 0, updated.stderr
    assert (fields(updated.stdout)["revision"], fields(updated.stdout)["description"]) == (
        "2",
        "first",
    )  # kept

    listed = fnflow("flow", "list", url=url)
    assert ["lifecycle", "2"] in [line.split()[:2] for line in listed.stdout.splitlines()]
    assert fnflow("flow", "delete", "lifecycle", url=url).returncode == 0
    missing = fnflow("flow", "update", "lifecycle", "-f", str(definition), url=url)
    assert missing.returncode == 2
    assert missing.stderr == "fnflow: flow 'lifecycle' does not exist\n"


def test_invalid_definition_prints_each_problem_and_exits_2(url: str, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("version: v1\ntype: flow\nsteps:\n  - type: nope\n    name: X\n")
    result = fnflow("flow", "create", "bad", "-f", str(tmp_path / "bad.yaml"), url=url)
    assert result.returncode == 2
    assert result.stderr.startswith("fnflow: invalid flow definition:\n  line 4, column 5: step 'X'")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("exec", "start", "no-such-flow"), "fnflow: flow 'no-such-flow' does not exist"),
        (("exec", "start", "poll-job", "--input", "{bad json"), "not valid JSON"),
        (("exec", "start", "poll-job", "--input", "[1, 2]"), "must be a JSON object"),
        (("exec", "start", "poll-job", "--input", "@/no/such/file.json"), "cannot read /no/such/file.json"),
        (("exec", "list", "poll-job", "--status", "Sleeping"), "fnflow: status must be one of"),
        (("fn", "deploy", "f", "--env", "NOEQUALS"), "is not KEY=VALUE"),
        (("flow", "get"), "Missing argument"),
    ],
)
def test_usage_and_input_errors_exit_2(url: str, args: tuple[str, ...], message: str) -> None:
    result = fnflow(*args, url=url)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_server_exits_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = fnflow("flow", "list", "--url", url)
    assert result.returncode == 3
    assert f"cannot reach the fnflow server at {url}" in result.stderr
    assert "fnflow server" in result.stderr.splitlines()[1]


def test_functions(url: str, code: Path) -> None:
    deployed = fnflow("fn", "deploy", "echo", "--code", str(code), "--env", "A=1", "--env", "B=x=y", url=url)
    assert deployed.returncode == 0, deployed.stderr
    assert fields(deployed.stdout)["environment"] == "A=1 B=x=y"

    by_data = fnflow("fn", "invoke", "echo", "--data", '{"via": "data"}', url=url)
    assert (by_data.returncode, json.loads(by_data.stdout)) == (0, {"echo": {"via": "data"}})
    by_stdin = fnflow("fn", "invoke", "echo", stdin='{"via": "stdin"}', url=url)
    assert (by_stdin.returncode, json.loads(by_stdin.stdout)) == (0, {"echo": {"via": "stdin"}})

    with Client(url, api_key="") as client:
        client.deploy_function("echo", handler="index.boom")
    failed = fnflow("fn", "invoke", "echo", url=url)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["errorType"] == "ValueError"
    assert "the function failed (UnhandledInvocationError" in failed.stderr

    assert fnflow("fn", "delete", "echo", url=url).stdout == "deleted function default/echo\n"
    assert fnflow("fn", "get", "echo", "-o", "json", url=url).returncode == 2


def test_task_succeed_and_fail(url: str, code: Path, tmp_path: Path) -> None:
    with Client(url, api_key="") as client:
        client.deploy_function("ask", code)
        client.put_flow("approve", APPROVE)

        def token(name: str) -> str:
            client.start_execution("approve", name=name)
            for _ in range(100):
                for event in client.get_history("approve", name):
                    if event.type == "TaskScheduled":
                        value: str = event.detail["input"]["token"]
                        return value
                time.sleep(0.05)
            raise AssertionError(f"{name} never scheduled its task")

        (tmp_path / "out.json").write_text('{"approved": true}')
        succeeded = fnflow("task", "succeed", token("yes"), "--output", f"@{tmp_path / 'out.json'}", url=url)
        assert (succeeded.returncode, succeeded.stdout) == (0, "reported: the task succeeded\n")
        assert client.wait_execution("approve", "yes", timeout=30).output["approved"] is True

        failed = fnflow("task", "fail", token("no"), "--error", "Denied", "--cause", "budget", url=url)
        assert failed.returncode == 0, failed.stderr
        done = client.wait_execution("approve", "no", timeout=30)
        assert (done.status, done.error, done.cause) == ("Failed", "Denied", "budget")


def test_keys_create_then_a_server_with_auth_accepts_the_key(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--auth", "on")
    created = fnflow("keys", "create", "--scope", "invoke", "--description", "ci", "--db", server.db)
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1].strip().removeprefix("FNFLOW_API_KEY=")
    key_id, secret = key.split(":")
    as_json = fnflow("keys", "create", "--scope", "admin", "-o", "json", FNFLOW_DB=server.db)  # --db from env
    assert json.loads(as_json.stdout)["scope"] == "admin"

    listed = fnflow("keys", "list", "--db", server.db)
    assert key_id in listed.stdout and "invoke" in listed.stdout
    assert secret not in listed.stdout

    server.start()
    try:
        assert fnflow("flow", "list", url=server.url, FNFLOW_API_KEY=key).returncode == 0
        anonymous = fnflow("flow", "list", url=server.url)
        assert anonymous.returncode == 2 and "FNFLOW_API_KEY" in anonymous.stderr
    finally:
        server.stop()

    assert fnflow("keys", "delete", key_id, "--db", server.db).stdout == f"deleted key {key_id}\n"
    assert key_id not in fnflow("keys", "list", "--db", server.db).stdout


def test_help_has_examples() -> None:
    result = fnflow("exec", "start", "--help")
    assert result.returncode == 0
    assert "fnflow exec start poll-job --input" in result.stdout
