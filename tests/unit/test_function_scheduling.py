"""Function code runs under SCHED_BATCH (``fnflow.scheduling``), so that a worker woken
by its next call does not preempt the server; ``FNFLOW_FUNCTION_SCHEDULING=normal`` leaves it the
server's policy. Real workers and commands report their own policy and their child's; the
server's setting through a real ``fnflow server``: tests/e2e/test_runtimes.py."""

from __future__ import annotations

import json
import os
import sys

import pytest
from typer.testing import CliRunner

from fnflow.cli import app
from fnflow.config import Settings
from tests.unit.functions_harness import FIXTURES, async_test, ctx, running_pool, spec

POLICY = {True: os.SCHED_BATCH, False: os.SCHED_OTHER}
COMMAND = FIXTURES / "command"


@pytest.mark.parametrize("batch", [True, False])
@async_test
async def test_a_worker_and_what_it_starts_run_under_the_pools_policy(batch: bool) -> None:
    async with running_pool(batch=batch) as pool:
        result = await pool.invoke(spec("index.policy"), b"", ctx())
    assert json.loads(result.body) == {"worker": POLICY[batch], "child": POLICY[batch]}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the server's own policy is left alone


@pytest.mark.parametrize("batch", [True, False])
@async_test
async def test_a_command_and_what_it_starts_run_under_the_pools_policy(batch: bool) -> None:
    command = spec("", COMMAND, runtime="command", command=f"{sys.executable} tool.py policy")
    async with running_pool(batch=batch) as pool:
        result = await pool.invoke(command, b"x", ctx())
    assert json.loads(result.body) == {"command": POLICY[batch], "child": POLICY[batch]}


def test_fnflow_function_scheduling_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().function_scheduling == "batch"
    monkeypatch.setenv("FNFLOW_FUNCTION_SCHEDULING", " Normal ")
    assert Settings.from_env().function_scheduling == "normal"
    monkeypatch.setenv("FNFLOW_FUNCTION_SCHEDULING", "fifo")
    with pytest.raises(ValueError, match="FNFLOW_FUNCTION_SCHEDULING must be one of batch, normal"):
        Settings.from_env()


def test_fnflow_server_refuses_an_unknown_policy_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNFLOW_FUNCTION_SCHEDULING", "fifo")
    result = CliRunner().invoke(app, ["server", "--port", "1"])
    assert result.exit_code == 2
    assert result.output.strip() == "fnflow: FNFLOW_FUNCTION_SCHEDULING must be one of batch, normal"
