"""Accepting asynchronous calls: requests/s of ``POST /async-function/noop`` against an empty ASGI app.

Both run under the same server stack (uvicorn with uvloop and httptools), loaded with
``wrk -t2 -c50`` sending ``{}``; fnflow stores each call (SQLite, synchronous=FULL) before its
202, and runs the calls it accepted meanwhile. Also reports how fast the queue drained
afterwards. The accept port, the target's row, runs in turn with the empty app, three rounds at
the default size: its ratio is the median of the rounds' ratios. Needs ``wrk`` (``apt-get
install wrk``; ``make bench`` installs it).
Target (issue 15): ≥ 0.5x the empty app, p99 < 20 ms, zero non-2xx.

    .venv/bin/python bench/async_accept.py [--size tiny|default|full]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import common
import httpx

from fnflow.testing import free_port

NAME = "async_accept"
#: processes serving ``--accept-port`` in the last row
FRONTS = 1
TITLE = "Durable async accept (POST /async-function/noop) vs an empty ASGI app, wrk -t2 -c50"


def drained(url: str, timeout: float) -> float:
    """Seconds until nothing is queued or running."""
    began = time.perf_counter()

    def idle() -> bool:
        for status in ("Enqueued", "Running"):
            page = httpx.get(f"{url}/api/v1/calls", params={"status": status, "limit": 1}, timeout=30)
            if page.json()["calls"]:
                return False
        return True

    common.wait_for(idle, timeout, "the queue to drain", every=0.2)
    return time.perf_counter() - began


def slow(root: Path) -> str:
    """A function ``slow`` of the default service that takes a second, one instance (manifest text)."""
    (root / "slow").mkdir(parents=True, exist_ok=True)
    code = "import time\n\ndef handler(event, context):\n    time.sleep(1)\n"
    (root / "slow" / "index.py").write_text(code)
    return "  - {name: slow, handler: index.handler, code: slow, maxInstances: 1}\n"


@contextmanager
def accept_port() -> Iterator[str]:
    """A server whose ``--accept-port`` (``FRONTS`` fronts) takes the calls; its URL. The HTTP work
    is in processes of their own: the fronts take the requests and pass the calls on; the
    server's event loop only stores them."""
    port = free_port()
    with (
        tempfile.TemporaryDirectory() as tmp,
        common.server(
            common.noop_fixture(Path(tmp), service=None, extra=slow(Path(tmp))),
            "--accept-port",
            str(port),
            "--accept-processes",
            str(FRONTS),
        ),
    ):
        yield f"http://127.0.0.1:{port}"


