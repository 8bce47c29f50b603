"""Three processes on one PostgreSQL database (servers A and B, worker W) with executions and
asynchronous calls in flight (150 of each; 500 with ``--long``, ``tests/long.py``) and a schedule
ticking every second; ``kill -9`` B in the middle.

Every execution ends Succeeded with the right output and no step or task settled twice, every call
ends Succeeded (at least once: only calls B was running may have run twice, which is those Running
in the store at the kill; they can be more than ``maxInstances``, since a function that answered
takes its next call while its outcome waits for a commit), and every tick of the
schedule started one execution. Requests B dropped when it died are sent again to A with the same
execution name or ``X-Call-Id``, which makes them idempotent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnflow import Client, Execution
from fnflow.functions.codepkg import pack_directory
from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.e2e.crashflow import FACTORS, FIXTURE, check_history, expected
from tests.long import sized
from tests.postgres import no_postgres

WORKER = Path(__file__).parent / "fixtures" / "worker"
EXECUTIONS = sized(150, 500)
CALLS = sized(150, 500)
CONCURRENCY = 48  # client requests at once
KILL_AFTER = EXECUTIONS // 3  # executions accepted before B is killed
LEASE = "5"  # seconds: a dead process's work is taken over after this (short, yet renewed in time under load)
DEADLINE = 240  # seconds for everything to end, once all are sent
STALL = 30  # seconds without anything ending: what is left is stuck (six leases)
CALL_INSTANCES = 6  # the worker function's maxInstances (a limit of the whole cluster)
FAST = {"FNFLOW_SCHEDULE_MIN_INTERVAL": "1"}
TICK_INPUT = {"x": 7}
TICK = """\
version: v1
type: flow
steps:
  - type: task
    name: Square
    resourceArn: acs:fc:::services/crash/functions/math
    inputMappings:
      - {target: op, source: square}
      - {target: x, source: $input.x}
outputMappings:
  - {target: square, source: $local.square}
"""
STAMP = "%Y%m%dT%H%M%SZ"


def tick_of(name: str) -> datetime:
    return datetime.strptime(name.rpartition("-")[2], STAMP).replace(tzinfo=UTC)


@dataclass
class Cluster:
    a: ServerProcess
    b: ServerProcess
    w: ServerProcess
    db: str
    b_alive: bool = True
    on_b: int = 0  # requests in flight on B
    killed_at: datetime | None = None
    ran_before_kill: int = 0
    running_at_kill: set[str] = field(default_factory=set)  # calls Running in the store (any process)
    accepted: Counter[str] = field(default_factory=Counter)  # "exec@a", "call@b", ...
    retried: Counter[str] = field(default_factory=Counter)  # sent to B, B died, sent again to A

    def logs(self) -> str:
        """The end of each process's log, without the lines of fired ticks (for failure messages)."""
        tails = []
        for name, p in (("A", self.a), ("B", self.b), ("W", self.w)):
            lines = [line for line in p.log().splitlines() if "schedule beat started" not in line]
            tails.append(f"--- {p.kind} {name} ({p.log_path}), last lines ---\n" + "\n".join(lines)[-2000:])
        return "\n".join(tails)


def ran_log(logs: Path) -> Counter[str]:
    path = logs / "ran.log"
    return Counter(path.read_text().split()) if path.exists() else Counter()


async def send(
    cluster: Cluster, client: httpx.AsyncClient, kind: str, i: int, path: str, **kwargs: Any
) -> httpx.Response:
    """POST to B (odd i) while it lives, else to A; what B dropped when it died goes to A again."""
    if i % 2 and cluster.b_alive:
        cluster.on_b += 1
        try:
            response = await client.post(f"{cluster.b.url}{path}", **kwargs)
            cluster.accepted[f"{kind}@b"] += 1
            return response
        except httpx.TransportError:
            assert not cluster.b_alive, f"{kind} {i} failed on B, which was alive\n{cluster.logs()}"
            cluster.retried[kind] += 1
        finally:
            cluster.on_b -= 1
    response = await client.post(f"{cluster.a.url}{path}", **kwargs)
    cluster.accepted[f"{kind}@a"] += 1
    return response


