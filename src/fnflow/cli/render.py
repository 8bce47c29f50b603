"""Text for people: aligned tables, key/value blocks, a history timeline. Times are UTC."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from fnflow.client import Execution, HistoryEvent

WIDTH = 80  # longest cell shown for values that can be large (JSON, descriptions)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last one is not padded."""
    lines = [list(headers), *(list(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(line, widths, strict=False)), line[-1]]).rstrip()
        for line in lines
    )


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """``key:  value`` lines with the values aligned; empty values are left out."""
    shown = [(k, v) for k, v in pairs if v]
    width = max((len(k) for k, _ in shown), default=0) + 1
    return "\n".join(f"{k + ':':<{width}}  {v}" for k, v in shown)


def when(t: datetime | None) -> str:
    """A time in UTC, saying so (the server's times are UTC; so is what the CLI prints)."""
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if t else ""


def clip(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def compact(value: Any, width: int = WIDTH) -> str:
    """One line of JSON, cut to ``width``."""
    return clip(json.dumps(value, separators=(",", ":"), ensure_ascii=False), width)


def duration(start: datetime | None, stop: datetime | None) -> str:
    if start is None or stop is None:
        return ""
    seconds = (stop - start).total_seconds()
    return f"{seconds:.3f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:06.3f}s"


def execution(e: Execution) -> str:
    return fields(
        [
            ("name", e.name),
            ("flow", e.flow_name),
            ("flow version", str(e.flow_version) if e.flow_version is not None else ""),
            ("status", e.status),
            ("started", when(e.started_time)),
            ("stopped", when(e.stopped_time)),
            ("duration", duration(e.started_time, e.stopped_time)),
            ("input", compact(e.input)),
            ("output", compact(e.output) if e.output is not None else ""),
            ("error", e.error or ""),
            ("cause", clip(e.cause or "")),
            *([("parent", "/".join(e.parent))] if e.parent else []),
            *(("child", f"{flow}/{name} ({status})") for flow, name, status in e.children or []),
        ]
    )


def executions(items: Iterable[Execution]) -> str:
    rows = [
        (
            e.name,
            e.status,
            when(e.started_time),
            duration(e.started_time, e.stopped_time),
            "/".join(e.parent) if e.parent else "",
            e.error or "",
        )
        for e in items
    ]
    return table(("NAME", "STATUS", "STARTED", "DURATION", "PARENT", "ERROR"), rows)


#: what `exec start --wait` reports of a history event: its type as a verb, and what of its detail
STEP_EVENTS = {
    "StepEntered": "entered",
    "StepExited": "done",
    "StepFailed": "failed",
    "TaskScheduled": "scheduled",
    "TaskSubmitted": "handed over, waiting",
    "TaskFailed": "attempt failed",
    "TaskTimedOut": "timed out",
    "ExecutionSucceeded": "succeeded",
    "ExecutionFailed": "failed",
    "ExecutionTimedOut": "timed out",
    "ExecutionStopped": "stopped",
}


def step_event(e: HistoryEvent) -> str | None:
    """One line for a step's progress (None for the events not worth a line)."""
    verb = STEP_EVENTS.get(e.type)
    if verb is None:
        return None
    what = e.step_name or "execution"
    detail = e.detail if isinstance(e.detail, dict) else {}
    error = f": {detail['error']}" if detail.get("error") else ""
    return f"{when(e.time)[11:]}  {what}  {verb}{error}"


def timeline(events: Sequence[HistoryEvent]) -> str:
    """One line per event: id, time of day, time since the first event, type, step, the gist of its detail."""
    start = events[0].time if events else None
    rows = [
        (
            str(e.event_id),
            e.time.strftime("%H:%M:%S.%f")[:-3] if e.time else "",
            f"+{(e.time - start).total_seconds():.3f}s" if e.time and start else "",
            e.type,
            e.step_name,
            _gist(e.detail),
        )
        for e in events
    ]
    return table(("ID", "TIME", "ELAPSED", "TYPE", "STEP", "DETAIL"), rows)


def _gist(detail: Any) -> str:
    if not isinstance(detail, dict):
        return compact(detail, 60)
    parts = (f"{k}={v if isinstance(v, str) else compact(v)}" for k, v in detail.items())
    return clip(" ".join(parts), 60)
