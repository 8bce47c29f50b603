"""Functions' triggers: put, list and delete them; find the HTTP trigger a request is for.

A timer's next tick is counted from now when it is new, enabled again or fires at other times;
otherwise it stays (changing only the payload skips nothing), as a schedule's does. The
scheduler (``fnflow.schedules.scheduler``) fires the ticks. HTTP triggers are looked up on every
request to FC's path, so they are cached for a moment (a change through this process is seen at
once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from fnflow.errors import NotFound
from fnflow.functions.triggers import TriggerSpec
from fnflow.schedules.cron import MINIMUM_INTERVAL, parse
from fnflow.schedules.scheduler import CHANNEL
from fnflow.store import Store, TriggerRecord, Tx


class TriggerService:
    def __init__(
        self,
        store: Store,
        *,
        changed: Callable[[], None] = lambda: None,
        min_interval: float = MINIMUM_INTERVAL,
        cache_ttl: float = 2.0,
    ) -> None:
        self.store = store
        self._changed = changed
        self.min_interval = min_interval
        self._ttl = cache_ttl
        self._http: dict[tuple[str, str], tuple[float, TriggerSpec | None]] = {}

    def check(self, spec: TriggerSpec) -> None:
        """InvalidArgument says what is wrong with ``spec`` (its cron expression too)."""
        spec.validate()
        if spec.kind == "timer":
            parse(spec.cron_expression, min_interval=self.min_interval)

    async def put(self, spec: TriggerSpec) -> TriggerRecord:
        """Create or replace a trigger of a function that exists (NotFound if it does not)."""
        self.check(spec)
        now = datetime.now(UTC)

        def put(tx: Tx) -> TriggerRecord:
            if tx.get_function(spec.service, spec.function) is None:
                raise NotFound(f"function {spec.service}/{spec.function} does not exist")
            current = tx.get_trigger(spec.service, spec.function, spec.name)
            record = TriggerRecord(
                service=spec.service,
                function=spec.function,
                name=spec.name,
                kind=spec.kind,
                config=spec.config(),
                created_at=current.created_at if current else now,
                updated_at=now,
                next_fire_at=_next_fire(current, spec, now),
            )
            stored = tx.put_trigger(record)
            tx.notify(CHANNEL, "")
            return stored

        stored = await self.store.write(put)
        self._forget(spec.service, spec.function)
        return stored

    async def delete(self, service: str, function: str, name: str) -> None:
        def delete(tx: Tx) -> bool:
            tx.notify(CHANNEL, "")
            return tx.delete_trigger(service, function, name)

        if not await self.store.write(delete):
            raise NotFound(f"trigger {name!r} of function {service}/{function} does not exist")
        self._forget(service, function)

    async def list(self, service: str, function: str) -> list[TriggerRecord]:
        return await self.store.read(lambda tx: tx.list_triggers(service, function))

    async def http(self, service: str, function: str) -> TriggerSpec | None:
        """The function's HTTP trigger (the first by name if it has several), from a cache."""
        key = (service, function)
        cached = self._http.get(key)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        records = await self.list(service, function)
        found = next((spec_of(r) for r in records if r.kind == "http"), None)
        self._http[key] = (time.monotonic(), found)
        return found

    def _forget(self, service: str, function: str) -> None:
        self._http.pop((service, function), None)
        self._changed()


def spec_of(record: TriggerRecord) -> TriggerSpec:
    return TriggerSpec.of(record.service, record.function, record.name, record.kind, record.config)


def _next_fire(current: TriggerRecord | None, spec: TriggerSpec, now: datetime) -> datetime | None:
    if spec.kind != "timer" or not spec.enabled:
        return None
    if current is not None and current.next_fire_at is not None:
        before = spec_of(current)
        if before.kind == "timer" and before.cron_expression == spec.cron_expression:
            return current.next_fire_at
    return parse(spec.cron_expression, min_interval=0).next_after(now)
