"""Timer lateness: 1,000 executions each waiting 1 second at once; how late the step after fires.

Each execution is a ``wait`` step of ``duration: 1`` and a pass step. They are started through the
API with 32 requests in flight; lateness is when the pass step was entered minus (when the wait
step was entered + 1 s), from each execution's history (milliseconds). The histories are read once
every wait has had its time (1.5 s after the last start), so that reading them does not load the
server while the timers fire (until 2026-12-05 each execution was long-polled meanwhile, which
put 2,000 requests into the measured second). No peer: the target (issue 15) is p99 ≤ 50 ms.

    .venv/bin/python bench/timers.py [--size tiny|default|full]
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import common
import httpx

NAME = "timers"
TITLE = "Timer lateness: concurrent 1-second waits"
FLOW = """version: v1
type: flow
steps:
  - {type: wait, name: sleep, duration: 1}
  - {type: pass, name: after}
"""
EXECUTIONS = "/api/v1/flows/timers/executions"


def run(size: str) -> common.Result:
    count = common.pick(size, 50, 1000, 5000)
    with tempfile.TemporaryDirectory() as tmp:
        fixture = common.noop_fixture(Path(tmp), flows={"timers": FLOW})
        with common.server(fixture) as server:
            clients = [httpx.Client(base_url=server.url, timeout=120) for _ in range(32)]

            def start(i: int) -> str:
                return str(clients[i % 32].post(EXECUTIONS, json={}).raise_for_status().json()["name"])

            def lateness(i: int, name: str) -> float:
                client = clients[i % 32]
                done = client.get(f"{EXECUTIONS}/{name}", params={"wait": 60}).json()  # ended by now
                assert done["status"] == "Succeeded", done
                events = common.history(client, "timers", name)
                waited = common.event_time(events, "StepEntered", "sleep") + 1.0
                return common.event_time(events, "StepEntered", "after") - waited

            began = time.perf_counter()
            with ThreadPoolExecutor(32) as pool:
                names = list(pool.map(start, range(count)))
                spread = time.perf_counter() - began
                time.sleep(1.5)  # the last wait is due 1 s after its start: read nothing before
                late = list(pool.map(lateness, range(count), names))
            for client in clients:
                client.close()
    stats = common.ms(late)
    return common.Result(
        NAME,
        TITLE,
        ["waits", "started within s", "lateness p50 ms", "lateness p99 ms", "max ms"],
        [[count, round(spread, 2), stats["p50_ms"], stats["p99_ms"], round(max(late) * 1000, 1)]],
        {
            "waits": count,
            "start_seconds": round(spread, 2),
            "lateness_p50_ms": stats["p50_ms"],
            "lateness_p99_ms": stats["p99_ms"],
            "lateness_max_ms": round(max(late) * 1000, 1),
        },
        ["target p99 ≤ 50 ms; history times are milliseconds, truncated"],
    )


if __name__ == "__main__":
    common.main(run)