async def load(cluster: Cluster, logs: Path) -> None:
    """Start every execution and call, round-robin on A and B; kill B a third of the way through."""
    gate = asyncio.Semaphore(CONCURRENCY)
    third = asyncio.Event()
    started = 0

    async def execution(client: httpx.AsyncClient, x: int) -> None:
        nonlocal started
        body = {"name": f"run-{x}", "input": {"x": x, "factors": FACTORS}}
        async with gate:
            response = await send(cluster, client, "exec", x, "/api/v1/flows/crash/executions", json=body)
        # 200: B had stored it before it died, A answers with the same execution.
        assert response.status_code in (200, 201), (x, response.text)
        assert response.json()["name"] == f"run-{x}"
        started += 1
        if started >= KILL_AFTER:
            third.set()

    async def call(client: httpx.AsyncClient, i: int) -> None:
        headers = {"X-Call-Id": f"job-{i}"}
        async with gate:
            response = await send(
                cluster, client, "call", i, "/async-function/worker", content=f"job {i}", headers=headers
            )
        assert response.status_code == 202, (i, response.text)
        assert response.headers["X-Call-Id"] == f"job-{i}"

    async def kill_b() -> None:
        await third.wait()
        for _ in range(100):  # kill it with requests in flight (unless A holds every slot for long)
            if cluster.on_b >= 4:
                break
            await asyncio.sleep(0.02)
        cluster.b_alive = False  # from now on everything goes to A
        await asyncio.to_thread(cluster.b.kill)
        cluster.killed_at = datetime.now(UTC)
        cluster.ran_before_kill = sum(ran_log(logs).values())
        cluster.running_at_kill = await asyncio.to_thread(running_calls, cluster.db)

    async with httpx.AsyncClient(timeout=60) as client:
        jobs = [job for i in range(EXECUTIONS) for job in (execution(client, i), call(client, i))]
        await asyncio.gather(kill_b(), *jobs)


async def settle(cluster: Cluster) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Wait (on A) until every execution and every call has ended, or until nothing has ended for
    ``STALL`` seconds (many leases: what is left is stuck); return them as last seen."""
    gate = asyncio.Semaphore(64)
    deadline = time.monotonic() + DEADLINE
    last_end = time.monotonic()
    executions: dict[int, dict[str, Any]] = {}
    calls: dict[int, dict[str, Any]] = {}

    def give_up() -> bool:
        now = time.monotonic()
        return now > deadline or now - last_end > STALL

    async def execution(client: httpx.AsyncClient, x: int) -> None:
        nonlocal last_end
        while True:
            wait = max(0, min(deadline - time.monotonic(), 10))
            async with gate:
                response = await client.get(f"/api/v1/flows/crash/executions/run-{x}", params={"wait": wait})
            response.raise_for_status()
            executions[x] = response.json()
            if executions[x]["status"] != "Running":
                last_end = time.monotonic()
                return
            if give_up():
                return

    async def call(client: httpx.AsyncClient, i: int) -> None:
        nonlocal last_end
        while True:
            async with gate:
                response = await client.get(f"/api/v1/calls/job-{i}")
            response.raise_for_status()
            calls[i] = response.json()
            if calls[i]["status"] in ("Succeeded", "Failed", "Expired", "Stopped"):
                last_end = time.monotonic()
                return
            if give_up():
                return
            await asyncio.sleep(0.5)

    async with httpx.AsyncClient(base_url=cluster.a.url, timeout=60) as client:
        await asyncio.gather(
            *(execution(client, x) for x in range(EXECUTIONS)), *(call(client, i) for i in range(CALLS))
        )
    return executions, calls


def running_calls(db: str) -> set[str]:
    """The calls marked Running in the store: after B's death, the only ones that may run again."""
    import psycopg

    with psycopg.connect(db, connect_timeout=3) as conn:
        return {id for (id,) in conn.execute("SELECT id FROM calls WHERE status = 'Running'")}


def call_rows(db: str, ids: list[str]) -> str:
    """The stored rows of some calls, leases included (for a failure message)."""
    import psycopg

    query = "SELECT id, status, attempts, lease_owner, lease_until FROM calls WHERE id = ANY(%s) ORDER BY id"
    try:
        with psycopg.connect(db, connect_timeout=3) as conn:
            rows = conn.execute(query, (ids,)).fetchall()
    except Exception as e:  # only a diagnostic
        return f"(could not read the calls: {e})"
    now = time.time()
    return "\n".join(
        f"{id} {status} attempts={attempts} lease_owner={owner} lease_until={until}"
        + (f" (ran out {now - until:.0f}s ago)" if isinstance(until, float) else "")
        for id, status, attempts, owner, until in rows
    )


