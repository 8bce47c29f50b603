"""fnflow's records as FnF's responses: field names, strings holding JSON, RFC 3339 times with
milliseconds, and ``""`` rather than null for what is not there (as FnF answers)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fnflow.fdl.timestamps import format_timestamp
from fnflow.store import ExecutionRecord, FlowRecord, HistoryRecord, ScheduleRecord


def _time(value: datetime | None) -> str:
    return format_timestamp(value) if value is not None else ""


def flow(record: FlowRecord) -> dict[str, Any]:
    return {
        "Name": record.name,
        "Id": record.id,
        "Description": record.description,
        "Definition": record.definition,
        "Type": "FDL",
        "RoleArn": record.role_arn,
        "ExecutionMode": record.execution_mode,
        "ExternalStorageLocation": "",
        "CreatedTime": _time(record.created_at),
        "LastModifiedTime": _time(record.updated_at),
    }


def execution(record: ExecutionRecord, definition: str) -> dict[str, Any]:
    """DescribeExecution's fields; ``definition`` is the one the execution runs (pinned at start)."""
    return {
        "Name": record.name,
        "FlowName": record.flow_name,
        "FlowDefinition": definition,
        "Input": record.input,
        "Output": record.output or "",
        "Status": record.status,
        "StartedTime": _time(record.started_at),
        "StoppedTime": _time(record.stopped_at),
    }


def sync_execution(record: ExecutionRecord) -> dict[str, Any]:
    """StartSyncExecution's fields: the outcome, with the error of a failed execution."""
    return {
        "Name": record.name,
        "FlowName": record.flow_name,
        "Status": record.status,
        "Output": record.output or "",
        "ErrorCode": record.error or "",
        "ErrorMessage": record.cause or "",
        "StartedTime": _time(record.started_at),
        "StoppedTime": _time(record.stopped_at),
    }


def event(record: HistoryRecord) -> dict[str, Any]:
    return {
        "Type": record.type,
        "EventId": record.event_id,
        "ScheduleEventId": record.schedule_event_id,
        "StepName": record.step,
        "Time": _time(record.time),
        "EventDetail": record.detail,
    }


def schedule(record: ScheduleRecord) -> dict[str, Any]:
    """A schedule read in a zone of its own (the native API's timeZone) says it as FnF does, with
    ``CRON_TZ=`` before the expression."""
    expression = record.cron_expression
    if record.time_zone and not expression.upper().startswith("CRON_TZ="):
        expression = f"CRON_TZ={record.time_zone} {expression}"
    return {
        "ScheduleName": record.name,
        "ScheduleId": record.id,
        "Description": record.description,
        "Payload": record.payload,
        "CronExpression": expression,
        "Enable": record.enabled,
        "CreatedTime": _time(record.created_at),
        "LastModifiedTime": _time(record.updated_at),
    }


def page_token(token: str | None) -> dict[str, Any]:
    """``NextToken`` only when there is a next page (FnF leaves it out on the last one)."""
    return {"NextToken": token} if token else {}


def dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
