"""The client's schedules: cron schedules that start a flow's executions with a fixed input."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fnflow.client.http import Transport, api_path, items
from fnflow.client.models import Page


@dataclass(frozen=True)
class Schedule:
    """A flow's schedule; ``payload`` is the input of the executions it starts (parsed JSON)."""

    name: str
    id: str
    flow_name: str
    cron_expression: str
    time_zone: str
    payload: dict[str, Any]
    enabled: bool
    description: str
    next_fire_time: datetime | None  # None while disabled
    created_time: datetime | None
    last_modified_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    missed_ticks: str = "fireOnce"  # ticks missed: fireOnce fires the latest once, skip none

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Schedule:
        def time(key: str) -> datetime | None:
            return datetime.fromisoformat(d[key]) if d.get(key) else None

        return cls(
            name=d["scheduleName"],
            id=d["scheduleId"],
            flow_name=d["flowName"],
            cron_expression=d["cronExpression"],
            time_zone=d.get("timeZone", ""),
            payload=d.get("payload") or {},
            enabled=d["enable"],
            description=d.get("description", ""),
            next_fire_time=time("nextFireTime"),
            created_time=time("createdTime"),
            last_modified_time=time("lastModifiedTime"),
            raw=d,
            missed_ticks=d.get("missedTicks", "fireOnce"),
        )


class ScheduleMethods(Transport):
    """``/api/v1/flows/{flow}/schedules``."""

    def put_schedule(
        self,
        flow: str,
        name: str,
        cron_expression: str,
        *,
        payload: Mapping[str, Any] | None = None,
        time_zone: str = "",
        enabled: bool = True,
        description: str = "",
        missed_ticks: str = "fireOnce",
    ) -> Schedule:
        """Create or replace a schedule of ``flow``; each tick starts an execution with ``payload`` as input.

        ``cron_expression`` is FnF's: ``0 */5 * * * *`` (seconds first), ``CRON_TZ=Asia/Shanghai 0 0 9
        * * *``, or ``@every 10m`` (``@every 2s``); at most once a second. A bad one raises
        ``InvalidArgumentError``. ``missed_ticks``: ``fireOnce`` (ticks missed while fnflow was down
        fire once, for the latest) or ``skip`` (they do not fire).
        """
        body = {
            "cronExpression": cron_expression,
            "timeZone": time_zone,
            "payload": dict(payload or {}),
            "enable": enabled,
            "description": description,
            "missedTicks": missed_ticks,
        }
        return Schedule.from_json(self._json("PUT", api_path("flows", flow, "schedules", name), json=body))

    def get_schedule(self, flow: str, name: str) -> Schedule:
        return Schedule.from_json(self._json("GET", api_path("flows", flow, "schedules", name)))

    def list_schedules(
        self, flow: str | None = None, limit: int = 60, next_token: str | None = None
    ) -> Page[Schedule]:
        """One page of a flow's schedules by name (every flow's, by flow and name, without ``flow``)."""
        params = {"limit": limit, "nextToken": next_token}
        path = api_path("flows", flow, "schedules") if flow else api_path("schedules")
        response = self._json("GET", path, params=params)
        return Page.from_json(response, "schedules", Schedule.from_json)

    def iter_schedules(self, flow: str | None = None, page_size: int = 100) -> Iterator[Schedule]:
        """Every schedule of a flow (or of every flow), fetching pages as the iteration needs them."""
        return items(lambda token: self.list_schedules(flow, page_size, token))

    def delete_schedule(self, flow: str, name: str) -> None:
        """Delete a schedule; the executions it started stay."""
        self._call("DELETE", api_path("flows", flow, "schedules", name))
