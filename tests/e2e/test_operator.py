"""What an operator meets first: the console and the API docs at the root, flows drawn as graphs,
`exec start --wait` reporting steps as they happen, and JSON logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.cli import fnflow

pytestmark = pytest.mark.e2e

STEPS = """
version: v1
type: flow
steps:
  - {type: pass, name: Prepare, outputMappings: [{target: ready, source: true}]}
  - {type: wait, name: Pause, duration: 0.2}
  - type: choice
    name: Route
    choices:
      - {condition: $.ready == true, goto: Done}
    default: {goto: Broken}
  - {type: succeed, name: Done}
  - {type: fail, name: Broken, error: NotReady}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("operator"), "--log-format", "json", "--log-level", "info"
    )
    process.start()
    assert httpx.put(f"{process.url}/api/v1/flows/steps", json={"definition": STEPS}).status_code == 201
    yield process
    process.stop()


def test_the_root_is_the_console_and_the_docs_are_served_offline(server: ServerProcess) -> None:
    root = httpx.get(f"{server.url}/")
    assert (root.status_code, root.headers["location"]) == (307, "/ui/")
    console = httpx.get(f"{server.url}/ui/")
    assert console.status_code == 200 and '<script type="module" src="app.js">' in console.text
    assert httpx.get(f"{server.url}/ui/app.js").status_code == 200
    docs = httpx.get(f"{server.url}/docs")
    assert docs.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert httpx.get(f"{server.url}/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_a_flow_is_drawn_as_svg_mermaid_and_json(server: ServerProcess) -> None:
    svg = fnflow("flow", "graph", "steps", url=server.url)
    assert svg.returncode == 0, svg.stderr
    assert svg.stdout.startswith("<svg") and 'data-step="Route"' in svg.stdout
    mermaid = fnflow("flow", "graph", "steps", "--format", "mermaid", url=server.url)
    assert mermaid.stdout.startswith("flowchart TD")
    assert mermaid.stdout == fnflow("flow", "graph", "steps", "-f", "mermaid", url=server.url).stdout, (
        "stable"
    )
    layout = httpx.get(f"{server.url}/api/v1/flows/steps/graph", params={"format": "json"}).json()
    names = {b["id"] for b in layout["boxes"] if b["kind"] not in ("frame", "goto")}
    assert names == {"#start", "#end", "Prepare", "Pause", "Route", "Done", "Broken"}
    assert {(e["source"], e["target"], e["kind"]) for e in layout["edges"]} >= {
        ("Route", "Done", "goto"),
        ("Route", "Broken", "goto"),
        ("Prepare", "Pause", "next"),
    }
    missing = httpx.get(f"{server.url}/api/v1/flows/nope/graph")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"


def test_exec_start_wait_reports_steps_on_stderr_and_keeps_stdout_for_the_output(
    server: ServerProcess,
) -> None:
    run = fnflow("exec", "start", "steps", "--name", "watched", "--wait", url=server.url)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"ready": True}
    lines = run.stderr.splitlines()
    assert lines[0] == "started steps/watched"
    said = [line.split(maxsplit=1)[1] for line in lines[1:]]
    assert said[:4] == ["Prepare  entered", "Prepare  done", "Pause  entered", "Pause  done"]
    assert said[-1] == "execution  succeeded"
    assert all(line[:9].endswith("Z") for line in lines[1:]), "times say their zone"
    quiet = fnflow("exec", "start", "steps", "--wait", "--quiet", url=server.url)
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_an_execution_s_progress_and_its_live_stream(server: ServerProcess) -> None:
    fnflow("exec", "start", "steps", "--name", "followed", "--wait", "-q", url=server.url)
    progress = httpx.get(f"{server.url}/api/v1/flows/steps/executions/followed/progress").json()
    assert progress["status"] == "Succeeded"
    steps = progress["steps"]
    assert {name: s["state"] for name, s in steps.items()} == {
        "Prepare": "succeeded",
        "Pause": "succeeded",
        "Route": "succeeded",
        "Done": "succeeded",
    }
    assert steps["Prepare"]["output"] == {"ready": True} and "Broken" not in steps
    with httpx.stream("GET", f"{server.url}/api/v1/flows/steps/executions/followed/watch") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = list(stream.iter_lines())  # it has ended: one message, then the stream closes
    assert lines[0] == "event: progress" and json.loads(lines[1][len("data: ") :])["status"] == "Succeeded"


def test_logs_are_json_lines_when_asked(server: ServerProcess) -> None:
    records = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert records, server.log()[-2000:]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["message"].startswith("serving http://127.0.0.1:") for r in records)


def test_make_run_loads_every_example_manifests_and_alibaba_apps_alike(tmp_path: Path) -> None:
    """What `make run` does: `fnflow server --apply examples` deploys every example, the Alibaba app
    templates as stacks (as `fnflow deploy -t` would)."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    process = ServerProcess(tmp_path, "--apply", str(examples)).start()
    try:
        flows = {
            f["name"] for f in httpx.get(f"{process.url}/api/v1/flows", params={"limit": 999}).json()["flows"]
        }
        assert {"poll-job", "book-trip", "checkout", "fnf-demo-queue", "mns-topic-task", "AsyncJob"} <= flows
        stacks = {s["name"] for s in httpx.get(f"{process.url}/api/v1/stacks").json()["stacks"]}
        assert {"async-http-jobs", "scheduled-reports"} <= stacks
        started = httpx.post(
            f"{process.url}/2016-08-15/proxy/AsyncJobs/HttpAPI/start", params={"flowName": "AsyncJob"}
        )
        assert started.status_code == 200 and started.json()["executionName"]
        assert "Traceback" not in process.log()
    finally:
        process.stop()