def run(size: str) -> common.Result:
    seconds = common.pick(size, 1, 8, 15)
    rounds = common.pick(size, 1, 3, 3)
    connections = 50
    if not common.have_wrk():
        raise SystemExit("wrk is needed: apt-get install wrk (make bench installs it)")
    # The target's row: the empty app and the accept port in turn, a fresh server each round, so
    # that each ratio compares two runs of the same minute (single runs gave 0.42 and 0.51 in one hour).
    empties: list[dict[str, float]] = []
    fronts: list[dict[str, float]] = []
    with common.empty_app() as url:
        for _ in range(rounds):
            empties.append(common.wrk(f"{url}/async-function/noop", seconds, connections))
            with accept_port() as front_url:
                fronts.append(common.wrk(f"{front_url}/async-function/slow", seconds, connections))
    # and with the calls running as fast as they come: the server's loop then runs them too
    with accept_port() as front_url:
        running = common.wrk(f"{front_url}/async-function/noop", seconds, connections)
    with (
        tempfile.TemporaryDirectory() as tmp,
        common.server(common.noop_fixture(Path(tmp), service=None, extra=slow(Path(tmp)))) as server,
    ):
        ours = common.wrk(f"{server.url}/async-function/noop", seconds, connections)
        accepted = ours["requests_per_s"] * seconds
        drain = accepted / (seconds + drained(server.url, 600))
        # The accept path alone: calls of a function that takes a second, one at a time, so that
        # running them costs next to nothing while they are accepted.
        alone = common.wrk(f"{server.url}/async-function/slow", seconds, connections)
    empty, front = common.medians(empties), common.medians(fronts)
    front_shares = [
        common.ratio(f["requests_per_s"], e["requests_per_s"]) for f, e in zip(fronts, empties, strict=True)
    ]
    running_share = common.ratio(running["requests_per_s"], empty["requests_per_s"])
    front_share = statistics.median(front_shares)
    share = common.ratio(ours["requests_per_s"], empty["requests_per_s"])
    alone_share = common.ratio(alone["requests_per_s"], empty["requests_per_s"])
    return common.Result(
        NAME,
        TITLE,
        ["server", "requests/s", "p99 ms", "non-2xx", "vs empty app"],
        [
            ["empty ASGI app (uvicorn, uvloop, httptools)", empty["requests_per_s"], empty["p99_ms"], 0, 1.0],
            [
                "fnflow accept, durable (SQLite FULL)",
                ours["requests_per_s"],
                ours["p99_ms"],
                ours["non_2xx"],
                share,
            ],
            [
                "fnflow accept alone (the calls' function runs one a second)",
                alone["requests_per_s"],
                alone["p99_ms"],
                alone["non_2xx"],
                alone_share,
            ],
            [
                f"the same on `--accept-port` ({FRONTS} front process)",
                front["requests_per_s"],
                front["p99_ms"],
                sum(f["non_2xx"] for f in fronts),
                front_share,
            ],
            [
                "the same on `--accept-port`, the calls running meanwhile",
                running["requests_per_s"],
                running["p99_ms"],
                running["non_2xx"],
                running_share,
            ],
        ],
        {
            "seconds": seconds,
            "connections": connections,
            "empty_requests_per_s": empty["requests_per_s"],
            "empty_p99_ms": empty["p99_ms"],
            "fnflow_requests_per_s": ours["requests_per_s"],
            "fnflow_p99_ms": ours["p99_ms"],
            "fnflow_non_2xx": ours["non_2xx"] + ours["socket_errors"],
            "ratio": share,
            "drain_calls_per_s": round(drain, 1),
            "alone_requests_per_s": alone["requests_per_s"],
            "alone_p99_ms": alone["p99_ms"],
            "alone_non_2xx": alone["non_2xx"] + alone["socket_errors"],
            "alone_ratio": alone_share,
            "front_requests_per_s": front["requests_per_s"],
            "front_p99_ms": front["p99_ms"],
            "front_non_2xx": sum(f["non_2xx"] + f["socket_errors"] for f in fronts),
            "front_ratio": front_share,
            "front_rounds": [
                {"ratio": r, "requests_per_s": f["requests_per_s"], "p99_ms": f["p99_ms"]}
                for r, f in zip(front_shares, fronts, strict=True)
            ],
            "front_running_requests_per_s": running["requests_per_s"],
            "front_running_p99_ms": running["p99_ms"],
            "front_running_non_2xx": running["non_2xx"] + running["socket_errors"],
            "front_running_ratio": running_share,
        },
        [
            f"the queue drained at about {drain:,.0f} calls/s (accepting and draining overlap: a faster"
            " drain takes more of the accepting process's time)",
            f"the accept port: {rounds} round(s), the empty app then the port in each; its ratio is the"
            " median of the rounds' ratios ("
            + " / ".join(f"{x:.2f}" for x in front_shares)
            + "), its p99 the median of the rounds' ("
            + " / ".join(f"{f['p99_ms']:.1f}" for f in fronts)
            + " ms); the other rows against the empty app's medians",
            "target ≥ 0.5x the empty app, p99 < 20 ms, zero non-2xx",
        ],
    )


if __name__ == "__main__":
    common.main(run)
