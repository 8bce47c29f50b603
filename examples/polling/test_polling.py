"""End-to-end: the polling example (FunctionFlow best practice 1) against a real server.

The flow waits 10 s between status checks, as the guide's does; the three executions run
side by side, so the test takes as long as the longest (four checks, about 40 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, steps, wait

HERE = Path(__file__).parent


@pytest.mark.slow
def test_polls_until_done_or_gives_up(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--apply", str(HERE)).start()
    try:
        quick = start(server.url, "poll-job", {"delay": 1})["name"]  # done at the first check
        slower = start(server.url, "poll-job", {"delay": 12})["name"]  # done at the second check
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
    finally:
        server.stop()