async def histories(url: str, flow: str, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    gate = asyncio.Semaphore(32)
    found: dict[str, list[dict[str, Any]]] = {}

    async def one(client: httpx.AsyncClient, name: str) -> None:
        events: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"nextToken": token} if token else {})}
            async with gate:
                response = await client.get(f"/api/v1/flows/{flow}/executions/{name}/history", params=params)
            response.raise_for_status()
            page = response.json()
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                found[name] = events
                return

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await asyncio.gather(*(one(client, name) for name in names))
    return found


def fired_by(cluster: Cluster) -> dict[str, list[str]]:
    """Which process fired which tick, from their logs (each logs the executions its ticks start)."""
    marker = "schedule beat started execution "
    return {
        name: [line.rpartition(marker)[2].strip() for line in p.log().splitlines() if marker in line]
        for name, p in (("A", cluster.a), ("B", cluster.b), ("W", cluster.w))
    }


def check_ticks(client: Client, cluster: Cluster, since: datetime) -> list[Execution]:
    """Every tick started one execution, named after it; none twice; ticks before, during and after
    the kill; and each process's log names only ticks no other process fired."""
    runs = sorted(client.iter_executions("tick", name_prefix="beat-"), key=lambda e: e.name)
    names = [e.name for e in runs]
    assert len(names) == len(set(names)), f"a tick's execution is listed twice: {Counter(names)}"
    ticks = [tick_of(name) for name in names]
    assert ticks == sorted(set(ticks)), f"ticks doubled or out of order: {names}"
    assert ticks[0] >= since.replace(microsecond=0), (since, names[:3])
    assert cluster.killed_at is not None
    assert ticks[-1] > cluster.killed_at + timedelta(seconds=2), f"no tick after the kill: {names}"
    for run in runs:
        assert run.input == TICK_INPUT, run
        assert run.started_time is not None and run.started_time >= tick_of(run.name), run
    fired = fired_by(cluster)
    logged = Counter(name for names in fired.values() for name in names)
    assert all(n == 1 for n in logged.values()), f"a tick fired twice: {fired}"
    assert set(logged) <= set(names), f"a fired tick has no execution: {set(logged) - set(names)}"
    span = int((ticks[-1] - ticks[0]).total_seconds()) + 1
    # A process that is late by more than a second fires only the latest tick due; under this load
    # a few ticks may go that way, but most seconds must have theirs.
    assert len(ticks) >= span // 2, f"{len(ticks)} ticks in {span} s: {names}"
    print(
        f"{len(runs)} ticks of {span} seconds from {names[0]} to {names[-1]}, "
        f"fired by A {len(fired['A'])}, B {len(fired['B'])}, W {len(fired['W'])}; "
        f"missed (a late process fires only the latest tick due): "
        f"{sorted(set(range(span)) - {int((t - ticks[0]).total_seconds()) for t in ticks})}"
    )
    return runs


