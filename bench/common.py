"""What every benchmark scenario shares: servers, peers, wrk, percentiles, tables and JSON results.

A scenario is a module in ``bench/`` with a ``NAME``, a ``TITLE`` and ``run(size) -> Result``;
``size`` is ``"tiny"`` (the smoke test), ``"default"`` (``make bench``) or ``"full"`` (the issue's
sizes, longer). ``bench/run.py`` runs them all; ``python bench/<scenario>.py`` runs one.
Every scenario measures its baseline in the same run: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from fnflow.functions.spec import FunctionSpec
from fnflow.store import Store, open_store
from fnflow.testing import ServerProcess, free_port

HERE = Path(__file__).parent
RESULTS = Path(os.environ.get("FNFLOW_BENCH_RESULTS", HERE / "results"))
PEERS_VENV = HERE / ".peers-venv"
#: what the peers' virtualenv holds (never fnflow's dependencies)
PEER_PACKAGES = ("dbos", "huey", "py-spy")
SIZES = ("tiny", "default", "full")

NOOP = "def handler(event, context):\n    return '{}'\n"
NOOP_FUNCTION = "  - {{{service}name: noop, handler: index.handler, code: noop, maxInstances: {instances}}}\n"


@dataclass
class Result:
    """One scenario's outcome: a table for people, ``metrics`` for machines (the JSON's keys)."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    metrics: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def as_json(self, size: str, seconds: float) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "title": self.title,
            "size": size,
            "seconds": round(seconds, 1),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "columns": self.columns,
            "rows": self.rows,
            "metrics": self.metrics,
            "notes": self.notes,
        }


def machine() -> dict[str, Any]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": load}


# --- numbers -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank); NaN of nothing."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


def ms(values: Sequence[float]) -> dict[str, float]:
    """p50 and p99 of durations in seconds, in milliseconds (rounded to 0.01 ms)."""
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
    }


def medians(results: Sequence[dict[str, float]]) -> dict[str, float]:
    """Of several runs' results, each key's median: what rounds of the same measure report."""
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 3) if theirs else math.nan


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return "-" if value is None else str(value)


# --- output --------------------------------------------------------------------------------------


def table(result: Result) -> str:
    """The result as a Markdown table (what the terminal and bench/results/latest.md show)."""
    lines = [f"### {result.title}", "", "| " + " | ".join(result.columns) + " |"]
    lines.append("|" + "---|" * len(result.columns))
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in result.rows]
    lines += [""] + [f"- {note}" for note in result.notes]
    return "\n".join(lines).rstrip() + "\n"


def write(result: Result, size: str, seconds: float, results: Path = RESULTS) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{result.name}.json"
    path.write_text(json.dumps(result.as_json(size, seconds), indent=2) + "\n")
    return path


def main(run: Callable[[str], Result]) -> None:
    """``python bench/<scenario>.py [--size tiny|default|full]``: run one scenario, print, write JSON."""
    parser = argparse.ArgumentParser(description=(sys.modules["__main__"].__doc__ or "").split("\n")[0])
    parser.add_argument("--size", choices=SIZES, default="default")
    parser.add_argument("--full", action="store_const", const="full", dest="size", help="--size full")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    began = time.perf_counter()
    result = run(args.size)
    print(table(result))
    print(f"-> {write(result, args.size, time.perf_counter() - began, args.results)}")


def pick(size: str, tiny: Any, default: Any, full: Any = None) -> Any:
    return {"tiny": tiny, "default": default}.get(size, default if full is None else full)


# --- servers -------------------------------------------------------------------------------------


def noop_fixture(
    root: Path,
    *,
    instances: int = 4,
    service: str | None = "bench",
    flows: dict[str, str] | None = None,
    extra: str = "",
) -> Path:
    """A manifest deploying the no-op function ``noop`` of ``service`` (None: the default service,
    so ``/function/noop`` calls it), and ``flows`` (name -> FDL text)."""
    (root / "noop").mkdir(parents=True, exist_ok=True)
    (root / "noop" / "index.py").write_text(NOOP)
    named = f"service: {service}, " if service else ""
    manifest = "functions:\n" + NOOP_FUNCTION.format(service=named, instances=instances)
    if flows:
        manifest += "flows:\n"
        for name, text in flows.items():
            (root / f"{name}.yaml").write_text(text)
            manifest += f"  - {{name: {name}, definition: {name}.yaml}}\n"
    (root / "fnflow.yaml").write_text(manifest + extra)
    return root


