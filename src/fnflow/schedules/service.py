"""Creating, reading, listing and deleting a flow's schedules (for the API and ``--apply``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fnflow.clock import RANDOM_IDS, SYSTEM_CLOCK, Clock, Ids
from fnflow.errors import FlowNotFound, InvalidArgument, ScheduleAlreadyExists, ScheduleNotFound
from fnflow.names import check_name
from fnflow.schedules.cron import MINIMUM_INTERVAL, Timing, parse
from fnflow.schedules.scheduler import CHANNEL, MISSED_TICKS
from fnflow.schedules.spec import ScheduleSpec
from fnflow.services.executions import check_size
from fnflow.store import Page, ScheduleRecord, Store, Tx


class ScheduleService:
    def __init__(
        self,
        store: Store,
        *,
        changed: Callable[[], None] = lambda: None,
        min_interval: float = MINIMUM_INTERVAL,
        max_input_bytes: int = 32 * 1024,
        clock: Clock = SYSTEM_CLOCK,
        ids: Ids = RANDOM_IDS,
    ) -> None:
        self.store = store
        self._clock = clock
        self._ids = ids
        self._changed = changed
        self.min_interval = min_interval
        self.max_input_bytes = max_input_bytes

    async def put(self, flow_name: str, name: str, spec: ScheduleSpec) -> tuple[ScheduleRecord, bool]:
        """Create or replace a schedule; returns (schedule, created).

        The next tick is counted from now when the schedule is new, is enabled again, or fires
        at other times than before; otherwise it stays (changing only the payload skips nothing).
        """
        return await self._save(flow_name, name, lambda current: spec)

    async def create(self, flow_name: str, name: str, spec: ScheduleSpec) -> ScheduleRecord:
        """A new schedule; ``ScheduleAlreadyExists`` if the flow has one of that name."""

        def new(current: ScheduleRecord | None) -> ScheduleSpec:
            if current is not None:
                raise ScheduleAlreadyExists(f"schedule {name!r} of flow {flow_name!r} already exists")
            return spec

        record, _ = await self._save(flow_name, name, new)
        return record

    async def update(
        self,
        flow_name: str,
        name: str,
        *,
        cron_expression: str | None = None,
        payload: dict[str, Any] | None = None,
        enabled: bool | None = None,
        description: str | None = None,
        missed_ticks: str | None = None,
    ) -> ScheduleRecord:
        """Change what is given of an existing schedule (``ScheduleNotFound`` if there is none)."""

        def changed(current: ScheduleRecord | None) -> ScheduleSpec:
            if current is None:
                raise ScheduleNotFound(f"schedule {name!r} of flow {flow_name!r} does not exist")
            spec = spec_of(current)
            return ScheduleSpec(
                # a new expression says its zone itself (CRON_TZ=), as in FnF
                cron_expression=spec.cron_expression if cron_expression is None else cron_expression,
                time_zone=spec.time_zone if cron_expression is None else "",
                payload=spec.payload if payload is None else payload,
                enabled=spec.enabled if enabled is None else enabled,
                description=spec.description if description is None else description,
                missed_ticks=spec.missed_ticks if missed_ticks is None else missed_ticks,
            )

        record, _ = await self._save(flow_name, name, changed)
        return record

    async def _save(
        self, flow_name: str, name: str, build: Callable[[ScheduleRecord | None], ScheduleSpec]
    ) -> tuple[ScheduleRecord, bool]:
        """Store what ``build`` makes of the current schedule (None: there is none), in one
        transaction; returns (schedule, created)."""
        check_name("schedule", name)

        def put(tx: Tx) -> tuple[ScheduleRecord, bool]:
            if tx.get_flow(flow_name) is None:
                raise FlowNotFound(f"flow {flow_name!r} does not exist")
            current = tx.get_schedule(flow_name, name)
            spec = build(current)
            if spec.missed_ticks not in MISSED_TICKS:
                raise InvalidArgument(
                    f"missedTicks {spec.missed_ticks!r} must be one of {', '.join(MISSED_TICKS)}"
                )
            timing = parse(spec.cron_expression, spec.time_zone, min_interval=self.min_interval)
            check_size(spec.payload, "payload", self.max_input_bytes)
            now = self._clock.now()
            record = ScheduleRecord(
                flow_name=flow_name,
                name=name,
                id=current.id if current else self._ids.uuid(),
                cron_expression=spec.cron_expression,
                time_zone=spec.time_zone,
                payload=json.dumps(spec.payload, separators=(",", ":"), ensure_ascii=False),
                enabled=spec.enabled,
                description=spec.description,
                next_fire_at=_next_fire(current, spec, timing, now),
                created_at=current.created_at if current else now,
                updated_at=now,
                missed_ticks=spec.missed_ticks,
            )
            stored = tx.put_schedule(record)
            tx.notify(CHANNEL, "")
            return stored, current is None

        result = await self.store.write(put)
        self._changed()
        return result

    async def get(self, flow_name: str, name: str) -> ScheduleRecord:
        found = await self.store.read(lambda tx: tx.get_schedule(flow_name, name))
        if found is None:
            await self._flow_exists(flow_name)
            raise ScheduleNotFound(f"schedule {name!r} of flow {flow_name!r} does not exist")
        return found

    async def list(self, flow_name: str | None, limit: int = 60, token: str | None = None) -> Page:
        """A flow's schedules, or (``flow_name`` None) every flow's."""
        if flow_name is not None:
            await self._flow_exists(flow_name)
        return await self.store.read(lambda tx: tx.list_schedules(flow_name, limit, token))

    async def delete(self, flow_name: str, name: str) -> None:
        def delete(tx: Tx) -> bool:
            deleted = tx.delete_schedule(flow_name, name)
            tx.notify(CHANNEL, "")
            return deleted

        if not await self.store.write(delete):
            await self._flow_exists(flow_name)
            raise ScheduleNotFound(f"schedule {name!r} of flow {flow_name!r} does not exist")
        self._changed()

    async def _flow_exists(self, flow_name: str) -> None:
        if await self.store.read(lambda tx: tx.get_flow(flow_name)) is None:
            raise FlowNotFound(f"flow {flow_name!r} does not exist")


def spec_of(record: ScheduleRecord) -> ScheduleSpec:
    return ScheduleSpec(
        cron_expression=record.cron_expression,
        time_zone=record.time_zone,
        payload=json.loads(record.payload),
        enabled=record.enabled,
        description=record.description,
        missed_ticks=record.missed_ticks,
    )


def _next_fire(
    current: ScheduleRecord | None, spec: ScheduleSpec, timing: Timing, now: datetime
) -> datetime | None:
    if not spec.enabled:
        return None
    unchanged = (spec.cron_expression, spec.time_zone)
    if current is not None and current.enabled and (current.cron_expression, current.time_zone) == unchanged:
        return current.next_fire_at
    return timing.next_after(now)