@pytest.mark.slow
def test_three_processes_kill_9_one_in_the_middle_of_the_jobs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    with contextlib.ExitStack() as stack:
        try:
            db = stack.enter_context(throwaway_database())
        except NoPostgres as e:
            no_postgres("MULTI-NODE TEST", e)

        def started(process: ServerProcess) -> ServerProcess:
            stack.callback(process.stop)
            return process.start()

        # info: each process logs the ticks it fires
        common = ("--lease-seconds", LEASE, "--log-level", "info")
        a = started(ServerProcess(tmp_path / "a", "--apply", str(FIXTURE), *common, db=db, env=FAST))
        b = started(ServerProcess(tmp_path / "b", *common, db=db, env=FAST))
        w = started(ServerProcess(tmp_path / "w", *common, db=db, env=FAST, command="worker"))
        cluster = Cluster(a, b, w, db)
        deploy = {
            "runtime": "python3-http",
            "maxInstances": CALL_INSTANCES,
            "environment": {"LOG_DIR": str(logs)},
            "code": base64.b64encode(pack_directory(WORKER)).decode(),
        }
        response = httpx.put(f"{a.url}/api/v1/functions/default/worker", json=deploy, timeout=30)
        assert response.status_code in (200, 201), response.text

        with Client(a.url) as client:
            client.put_flow("tick", TICK)
            since = datetime.now(UTC)
            client.put_schedule("tick", "beat", "* * * * * *", payload=TICK_INPUT)
            deadline = time.monotonic() + 10
            while not list(client.iter_executions("tick", name_prefix="beat-")):
                assert time.monotonic() < deadline, f"the schedule did not fire\n{cluster.logs()}"
                time.sleep(0.1)

            began = time.monotonic()
            asyncio.run(load(cluster, logs))
            sent = time.monotonic() - began
            assert b.orphans() == 0, "B's function workers must exit when B dies"
            executions, calls = asyncio.run(settle(cluster))
            ended = time.monotonic() - began
            client.put_schedule("tick", "beat", "* * * * * *", payload=TICK_INPUT, enabled=False)

            statuses = Counter(e["status"] for e in executions.values())
            call_statuses = Counter(c["status"] for c in calls.values())
            assert cluster.killed_at is not None
            summary = (
                f"accepted {dict(cluster.accepted)}; sent again to A after B died {dict(cluster.retried)}; "
                f"B killed at {cluster.killed_at.timestamp():.3f} ({cluster.killed_at:%H:%M:%S} UTC) "
                f"after {cluster.ran_before_kill} calls ran, {len(cluster.running_at_kill)} Running; "
                f"all sent in {sent:.1f}s, "
                f"ended after {ended:.1f}s; executions {dict(statuses)}, calls {dict(call_statuses)}"
            )
            print(summary)
            assert cluster.ran_before_kill < CALLS, f"the kill should land in the middle\n{summary}"

            # Executions: all succeeded, with the right output, no step or task settled twice.
            unfinished = [e for e in executions.values() if e["status"] != "Succeeded"]
            assert not unfinished, f"{summary}\n{unfinished[:5]}\n{cluster.logs()}"
            for x, execution in executions.items():
                assert execution["output"] == expected(x), (execution, summary)
            names = [f"run-{x}" for x in executions]
            for name, events in asyncio.run(histories(a.url, "crash", names)).items():
                try:
                    check_history(events)
                except AssertionError as e:
                    raise AssertionError(
                        f"execution {name}: {e}\n{events}\n{summary}\n{cluster.logs()}"
                    ) from e

            # Calls: all succeeded with their own body; only calls running on B at the kill ran twice.
            stuck = [c for c in calls.values() if c["status"] != "Succeeded"]
            ran = ran_log(logs)
            assert not stuck, (
                f"{summary}\n{len(stuck)} call(s) did not succeed, e.g. {stuck[:3]}\n"
                f"times their handler ran: { {c['callId']: ran[c['callId']] for c in stuck} }\n"
                "stored rows:\n"
                f"{call_rows(db, [c['callId'] for c in stuck])}\n{cluster.logs()}"
            )
            for i, call in calls.items():
                assert call["result"]["body"] == f"job {i}", (call, summary)
            assert set(ran) == {f"job-{i}" for i in range(CALLS)}, f"every call ran\n{summary}"
            twice = {job: n for job, n in ran.items() if n > 1}
            print(f"calls whose handler ran more than once: {twice}")
            assert set(twice) <= cluster.running_at_kill, (
                f"only calls running on B at the kill may run again: {twice}, "
                f"Running at the kill: {sorted(cluster.running_at_kill)}\n{summary}\n{cluster.logs()}"
            )

            # The schedule: each tick once, before, during and after the kill; each run succeeded.
            runs = check_ticks(client, cluster, since)
            finished = [client.wait_execution("tick", run.name, timeout=30) for run in runs]
            assert all(e.succeeded and e.output == {"square": 49} for e in finished), (finished, summary)
            for name, events in asyncio.run(histories(a.url, "tick", [r.name for r in runs])).items():
                try:
                    check_history(events)
                except AssertionError as e:
                    raise AssertionError(f"execution {name}: {e}\n{events}\n{summary}") from e
