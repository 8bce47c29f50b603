"""A write that returned survives ``kill -9`` of the process that made it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from fnflow.store import Store

ROOT = Path(__file__).resolve().parents[2]

# Writes one setting at a time and says so only after ``write_sync`` returned; never stops by itself.
CHILD = """
import sys
from fnflow.store import open_store

store = open_store(sys.argv[1])
print("open", flush=True)
i = 0
while True:
    store.write_sync(lambda tx: tx.set_setting(f"k{i}", str(i)))
    print(i, flush=True)
    i += 1
"""

WRITES = 25


def test_a_returned_write_survives_kill_9(
    store: Store, database_url: str, open_again: Callable[[], Store]
) -> None:
    store.close()  # the child is the only writer
    acknowledged = -1
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        try:
            first = child.stdout.readline()
            assert first == "open\n", first + child.stderr.read()
            for line in child.stdout:
                acknowledged = int(line)
                if acknowledged == WRITES - 1:
                    os.kill(child.pid, signal.SIGKILL)  # right after a write returned, into the next one
                    break
        finally:
            child.kill()
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert acknowledged == WRITES - 1
    reopened = open_again()
    stored = reopened.read_sync(lambda tx: [tx.get_setting(f"k{i}") for i in range(WRITES)])
    assert stored == [str(i) for i in range(WRITES)]
