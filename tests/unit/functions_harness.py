"""What the function runtime tests share: fixtures, a pool per test, specs, waiting on processes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec

from fnflow.functions.pool import FunctionPool
from fnflow.functions.spec import FunctionSpec, InvocationContext

FIXTURES = Path(__file__).resolve().parent.parent / "functions_fixtures"
BASIC = FIXTURES / "basic"
CRASH = re.compile(
    r"^Process exited unexpectedly before completing request"
    r" \(duration: \d+ms, maxMemoryUsage: \d+\.\d\dMB\)$"
)

P = ParamSpec("P")


def async_test(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@contextlib.asynccontextmanager
async def running_pool(**options: Any) -> AsyncIterator[FunctionPool]:
    pool = FunctionPool(**options)
    try:
        yield pool
    finally:
        await pool.close()


def spec(handler: str = "index.echo", code: Path | None = BASIC, **overrides: Any) -> FunctionSpec:
    fields: dict[str, Any] = {
        "service": "svc",
        "name": "fn",
        "runtime": "python3",
        "handler": handler,
        "code_dir": code,
        "checksum": code.name if code else "",
        **overrides,
    }
    return FunctionSpec(**fields)


def ctx(request_id: str = "req-1", **fields: str) -> InvocationContext:
    return InvocationContext(request_id, **fields)


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def max_overlap(directory: Path) -> int:
    runs = [json.loads(p.read_text()) for p in directory.glob("*.json")]
    edges = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])  # an end sorts first
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak
