"""Benchmark scenarios run at their tiny size and write their JSON with the keys the README and
tools read. Speed is never asserted (the numbers of a tiny run mean nothing).

Each scenario starts servers of its own (about 20 s each on two busy cores), so ``make test`` runs
two of them; ``FNFLOW_BENCH_SMOKE=1`` runs every one this machine can run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
PEERS = BENCH / ".peers-venv" / ".installed"
EXPECTED = {
    "async_accept": {
        "empty_requests_per_s",
        "fnflow_requests_per_s",
        "fnflow_p99_ms",
        "fnflow_non_2xx",
        "ratio",
    },
    "flows": {"fnflow_executions_per_s", "dbos_sequential_per_s", "dbos_start_workflow_per_s", "ratio"},
    "drain": {"fnflow_drain_per_s", "huey_drain_per_s", "workers", "ratio"},
    "callback": {"idle_p50_ms", "idle_p99_ms", "busy16_p50_ms", "busy16_p99_ms"},
    "timers": {"waits", "lateness_p50_ms", "lateness_p99_ms"},
    "scale": {"empty_rss_mb", "large_rss_mb", "large_describe_p99_ms", "large_list_p99_ms", "start_ratio"},
    "gateway_call": {"direct_p50_us", "pool_p50_us", "gateway_p50_us", "gateway_overhead_us"},
    "cold_start": {"cold_p50_ms", "cold_p99_ms", "warm_p50_ms", "warm_p99_ms"},
}
NEEDS = {"async_accept": "wrk", "flows": "peers", "drain": "peers"}
SHORT = ("callback", "cold_start")  # a store-bound hot path and a function-bound one
CHOSEN = sorted(EXPECTED) if os.environ.get("FNFLOW_BENCH_SMOKE") == "1" else SHORT


def missing(scenario: str) -> str | None:
    """Why ``scenario`` cannot run here (None: it can)."""
    need = NEEDS.get(scenario)
    if need == "wrk" and shutil.which("wrk") is None:
        return "wrk is not installed (apt-get install wrk; make bench installs it)"
    if need == "peers" and not PEERS.exists():
        return "DBOS and Huey are not in bench/.peers-venv (make bench installs them; tests use no network)"
    return None


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny run of every scenario that can run here (one process: ``bench/run.py``)."""
    where = tmp_path_factory.mktemp("bench-results")
    runnable = [name for name in CHOSEN if missing(name) is None]
    command = [sys.executable, str(BENCH / "run.py"), *runnable, "--size", "tiny", "--results", str(where)]
    subprocess.run(command, check=True, timeout=600)
    return where


def test_every_scenario_is_checked() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from run import SCENARIOS  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(BENCH))
    assert set(SCENARIOS) == set(EXPECTED)


@pytest.mark.parametrize("scenario", CHOSEN)
def test_scenario_writes_its_results(scenario: str, results: Path) -> None:
    reason = missing(scenario)
    if reason:
        pytest.skip(reason)
    result = json.loads((results / f"{scenario}.json").read_text())
    assert result["scenario"] == scenario and result["size"] == "tiny"
    assert EXPECTED[scenario] <= set(result["metrics"]), set(result["metrics"])
    assert result["rows"] and all(len(row) == len(result["columns"]) for row in result["rows"])
