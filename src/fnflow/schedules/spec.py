"""What a schedule should be, as the API, the CLI and manifests ask for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScheduleSpec:
    """When a schedule fires and what input its executions get."""

    cron_expression: str
    time_zone: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    description: str = ""
    missed_ticks: str = "fireOnce"  # ticks missed (fnflow down, or late): fire the latest once, or skip
