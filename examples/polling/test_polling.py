"""End-to-end: the polling example (FunctionFlow best practice 1) against a real server.

The flow waits 10 s between status checks, as the guide's does: with ``--long`` (``tests/long.py``)
the test runs it as it is, and the slowest of its three executions, side by side, takes four checks
(about 40 s). By default it runs a copy whose only change is a 3 s wait: the same real server,
functions, timers, choice and backward goto, in about 12 s. The jobs' delays are in proportion, so
each still ends at the same check: ``quick`` at the first (and only if the wait really passed), the
``slower`` at the second, ``never`` after four. That the shipped flow waits 10 s is checked in
virtual time by ``flow.test.yaml`` (``examples/test_flow_tests.py``).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, steps, wait
from tests.long import long_tests

HERE = Path(__file__).parent
# (seconds of each wait, the slower job's delay): it must be done at the second check, not the first
WAIT, SLOWER = (10, 12) if long_tests() else (3, 4.5)


def example(tmp_path: Path) -> Path:
    """The example's directory; by default a copy whose wait is ``WAIT`` seconds."""
    if WAIT == 10:
        return HERE
    copy = tmp_path / "polling"
    shutil.copytree(HERE, copy, ignore=shutil.ignore_patterns("__pycache__", "test_*.py"))
    flow = copy / "flow.yaml"
    text = flow.read_text()
    assert text.count("duration: 10\n") == 1, "the example's wait changed: change this test with it"
    flow.write_text(text.replace("duration: 10\n", f"duration: {WAIT}\n"))
    return copy


@pytest.mark.slow
def test_polls_until_done_or_gives_up(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server", "--apply", str(example(tmp_path))).start()
    try:
        began = time.monotonic()
        quick = start(server.url, "poll-job", {"delay": 1})["name"]  # done at the first check
        slower = start(server.url, "poll-job", {"delay": SLOWER})["name"]  # done at the second check
        never = start(server.url, "poll-job", {"delay": 3600})["name"]  # still running after four checks

        done = wait(server.url, "poll-job", quick, timeout=60)
        assert done["status"] == "Succeeded"
        assert done["output"]["job_status"] == "success" and done["output"]["try_count"] == 1

        done = wait(server.url, "poll-job", slower, timeout=60)
        assert done["status"] == "Succeeded" and done["output"]["try_count"] == 2
        events = history(server.url, "poll-job", slower)
        assert steps(events, "StepEntered") == [
            "StartJob", "Init", "Wait10s", "GetJobStatus", "CheckJobComplete",
            "Wait10s", "GetJobStatus", "CheckJobComplete", "JobSucceeded",
        ]  # fmt: skip

        failed = wait(server.url, "poll-job", never, timeout=90)
        assert (failed["status"], failed["error"]) == ("Failed", "JobFailed")
        assert steps(history(server.url, "poll-job", never), "TaskScheduled").count("GetJobStatus") == 4
        assert time.monotonic() - began >= 4 * WAIT, "four checks, each after a real wait"
    finally:
        server.stop()
