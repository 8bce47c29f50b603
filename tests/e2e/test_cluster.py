"""Several processes on one PostgreSQL database behave as one fnflow: a function's ``maxInstances``
holds across all of them, a long-poll on one hears an execution end on another, and a busy
process leaves work to idle ones (a worker without an HTTP API takes it)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnflow.functions.codepkg import pack_directory
from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.postgres import no_postgres

OVERLAP = Path(__file__).parent / "fixtures" / "overlap"
CLUSTER = Path(__file__).parent / "fixtures" / "cluster"
CALLS = 16


def most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in edges:  # at equal times an end (-1) sorts before a start
        running += step
        peak = max(peak, running)
    return peak


async def invoke_all(urls: list[str]) -> list[int]:
    async with httpx.AsyncClient(timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post(f"{urls[i % len(urls)]}/function/overlap", content=b"x") for i in range(CALLS))
        )
    return [r.status_code for r in responses]


def database(stack: contextlib.ExitStack) -> str:
    try:
        return stack.enter_context(throwaway_database())
    except NoPostgres as e:
        no_postgres("CLUSTER TEST", e)


def started(stack: contextlib.ExitStack, process: ServerProcess) -> ServerProcess:
    stack.callback(process.stop)
    return process.start()


@pytest.mark.slow
def test_max_instances_is_a_limit_of_the_whole_cluster(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    with contextlib.ExitStack() as stack:
        db = database(stack)
        servers = [started(stack, ServerProcess(tmp_path / name, db=db)) for name in ("a", "b", "c")]
        deploy = {
            "runtime": "python3-http",
            "maxInstances": 2,
            "timeout": 30,
            "environment": {"LOG_DIR": str(logs)},
            "code": base64.b64encode(pack_directory(OVERLAP)).decode(),
        }
        response = httpx.put(f"{servers[0].url}/api/v1/functions/default/overlap", json=deploy)
        assert response.status_code == 200, response.text
        statuses = asyncio.run(invoke_all([s.url for s in servers]))
        assert statuses == [200] * CALLS
        lines = (logs / "spans.log").read_text().splitlines()
        spans = [(float(a), float(b)) for a, b in map(str.split, lines)]
        assert len(spans) == CALLS
        # Each process alone would allow 2, so three would reach 6 without a shared limit.
        assert most_at_once(spans) == 2, spans


def test_a_long_poll_hears_an_execution_end_on_another_process(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        db = database(stack)
        a = started(stack, ServerProcess(tmp_path / "a", "--apply", str(CLUSTER), db=db))
        b = started(stack, ServerProcess(tmp_path / "b", db=db))
        assert httpx.post(f"{a.url}/api/v1/flows/nap/executions", json={"name": "n1"}).status_code == 201
        began = time.monotonic()
        response = httpx.get(f"{b.url}/api/v1/flows/nap/executions/n1", params={"wait": 60}, timeout=90)
        waited = time.monotonic() - began
        assert response.json()["status"] == "Succeeded", response.text
        # It ends on a's timer 1.5 s after the start; without a's word, b would answer after 60 s.
        assert waited < 45, f"the long-poll on b took {waited:.1f}s"


@pytest.mark.slow
def test_a_busy_process_leaves_tasks_to_a_worker(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        db = database(stack)
        a = started(
            stack, ServerProcess(tmp_path / "a", "--apply", str(CLUSTER), "--parallelism", "2", db=db)
        )
        w = started(stack, ServerProcess(tmp_path / "w", db=db, command="worker"))

        async def run_all() -> list[dict[str, Any]]:
            async with httpx.AsyncClient(base_url=a.url, timeout=60) as client:
                started = await asyncio.gather(
                    *(client.post("/api/v1/flows/busy/executions", json={"name": f"b{i}"}) for i in range(40))
                )
                assert {r.status_code for r in started} == {201}
                ended = await asyncio.gather(
                    *(
                        client.get(f"/api/v1/flows/busy/executions/b{i}", params={"wait": 50})
                        for i in range(40)
                    )
                )
                return [r.json() for r in ended]

        executions = asyncio.run(run_all())
        assert {e["status"] for e in executions} == {"Succeeded"}
        ran_in = Counter(e["output"]["process"] for e in executions)
        assert a.process is not None and w.process is not None
        assert set(ran_in) <= {a.process.pid, w.process.pid}
        # a runs 2 at a time and holds no more: the worker, idle, takes the rest as they come.
        assert ran_in[w.process.pid] >= 10, ran_in
