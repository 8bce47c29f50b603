"""``/api/v1/calls``: the status, result and control of asynchronous calls, by call id."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from fnflow.api.auth import Invoke
from fnflow.api.root import root
from fnflow.fdl.timestamps import format_timestamp
from fnflow.store import CallRecord, DeliveryRecord

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])


def body_json(data: bytes | None) -> dict[str, Any]:
    """A body as text when it is UTF-8, else as base64."""
    if data is None:
        return {"body": None}
    try:
        return {"body": data.decode(), "bodyEncoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(data).decode(), "bodyEncoding": "base64"}


def _time(value: Any) -> str | None:
    return format_timestamp(value) if value is not None else None


def call_json(call: CallRecord, deliveries: list[DeliveryRecord] | None = None) -> dict[str, Any]:
    duration = None
    if call.started_at and call.finished_at:
        duration = int((call.finished_at - call.started_at).total_seconds() * 1000)
    result = None
    if call.result_status is not None:
        result = {
            "status": call.result_status,
            "headers": json.loads(call.result_headers or "[]"),
            **body_json(call.result_body),
        }
    out: dict[str, Any] = {
        "callId": call.id,
        "service": call.service,
        "function": call.function,
        "qualifier": call.qualifier or "LATEST",
        "version": call.version,  # the service version that ran its last attempt
        "queue": call.queue or "default",
        "status": call.status,
        "attempts": call.attempts,
        "maxAttempts": call.max_attempts,
        "deadLetter": call.dead,
        "createdTime": _time(call.created_at),
        "startedTime": _time(call.started_at),
        "finishedTime": _time(call.finished_at),
        "nextAttemptTime": _time(call.run_at) if call.status == "Retrying" else None,
        "expiresTime": _time(call.expires_at),
        "durationMs": duration,
        "callbackUrl": call.callback_url,
        "request": {"method": call.method, "path": call.path, "query": call.query, **body_json(call.body)},
        "result": result,
        "error": call.error,
    }
    if deliveries is not None:
        out["deliveries"] = [
            {
                "kind": d.kind,
                "target": d.target,
                "status": d.status,
                "attempts": d.attempts,
                "lastStatus": d.last_status,
                "lastError": d.last_error,
                "deliveredTime": _time(d.delivered_at),
            }
            for d in deliveries
        ]
    return out


class RedriveIn(BaseModel):
    callIds: list[str]


@router.get("/{call_id}")
async def get_call(call_id: str, request: Request, _: Invoke) -> dict[str, Any]:
    """An asynchronous call: status (Function Compute's), attempts, timings, result or error, callbacks."""
    record, deliveries = await root(request).calls.get(call_id)
    return call_json(record, deliveries)


@router.get("")
async def list_calls(
    request: Request,
    _: Invoke,
    function: str | None = None,
    service: str | None = None,
    status: str | None = None,
    deadLetter: bool | None = None,
    limit: int = Query(100, ge=1, le=1000),
    nextToken: str | None = None,
) -> dict[str, Any]:
    """Newest first; ``deadLetter=true`` lists the dead-letter list."""
    page = await root(request).calls.list_calls(
        service=service, function=function, status=status, dead=deadLetter, limit=limit, token=nextToken
    )
    return {"calls": [call_json(c) for c in page.items], "nextToken": page.next_token}


@router.post("/{call_id}/stop")
async def stop_call(call_id: str, request: Request, _: Invoke) -> dict[str, Any]:
    """Stop a call: a queued one at once (Stopped), a running one by cancelling it (Stopping → Stopped)."""
    status = await root(request).calls.stop(call_id)
    return {"callId": call_id, "status": status}


@router.post("/redrive")
async def redrive_calls(body: RedriveIn, request: Request, _: Invoke) -> dict[str, Any]:
    """Run dead-lettered calls again from the start (same id and request)."""
    records = await root(request).calls.redrive(body.callIds)
    return {"calls": [call_json(c) for c in records]}