@contextmanager
def server(
    fixture: Path | None = None,
    *options: str,
    prepare: Callable[[Store], None] | None = None,
    db: str | None = None,
) -> Iterator[ServerProcess]:
    """A real ``fnflow server`` on a temporary directory (SQLite, synchronous=FULL, loopback; or the
    database ``db``) with more command-line ``options``; with ``prepare``, ``refill``-ed once before
    it is handed out."""
    with tempfile.TemporaryDirectory(prefix="fnflow-bench-") as tmp:
        args = ("--apply", str(fixture), *options) if fixture else options
        # bench/ab.py runs the server of another revision: its source first on the server's path
        source = os.environ.get("FNFLOW_BENCH_SERVER_SRC")
        env = {"PYTHONPATH": source} if source else None
        process = ServerProcess(Path(tmp) / "server", *args, env=env, db=db)
        process.start(timeout=60)
        try:
            if prepare is not None:
                refill(process, prepare)
            yield process
        finally:
            process.stop()


def refill(process: ServerProcess, prepare: Callable[[Store], None]) -> None:
    """Stop the server, hand its store to ``prepare`` (rows inserted directly: a large history, a
    queue of calls), start it again: what it serves then is a store it did not write itself."""
    process.stop()
    store = open_store(process.db)
    try:
        prepare(store)
    finally:
        store.close()
    process.start(timeout=120)


def noop_spec(code_dir: Path, instances: int = 4) -> FunctionSpec:
    """The no-op function as the warm pool runs it (``code_dir`` gets its index.py)."""
    (code_dir / "index.py").write_text(NOOP)
    return FunctionSpec("bench", "noop", "python3", "index.handler", code_dir, "c1", max_instances=instances)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else math.nan


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (its threads, not its children): a cost that,
    unlike a rate, barely moves when other programs share the CPUs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout}s")
        time.sleep(every)


# --- load generators and peers -------------------------------------------------------------------

_POST = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk(url: str, seconds: int, connections: int, *, post: bool = True) -> dict[str, float]:
    """Requests/s, p99 (ms) and non-2xx count of ``wrk -t2`` against ``url``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_POST if post else "")
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "requests_per_s": float(rate.group(1)) if rate else math.nan,
        "p99_ms": float(p99.group(1)) * unit[p99.group(2)] if p99 else math.nan,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


@contextmanager
def empty_app() -> Iterator[str]:
    """The ceiling of any ASGI app on this stack (bench/peers/empty_asgi.py under uvicorn); its URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "empty_asgi:app", "--port", str(port)]
    quiet = ["--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen([*command, *quiet], cwd=HERE / "peers")
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.post(url, timeout=1).status_code == 202
            except httpx.HTTPError:
                return False

        wait_for(up, 30, "the empty ASGI app", every=0.05)
        yield url
    finally:
        process.terminate()
        process.wait()


def peers_python() -> Path:
    """The Python of ``bench/.peers-venv`` (DBOS, Huey, py-spy), created on first use."""
    python = PEERS_VENV / "bin" / "python"
    stamp = PEERS_VENV / ".installed"
    if not stamp.exists():
        print("installing the peers into bench/.peers-venv (first run only) ...", file=sys.stderr)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
        stamp.write_text(" ".join(PEER_PACKAGES) + "\n")
    return python


def run_peer(script: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``bench/peers/<script>`` in the peers' virtualenv; the JSON object its last line prints."""
    out = subprocess.run(
        [str(peers_python()), str(HERE / "peers" / script), *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def history(client: httpx.Client, flow: str, name: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/flows/{flow}/executions/{name}/history")
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def event_time(events: list[dict[str, Any]], type_: str, step: str) -> float:
    """Epoch seconds of the first event of ``type_`` at ``step`` (the API gives milliseconds)."""
    for event in events:
        if event["type"] == type_ and event["stepName"] == step:
            return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
    raise LookupError(f"no {type_} event for step {step!r}: {[e['type'] for e in events]}")
