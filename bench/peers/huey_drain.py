"""Huey on SQLite: enqueue no-op tasks, then drain them with N worker threads (the baseline of
bench/drain.py, spec/peers.md §3). Runs in bench/.peers-venv so Huey never becomes a fnflow
dependency. Prints one JSON object: tasks/s enqueued and drained."""

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from huey import SqliteHuey

done = {"count": 0, "first": 0.0, "last": 0.0}
lock = threading.Lock()


def main(count: int, workers: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="huey-bench-"))
    huey = SqliteHuey("bench", filename=str(root / "huey.db"), results=False)

    @huey.task()
    def noop() -> None:
        now = time.perf_counter()
        with lock:
            done["count"] += 1
            done["first"] = done["first"] or now
            done["last"] = now

    began = time.perf_counter()
    for _ in range(count):
        noop()
    enqueued = count / (time.perf_counter() - began)

    consumer = huey.create_consumer(
        workers=workers,
        worker_type="thread",
        initial_delay=0.001,
        max_delay=0.001,
        periodic=False,
        check_worker_health=False,
    )
    began = time.perf_counter()
    consumer.start()
    deadline = time.monotonic() + 600
    while done["count"] < count and time.monotonic() < deadline:
        time.sleep(0.005)
    drained = done["count"] / (done["last"] - began)
    consumer.stop(graceful=True)
    print(json.dumps({"enqueue_per_s": enqueued, "drain_per_s": drained, "tasks": done["count"]}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
