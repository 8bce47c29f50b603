"""Before/after in one run: the server of another git revision against this tree's, alternately.

Exports ``REV``'s ``src/`` (``git archive``) and runs the chosen measures ``--rounds`` times with
each server in turn (A B A B ...), on the same machine in the same minutes, so a change is judged
by ratios that share their noise. The client side is always this tree's.

    .venv/bin/python bench/ab.py main [--what accept alone port portdrain flows pgflows pgfar drain
                                          call callback]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import async_accept
import callback
import common
import drain
import flows
import gateway_call

from fnflow.testing import NoPostgres, free_port


def accept(seconds: int, function: str = "noop", *, port: bool = False) -> tuple[float, float]:
    """(accepted calls/s, server CPU µs per accepted call) of calls of ``function``: ``noop`` runs
    them meanwhile, ``slow`` (one a second) measures the accept path alone; with ``port``, on
    ``--accept-port`` (async_accept's fronts; the CPU is the server's, not the fronts')."""
    front = free_port()
    options = ("--accept-port", str(front), "--accept-processes", str(async_accept.FRONTS)) if port else ()
    with (
        tempfile.TemporaryDirectory() as tmp,
        common.server(
            common.noop_fixture(Path(tmp), service=None, extra=async_accept.slow(Path(tmp))), *options
        ) as s,
    ):
        assert s.process is not None
        url = f"http://127.0.0.1:{front}" if port else s.url
        cpu = common.cpu_seconds(s.process.pid)
        result = common.wrk(f"{url}/async-function/{function}", seconds, 50)
        cpu = common.cpu_seconds(s.process.pid) - cpu
    assert result["non_2xx"] == 0, result
    return result["requests_per_s"], cpu * 1e6 / (result["requests_per_s"] * seconds)


def drain_rate(count: int) -> tuple[float, float]:
    """(calls drained/s, server CPU µs per call) of ``count`` calls waiting when the server starts."""
    with tempfile.TemporaryDirectory() as tmp:
        fixture = common.noop_fixture(Path(tmp), instances=drain.WORKERS)
        with common.server(fixture, prepare=drain.queued(count)) as s:
            assert s.process is not None
            cpu = common.cpu_seconds(s.process.pid)
            db = Path(s.db.removeprefix("sqlite:///"))
            common.wait_for(lambda: drain.counts(db)[1] == 0, 600, "the queue to drain", every=0.1)
            cpu = common.cpu_seconds(s.process.pid) - cpu
            done, _, seconds = drain.counts(db)
    return done / seconds, cpu * 1e6 / done


def flow_rate(count: int, db: str | None = None) -> tuple[float, float]:
    """(executions/s, server CPU ms per execution), on SQLite or the database ``db``."""
    with tempfile.TemporaryDirectory() as tmp, common.server(flows.fixture(Path(tmp)), db=db) as s:
        assert s.process is not None
        cpu = common.cpu_seconds(s.process.pid)
        rate = flows.measure(s.url, count, 5)["executions_per_s"]
        cpu = common.cpu_seconds(s.process.pid) - cpu
    # measure() also runs 10 + 5 one after another, and each client process 2 to warm up
    return rate, cpu * 1000 / (count + 15 + 2 * flows.PROCESSES)


def pg_flow_rate(count: int, delay_ms: float | None = None) -> tuple[float, float]:
    """``flow_rate`` on a fresh PostgreSQL database (through a proxy holding each packet
    ``delay_ms`` each way: a network, ``netdelay.py``)."""
    try:
        with flows.postgres(delay_ms) as db:
            return flow_rate(count, db)
    except NoPostgres:
        raise SystemExit("pgflows needs PostgreSQL (FNFLOW_TEST_PG, or one on 127.0.0.1:5432)") from None


def call_p50(n: int) -> float:
    with (
        tempfile.TemporaryDirectory() as tmp,
        common.server(common.noop_fixture(Path(tmp), service=None)) as s,
    ):
        return common.percentile(gateway_call.over_http(s.url, n), 50) * 1e6


def callback_p50(count: int) -> tuple[float, float]:
    """(callback → next step p50 ms with 16 executions at once, server CPU ms per execution)."""
    with tempfile.TemporaryDirectory() as tmp:
        fixture = common.noop_fixture(Path(tmp), flows={"callback": callback.FLOW}, extra=callback.QUEUE)
        with common.server(fixture) as s:
            assert s.process is not None
            cpu = common.cpu_seconds(s.process.pid)
            latencies = callback.at_once(s.url, count)
            cpu = common.cpu_seconds(s.process.pid) - cpu
    return common.percentile(latencies, 50) * 1000, cpu * 1000 / count


FLOW_LABELS = ("3-step executions/s (16 clients, 600)", "server CPU ms per execution")
#: what --what names: each runs once per round and side, giving one or more labelled numbers
MEASURES: dict[str, Callable[[], dict[str, float]]] = {
    "accept": lambda: dict(
        zip(("accepted calls/s (wrk -c50, 8 s)", "server CPU µs per accepted call"), accept(8), strict=True)
    ),
    "alone": lambda: dict(
        zip(
            ("accepted calls/s alone (wrk -c50, 8 s)", "server CPU µs per accepted call alone"),
            accept(8, "slow"),
            strict=True,
        )
    ),
    "port": lambda: dict(
        zip(
            ("accepted calls/s on --accept-port (wrk -c50, 8 s)", "server CPU µs per call on --accept-port"),
            accept(8, "slow", port=True),
            strict=True,
        )
    ),
    "portdrain": lambda: dict(
        zip(
            (
                "accepted calls/s on --accept-port, running them",
                "server CPU µs per call on --accept-port, running",
            ),
            accept(8, port=True),
            strict=True,
        )
    ),
    "drain": lambda: dict(
        zip(
            ("calls drained/s (10,000 calls, 4 instances)", "server CPU µs per call"),
            drain_rate(10_000),
            strict=True,
        )
    ),
    "flows": lambda: dict(zip(FLOW_LABELS, flow_rate(600), strict=True)),
    "pgflows": lambda: dict(
        zip(
            ("3-step executions/s on PostgreSQL (16 clients, 600)", "server CPU ms an execution, PostgreSQL"),
            pg_flow_rate(600),
            strict=True,
        )
    ),
    "pgfar": lambda: dict(
        zip(
            (
                f"3-step executions/s on PostgreSQL {flows.NETWORK_MS:g} ms away (16 clients, 300)",
                "server CPU ms per execution on PostgreSQL far away",
            ),
            pg_flow_rate(300, flows.NETWORK_MS),
            strict=True,
        )
    ),
    "call": lambda: {"/function/noop p50 µs (sequential)": call_p50(1000)},
    "callback": lambda: dict(
        zip(
            ("callback → next step p50 ms (16 at once, 400)", "server CPU ms per execution (callback)"),
            callback_p50(400),
            strict=True,
        )
    ),
}


def export(rev: str, where: Path) -> str:
    """``rev``'s ``src/`` in ``where``; the directory to put first on the server's path."""
    git = ["git", "-C", str(common.HERE.parent), "archive", rev, "src"]
    archive = subprocess.run(git, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(where, filter="data")
    return str(where / "src")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rev", help="the revision to compare against, e.g. main")
    parser.add_argument("after", nargs="?", help="a revision to run instead of this tree")
    parser.add_argument("--what", nargs="+", choices=sorted(MEASURES), default=["accept"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"before": export(args.rev, Path(tmp) / "before")}
        sources["after"] = export(args.after, Path(tmp) / "after") if args.after else None
        results: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.rounds):
            for side, source in sources.items():
                if source:
                    os.environ["FNFLOW_BENCH_SERVER_SRC"] = source
                else:
                    os.environ.pop("FNFLOW_BENCH_SERVER_SRC", None)
                for what in args.what:
                    for label, value in MEASURES[what]().items():
                        results.setdefault(label, {"before": [], "after": []})[side].append(value)
                        print(f"{label}, {side}: {value:.0f}", flush=True)
    name = args.after or "this tree"
    print(
        f"\n| measure | {args.rev} (before) | {name} (after) | after / before: medians"
        " | median of the rounds' ratios (rounds) |\n|---|---|---|---|---|"
    )
    for label, sides in results.items():
        before, after = statistics.median(sides["before"]), statistics.median(sides["after"])
        # Each round's sides share their minute's noise: the median of the rounds' ratios is the
        # steadier figure when the machine's speed drifts across the run.
        ratios = [a / b for a, b in zip(sides["after"], sides["before"], strict=True)]
        spread = " / ".join(f"{r:.2f}" for r in ratios)
        print(
            f"| {label} | {before:,.0f} | {after:,.0f} | {after / before:.2f}"
            f" | {statistics.median(ratios):.2f} ({spread}) |"
        )


if __name__ == "__main__":
    main()
