"""Firing schedule ticks on time, in every server process, each tick once.

One asyncio task per process sleeps until the earliest ``next_fire_at`` it knows of. It wakes
early when a schedule changes: in this process directly, in others through ``NOTIFY`` on
PostgreSQL; a re-scan every ``rescan`` seconds is the safety net for a missed notification.

A due tick is one write job: move the schedule's ``next_fire_at`` on from the value read
(compare-and-set) and, only if that succeeded, start the execution in the same transaction.
Of several processes that see the same tick, exactly one moves it on; the others find it moved
and do nothing. The execution's name is made of the schedule's and the tick's, so even a tick
fired twice would find its execution already there instead of starting another.

After a stop, a schedule that missed ticks fires once, for the latest one missed, and then
keeps its rhythm: ``every minute`` after an hour down starts one execution, not sixty. A schedule
whose ``missed_ticks`` is ``skip`` fires none of them: when the tick it was waiting for is more
than ``LATE`` seconds past, it just moves on to its next tick after now.

Functions' timer triggers are fired the same way, by the same loop (``fnflow.schedules.timers``):
a tick is an asynchronous call of the function, which the dispatcher is told about.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fnflow.clock import SYSTEM_CLOCK, Clock
from fnflow.errors import Conflict, NotFound
from fnflow.runtime import Runtime
from fnflow.runtime.decisions import Outcome
from fnflow.schedules import timers
from fnflow.schedules.cron import parse
from fnflow.store import ScheduleRecord, Store, TriggerRecord, Tx

log = logging.getLogger(__name__)

CHANNEL = "fnflow_schedules"  # NOTIFY channel: a schedule was created, changed or deleted
MISSED_TICKS = ("fireOnce", "skip")  # what a schedule does with the ticks it missed
LATE = 3.0  # seconds after its time a tick counts as missed (for ``skip``)
_NAME_MAX = 128
_STAMP = "%Y%m%dT%H%M%SZ"


def execution_name(schedule: str, tick: datetime) -> str:
    """``<schedule>-<tick in UTC>``, e.g. ``nightly-20240301T040000Z``; a long schedule name is
    shortened with a hash of it, so the name stays unique and within 128 characters."""
    stamp = tick.astimezone(UTC).strftime(_STAMP)
    room = _NAME_MAX - len(stamp) - 1
    if len(schedule) > room:
        digest = hashlib.sha256(schedule.encode()).hexdigest()[:8]
        schedule = f"{schedule[: room - len(digest) - 1]}-{digest}"
    return f"{schedule}-{stamp}"


class Scheduler:
    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        *,
        rescan: float = 10.0,
        batch: int = 100,
        on_calls: Callable[[], None] = lambda: None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._clock = clock
        """``on_calls``: timers stored calls that nobody holds yet (tell the dispatcher)."""
        self.store = store
        self.runtime = runtime
        self._on_calls = on_calls
        self._rescan = rescan
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unlisten: Callable[[], None] = lambda: None

    async def open(self) -> None:
        self._unlisten = self.store.listen([CHANNEL], lambda _channel, _payload: self.wake())
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def close(self) -> None:
        self._unlisten()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        """Look at the schedules again now (one was created, changed or deleted)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before reading: a change during this pass wakes the next at once
            try:
                delay = await self._pass()
            except Exception:
                log.exception("the scheduler failed; trying again in %.0f s", self._rescan)
                delay = self._rescan
            if delay > 0:
                await self._clock.wait(self._wake, delay)

    async def _pass(self) -> float:
        """Fire what is due; return how long to sleep (until the next tick, at most ``rescan``)."""
        now = self._clock.now()
        horizon = now + timedelta(seconds=self._rescan)
        upcoming: list[ScheduleRecord | TriggerRecord]
        upcoming = await self.store.read(
            lambda tx: [*tx.due_schedules(horizon, self._batch), *tx.due_triggers(horizon, self._batch)]
        )
        due = [s for s in upcoming if s.next_fire_at is not None and s.next_fire_at <= now]
        results = await asyncio.gather(*(self._fire(s) for s in due), return_exceptions=True)
        for item, result in zip(due, results, strict=True):
            if isinstance(result, BaseException):
                what = (
                    f"schedule {item.name} of flow {item.flow_name}"
                    if isinstance(item, ScheduleRecord)
                    else f"timer {item.name} of function {item.service}/{item.function}"
                )
                log.error("%s did not fire: %s", what, result)
        if any(isinstance(r, BaseException) for r in results):
            return 1.0  # those ticks stay due: try again soon, without spinning
        if due:
            return 0.0  # read again: those have new next ticks, and more may be due
        wake_at = min((s.next_fire_at for s in upcoming if s.next_fire_at is not None), default=horizon)
        return max(0.0, (wake_at - self._clock.now()).total_seconds())

    async def _fire(self, item: ScheduleRecord | TriggerRecord) -> None:
        if isinstance(item, TriggerRecord):
            call = await self.store.write(lambda tx: timers.fire(tx, item, self._clock.now()))
            if call is not None:
                log.info(
                    "timer %s called function %s/%s (call %s)",
                    item.name,
                    item.service,
                    item.function,
                    call.id,
                )
                self._on_calls()
            return
        schedule = item
        outcome = await self.runtime.commit(lambda tx: self._fire_job(tx, schedule))
        if outcome.applied and outcome.execution is not None:
            log.info("schedule %s started execution %s", schedule.name, outcome.execution.name)

    def _fire_job(self, tx: Tx, schedule: ScheduleRecord) -> Outcome:
        """Claim the tick (compare-and-set) and start its execution, in one transaction."""
        expected = schedule.next_fire_at
        assert expected is not None
        now = self._clock.now()
        # Stored expressions were checked when they were put; a test server may have allowed more.
        timing = parse(schedule.cron_expression, schedule.time_zone, min_interval=0)
        tick = timing.latest(expected, now)
        if not tx.advance_schedule(schedule.flow_name, schedule.name, expected, timing.next_after(tick)):
            return Outcome("", "", applied=False)  # fired elsewhere, or changed meanwhile
        late = (now - expected).total_seconds()
        if schedule.missed_ticks == "skip" and late > LATE:
            log.warning(
                "schedule %s of flow %s skipped the ticks from %s, missed by %.0f s (missedTicks: skip)",
                schedule.name,
                schedule.flow_name,
                expected.isoformat(),
                late,
            )
            return Outcome("", "", applied=False)
        decider = self.runtime.decider
        assert decider is not None, "the runtime is not open"
        name = execution_name(schedule.name, tick)
        try:
            return decider.start(tx, schedule.flow_name, name, json.loads(schedule.payload), now)
        except (NotFound, Conflict) as e:  # raised before writing anything: the tick is spent
            log.warning(
                "schedule %s of flow %s skipped tick %s: %s", schedule.name, schedule.flow_name, name, e
            )
            return Outcome("", "", applied=False)
