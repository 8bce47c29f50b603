"""Callback latency: from a task report (``POST /api/v1/tasks/succeed``) to the next step entered.

A flow whose first step sends its task token to a built-in queue and waits for a callback
(``waitForCallback``), then a pass step. The benchmark receives each message, notes the time,
reports the token, and later reads when the next step was entered from the execution's history
(milliseconds, truncated: the figures are up to 1 ms low). One execution at a time, so this is
the latency of an idle server, and also under 16 executions at once. Target (issue 15): p50 ≤ 10 ms.

    .venv/bin/python bench/callback.py [--size tiny|default|full]
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def run(size: str) -> common.Result:
    count = common.pick(size, 10, 200, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        fixture = common.noop_fixture(Path(tmp), flows={"callback": FLOW}, extra=QUEUE)
        with common.server(fixture) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(3):
                one(client)  # warm up
            idle = [one(client) for _ in range(count)]
            clients = [httpx.Client(base_url=server.url, timeout=60) for _ in range(16)]
            with ThreadPoolExecutor(16) as pool:
                busy = list(pool.map(lambda i: one(clients[i % 16]), range(count)))
            for c in clients:
                c.close()
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
    common.main(run)
