"""Before/after in one run: the server of another git revision against this tree's, alternately.

Exports ``REV``'s ``src/`` (``git archive``) and runs the chosen measures ``--rounds`` times with
each server in turn (A B A B ...), on the same machine in the same minutes, so a change is judged
by ratios that share their noise. The client side is always this tree's.

    .venv/bin/python bench/ab.py main [--what accept flows call] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import common
import flows
import gateway_call


def accept(seconds: int) -> float:
    with (
        tempfile.TemporaryDirectory() as tmp,
        common.server(common.noop_fixture(Path(tmp), service=None)) as s,
    ):
        result = common.wrk(f"{s.url}/async-function/noop", seconds, 50)
    assert result["non_2xx"] == 0, result
    return result["requests_per_s"]


def flow_rate(count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, common.server(flows.fixture(Path(tmp))) as s:
        return asyncio.run(flows.measure(s.url, count, 5))["executions_per_s"]


def call_p50(n: int) -> float:
    with (
        tempfile.TemporaryDirectory() as tmp,
        common.server(common.noop_fixture(Path(tmp), service=None)) as s,
    ):
        return common.percentile(gateway_call.over_http(s.url, n), 50) * 1e6


MEASURES: dict[str, tuple[str, Callable[[], float]]] = {
    "accept": ("accepted calls/s (wrk -c50, 8 s)", lambda: accept(8)),
    "flows": ("3-step executions/s (16 clients, 600)", lambda: flow_rate(600)),
    "call": ("/function/noop p50 µs (sequential)", lambda: call_p50(1000)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rev", help="the revision to compare against, e.g. main")
    parser.add_argument("--what", nargs="+", choices=sorted(MEASURES), default=["accept"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.rev, "src"], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        results: dict[str, dict[str, list[float]]] = {w: {"before": [], "after": []} for w in args.what}
        for _ in range(args.rounds):
            for side, source in (("before", f"{tmp}/src"), ("after", None)):
                if source:
                    os.environ["FNFLOW_BENCH_SERVER_SRC"] = source
                else:
                    os.environ.pop("FNFLOW_BENCH_SERVER_SRC", None)
                for what in args.what:
                    results[what][side].append(MEASURES[what][1]())
                    print(f"{what} {side}: {results[what][side][-1]:.0f}", flush=True)
    print(f"\n| measure | {args.rev} (before) | this tree (after) | after / before |\n|---|---|---|---|")
    for what, sides in results.items():
        before, after = statistics.median(sides["before"]), statistics.median(sides["after"])
        spread = " / ".join(f"{a / b:.2f}" for a, b in zip(sides["after"], sides["before"], strict=True))
        label = MEASURES[what][0]
        print(f"| {label} | {before:,.0f} | {after:,.0f} | {after / before:.2f} (rounds: {spread}) |")


if __name__ == "__main__":
    main()
