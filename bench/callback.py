"""Callback latency: from a task report (``POST /api/v1/tasks/succeed``) to the next step entered.

A flow whose first step sends its task token to a built-in queue and waits for a callback
(``waitForCallback``), then a pass step. The benchmark receives each message, notes the time,
reports the token, and later reads when the next step was entered from the execution's history
(milliseconds, truncated: the figures are up to 1 ms low). One execution at a time, so this is
the latency of an idle server, and also under 16 executions at once, run by aiohttp in two client
processes so that the load generator is not what is measured. Target (issue 15): p50 ≤ 10 ms.

    .venv/bin/python bench/callback.py [--size tiny|default|full]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import httpx

NAME = "callback"
TITLE = "Callback → next step entered (waitForCallback on a queue, report over HTTP)"
FLOW = """version: v1
type: flow
steps:
  - type: task
    name: wait
    resourceArn: acs:mns:::/queues/bench/messages
    pattern: waitForCallback
    inputMappings:
      - {target: task_token, source: $context.task.token}
    serviceParams: {MessageBody: $}
  - {type: pass, name: next}
"""
QUEUE = "queues:\n  - {name: bench, visibilityTimeout: 60}\n"
EXECUTIONS = "/api/v1/flows/callback/executions"
MESSAGES = "/api/v1/queues/bench/messages"
#: client processes running the 16 executions at once, and loops in each
PROCESSES, LOOPS = 2, 8


def one(client: httpx.Client) -> float:
    """Start an execution, answer its callback; seconds from the report to the next step entered."""
    name = client.post(EXECUTIONS, json={}).raise_for_status().json()["name"]
    while True:
        got = client.get("/api/v1/queues/bench/messages", params={"wait": 10, "max": 1}).raise_for_status()
        messages = got.json()["messages"]
        if messages:
            break
    message = messages[0]
    token = json.loads(message["body"])["task_token"]
    reported = time.time()
    client.post("/api/v1/tasks/succeed", json={"taskToken": token, "output": {}}).raise_for_status()
    client.delete(f"/api/v1/queues/bench/messages/{message['receiptHandle']}")
    done = client.get(f"{EXECUTIONS}/{name}", params={"wait": 30}).json()
    assert done["status"] == "Succeeded", done
    return common.event_time(common.history(client, "callback", name), "StepEntered", "next") - reported


def at_once(url: str, count: int) -> list[float]:
    """``one``'s latencies of ``count`` executions run ``LOOPS`` at a time in each of ``PROCESSES``."""
    command = [sys.executable, __file__, "--client", url, str(count // PROCESSES), str(LOOPS)]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    latencies: list[float] = []
    for child in children:
        latencies += json.loads(child.communicate()[0])
        assert child.returncode == 0, child.returncode
    return latencies


def client_process(url: str, count: int, loops: int) -> None:
    """One load process (``--client``): ``count`` executions by ``loops`` concurrent loops doing
    what ``one`` does; prints their latencies as JSON."""
    import aiohttp

    async def once(session: aiohttp.ClientSession) -> float:
        async with session.post(EXECUTIONS, json={}) as started:
            name = (await started.json())["name"]
        while True:
            async with session.get(MESSAGES, params={"wait": "10", "max": "1"}) as got:
                messages = (await got.json())["messages"]
            if messages:
                break
        token = json.loads(messages[0]["body"])["task_token"]
        reported = time.time()
        async with session.post("/api/v1/tasks/succeed", json={"taskToken": token, "output": {}}) as done:
            assert done.status == 200, await done.text()
        async with session.delete(f"{MESSAGES}/{messages[0]['receiptHandle']}"):
            pass
        async with session.get(f"{EXECUTIONS}/{name}", params={"wait": "30"}) as final:
            assert (await final.json())["status"] == "Succeeded"
        async with session.get(f"{EXECUTIONS}/{name}/history") as history:
            events: list[dict[str, Any]] = (await history.json())["events"]
        return common.event_time(events, "StepEntered", "next") - reported

    async def go() -> list[float]:
        left, latencies = [count], []
        async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=60)) as session:

            async def loop() -> None:
                while left[0] > 0:
                    left[0] -= 1
                    latencies.append(await once(session))

            await asyncio.gather(*(loop() for _ in range(loops)))
        return latencies

    print(json.dumps(asyncio.run(go())), flush=True)


def run(size: str) -> common.Result:
    count = common.pick(size, 10, 200, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        fixture = common.noop_fixture(Path(tmp), flows={"callback": FLOW}, extra=QUEUE)
        with common.server(fixture) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(3):
                one(client)  # warm up
            idle = [one(client) for _ in range(count)]
            busy = at_once(server.url, count)
    one_at_a_time, sixteen = common.ms(idle), common.ms(busy)
    return common.Result(
        NAME,
        TITLE,
        ["load", "p50 ms", "p99 ms"],
        [
            ["one execution at a time", one_at_a_time["p50_ms"], one_at_a_time["p99_ms"]],
            ["16 executions at once", sixteen["p50_ms"], sixteen["p99_ms"]],
        ],
        {
            "callbacks": count,
            "idle_p50_ms": one_at_a_time["p50_ms"],
            "idle_p99_ms": one_at_a_time["p99_ms"],
            "busy16_p50_ms": sixteen["p50_ms"],
            "busy16_p99_ms": sixteen["p99_ms"],
        },
        ["target p50 ≤ 10 ms; history times are milliseconds, truncated"],
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        client_process(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        common.main(run)
