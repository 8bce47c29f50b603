"""Running the task attempts steps schedule: each goes to the integration of its kind, and the
event it answers is applied.

Delivery is at least once: a task row stays in the store, leased to this node, until its
result is committed together with the engine decision it causes. If the process dies in
between, the task runs again after a restart (see docs/durability.md), so what a flow calls
should tolerate a repeat (integrations key what they start by the attempt).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fnflow.engine import Event, TaskSubmitted, TaskSucceeded
from fnflow.integrations import Integrations, Task
from fnflow.metrics import Metrics
from fnflow.store import TaskRecord

log = logging.getLogger(__name__)

Apply = Callable[[str, Event, int], Awaitable[Any]]


class TaskRunner:
    """Runs leased tasks with bounded parallelism and applies their results."""

    def __init__(
        self,
        integrations: Integrations,
        apply: Apply,
        *,
        parallelism: int = 64,
        metrics: Metrics,
        on_free: Callable[[], None] = lambda: None,
    ) -> None:
        self._integrations = integrations
        self._on_free = on_free
        self._metrics = metrics
        self._apply = apply
        self._slots = asyncio.Semaphore(parallelism)
        self.held: dict[tuple[str, int], asyncio.Task[None]] = {}

    def submit(self, task: TaskRecord) -> None:
        key = (task.execution_id, task.activity)
        if key not in self.held:
            self.held[key] = asyncio.create_task(self._run(task), name=f"task {key}")

    async def close(self) -> None:
        for running in list(self.held.values()):
            running.cancel()
        await asyncio.gather(*self.held.values(), return_exceptions=True)
        self.held.clear()

    async def _run(self, record: TaskRecord) -> None:
        key = (record.execution_id, record.activity)
        try:
            async with self._slots:
                task = Task.from_record(record)
                event = await self._integrations.of(task.target).submit(task)
            outcome = {TaskSucceeded: "succeeded", TaskSubmitted: "submitted"}.get(type(event), "failed")
            self._metrics.task_attempts.labels(record.kind, outcome).inc()
            await self._apply(record.execution_id, event, record.activity)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease stays with us until it expires; a restart or a peer retries the task.
            log.exception(
                "task %s of execution %s could not be completed", record.activity, record.execution_id
            )
        finally:
            self.held.pop(key, None)
            self._on_free()
