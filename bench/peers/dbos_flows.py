"""DBOS on SQLite: workflows of three no-op steps (the baseline of bench/flows.py).

Runs in its own virtualenv (bench/flows.py creates it) so DBOS never becomes a fnflow
dependency. Prints one JSON object: workflows/s for each way of running them.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

from dbos import DBOS, DBOSConfig


def main(count: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="dbos-bench-"))
    config: DBOSConfig = {"name": "bench", "system_database_url": f"sqlite:///{root / 'dbos.sqlite'}"}
    DBOS(config=config)

    @DBOS.step()
    def noop(i: int) -> int:
        return i

    @DBOS.workflow()
    def three_steps(i: int) -> int:
        return noop(i) + noop(i) + noop(i)

    DBOS.launch()
    for i in range(20):  # warm up
        three_steps(i)

    started = time.perf_counter()
    for i in range(count):
        three_steps(i)
    sequential = count / (time.perf_counter() - started)

    started = time.perf_counter()
    handles = [DBOS.start_workflow(three_steps, i) for i in range(count)]
    for handle in handles:
        handle.get_result()
    concurrent = count / (time.perf_counter() - started)

    print(json.dumps({"sequential": sequential, "start_workflow": concurrent}))
    DBOS.destroy()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
