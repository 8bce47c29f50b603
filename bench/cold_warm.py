"""Cold vs warm (reserved) function calls, side by side in one run: p50 and p99 latency.

Starts a real ``fnflow server`` on a temporary directory and calls one python3 function through
the gateway (``POST /function/…``), as a client sees it:

  cold    every call starts a new worker process: before each call the function is redeployed
          with a changed environment variable, so no instance of that code is running (the
          redeploy is not timed; the call is)
  warm    the function has reserved instances (``minInstances``, kept started and never stopped
          for idleness): every call finds a started worker
  alias   the same through a published version and an alias (``/function/f.svc.prod``), whose
          worker is warm after its first call

    .venv/bin/python bench/cold_warm.py [--cold 30] [--warm 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from fnflow.client import Client
from fnflow.testing import ServerProcess

HANDLER = (
    "import json\nimport logging\n\n\ndef handler(event, context):\n"
    "    logging.getLogger().info('Started function test')\n    return json.dumps({'success': True})\n"
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(http: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = http.post(path, content=b"{}")
    took = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    return took


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cold", type=int, default=30, help="cold calls")
    parser.add_argument("--warm", type=int, default=300, help="warm calls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        code = root / "code"
        code.mkdir()
        (code / "index.py").write_text(HANDLER)
        server = ServerProcess(root / "server").start()
        try:
            with (
                Client(server.url, api_key="") as client,
                httpx.Client(base_url=server.url, timeout=60) as http,
            ):
                cold: list[float] = []
                for i in range(args.cold):
                    client.deploy_function("provision", code, service="bench", environment={"ROUND": str(i)})
                    cold.append(timed(http, "/function/provision.bench"))
                client.deploy_function("reserved", code, service="bench", min_instances=1)
                timed(http, "/function/reserved.bench")  # its worker has started
                warm = [timed(http, "/function/reserved.bench") for _ in range(args.warm)]
                client.publish_version("bench")
                client.set_alias("bench", "prod", client.list_versions("bench")[0].version_id)
                first = timed(http, "/function/reserved.bench.prod")
                alias = [timed(http, "/function/reserved.bench.prod") for _ in range(args.warm)]
        finally:
            server.stop()
    rows = [
        (f"cold (new worker per call, n={len(cold)})", cold),
        (f"warm (reserved instance, n={len(warm)})", warm),
        (f"alias prod -> version, warm (n={len(alias)})", alias),
    ]
    print(f"{'':48} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9}")
    for name, values in rows:
        p50, p99, mean = percentile(values, 50), percentile(values, 99), statistics.fmean(values)
        print(f"{name:48} {p50 * 1000:9.1f} {p99 * 1000:9.1f} {mean * 1000:9.1f}")
    ratio = percentile(cold, 50) / percentile(warm, 50)
    print(f"\ncold / warm p50: {ratio:.1f}x   (alias's first call, cold: {first * 1000:.1f} ms)")


if __name__ == "__main__":
    sys.exit(main())
