"""Run every benchmark scenario (``make bench``), each with its baseline in the same run.

Prints each scenario's table, writes ``bench/results/<scenario>.json`` and, for the README,
``bench/results/latest.md`` (every table of this run). Loopback only; each scenario is bounded.

    .venv/bin/python bench/run.py [SCENARIO ...] [--size tiny|default|full] [--results DIR]
"""

from __future__ import annotations

import argparse
import importlib
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import common

#: in the order they run (and appear in latest.md)
SCENARIOS = ("async_accept", "flows", "drain", "callback", "timers", "scale", "gateway_call", "cold_start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    parser.add_argument("--size", choices=common.SIZES, default="default")
    parser.add_argument("--full", action="store_const", const="full", dest="size", help="--size full")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    args = parser.parse_args()
    chosen = args.scenarios or SCENARIOS
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"no such scenario: {', '.join(sorted(unknown))}")
    tables, failed = [], []
    for name in chosen:
        module = importlib.import_module(name)
        print(f"== {name}: {module.TITLE}", flush=True)
        began = time.perf_counter()
        try:
            result = module.run(args.size)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        seconds = time.perf_counter() - began
        common.write(result, args.size, seconds, args.results)
        tables.append(common.table(result))
        print(tables[-1] + f"({seconds:.0f} s)\n", flush=True)
    if len(chosen) == len(SCENARIOS):
        machine = common.machine()
        header = (
            f"# Latest benchmark run\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, size {args.size}, "
            f"{machine['cpus']} CPUs, Python {machine['python']}, load average {machine['load_average']:.1f} "
            "at the end. Reproduce with `make bench`.\n\n"
        )
        (args.results / "latest.md").write_text(header + "\n".join(tables))
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
