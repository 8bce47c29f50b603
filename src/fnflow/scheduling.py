"""What the server's event loop wakes yields to it: Linux's SCHED_BATCH.

Under the default policy a process or thread that wakes preempts whatever runs on its CPU —
often the server's event loop, in the middle of the write that woke it, holding the GIL; the
loop then waits for a CPU while no thread of the server can run. SCHED_BATCH keeps the same
share of CPU (the same nice value) but takes that wake-up preemption away, so the loop
finishes its turn first. Under it run:

- function code: a worker sleeps between calls and the server's write of the next call wakes
  it. Draining no-op calls with four workers on two CPUs: 1.09-1.25x the calls per second, the
  server's involuntary context switches 0.6 → 0.05 a call (bench/README.md, fifteenth round);
- SQLite's COMMIT thread (``store/loop_writer.py``), which the loop wakes once a batch: the
  loop's involuntary context switches 0.4-0.6 → 0.05-0.08 a drained call, the server's CPU a
  call 0.94x, the drain 1.05x on a quiet machine (nineteenth round).

Not the event loop itself, nor PostgreSQL's writer threads: neither paid (bench/README.md).
Stdlib only: a worker imports this before user code.
"""

from __future__ import annotations

import contextlib
import os


def run_as_batch(pid: int = 0) -> None:
    """Put the process ``pid`` under SCHED_BATCH, or with 0 the calling thread (what it starts then
    inherits it); where that cannot be done (not Linux, the process is gone, or a sandbox refuses
    it), it keeps the policy it has."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return
    with contextlib.suppress(OSError):
        os.sched_setscheduler(pid, policy, os.sched_param(0))
