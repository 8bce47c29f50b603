"""Accepting asynchronous calls: requests/s of ``POST /async-function/noop`` against an empty ASGI app.

Both run under the same server stack (uvicorn with uvloop and httptools), loaded with
``wrk -t2 -c50 -d8s`` sending ``{}``; fnflow stores each call (SQLite, synchronous=FULL, or
with ``--postgres`` a throwaway PostgreSQL database as the tests find one: ``fnflow.testing.admin_url``)
before its 202, and runs the calls it accepted meanwhile. Also reports how fast the queue
drains: accepted calls completed per second. Needs ``wrk`` (``apt-get install wrk``).

    .venv/bin/python bench/async_accept.py [--duration 8] [--connections 50] [--postgres]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import httpx

from fnflow.testing import ServerProcess, free_port, throwaway_database

HERE = Path(__file__).parent
POST = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


def wrk(url: str, duration: int, connections: int) -> tuple[float, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(POST)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} requests were not accepted:\n{out}")
    return rate, p99.group(1) if p99 else "?"


def baseline(duration: int, connections: int) -> tuple[float, str]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "empty_asgi:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=HERE / "peers",
    )
    try:
        for _ in range(100):
            try:
                httpx.post(f"http://127.0.0.1:{port}/")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        return wrk(f"http://127.0.0.1:{port}/async-function/noop", duration, connections)
    finally:
        server.terminate()
        server.wait()


def fnflow(duration: int, connections: int, postgres: bool) -> tuple[float, str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="fnflow-bench-") as tmp,
        throwaway_database() if postgres else nullcontext() as db,
    ):
        root = Path(tmp)
        (root / "noop").mkdir()
        (root / "noop" / "index.py").write_text("def handler(event, context):\n    return b''\n")
        (root / "fnflow.yaml").write_text("functions:\n  - {name: noop, code: noop, maxInstances: 4}\n")
        server = ServerProcess(root, "--apply", str(root), db=db).start()
        try:
            rate, p99 = wrk(f"{server.url}/async-function/noop", duration, connections)
            began = time.perf_counter()
            accepted = int(rate * duration)
            while True:  # drain: wait until nothing is queued or running
                page = httpx.get(
                    f"{server.url}/api/v1/calls", params={"status": "Enqueued", "limit": 1}
                ).json()
                running = httpx.get(
                    f"{server.url}/api/v1/calls", params={"status": "Running", "limit": 1}
                ).json()
                if not page["calls"] and not running["calls"]:
                    break
                time.sleep(0.2)
            drained = accepted / max(duration + time.perf_counter() - began, 1e-9)
            return rate, p99, drained
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--postgres", action="store_true", help="store in PostgreSQL instead of SQLite")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    empty, empty_p99 = baseline(args.duration, args.connections)
    ours, ours_p99, drained = fnflow(args.duration, args.connections, args.postgres)
    store = "PostgreSQL" if args.postgres else "SQLite FULL"
    print(f"empty ASGI app (uvicorn):        {empty:9.0f} req/s  p99 {empty_p99}")
    print(f"fnflow /async-function accept:   {ours:9.0f} req/s  p99 {ours_p99}  (durable, {store})")
    print(f"ratio fnflow / empty app:        {ours / empty:.2f}")
    print(f"queue drained at about           {drained:9.0f} calls/s (accept and drain overlapping)")


if __name__ == "__main__":
    main()
