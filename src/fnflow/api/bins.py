"""``/api/v1/bins/{name}/requests``: what the request bin ``/bin/{name}`` received."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request

from fnflow.api.auth import Invoke
from fnflow.api.calls import body_json
from fnflow.api.root import root
from fnflow.fdl.timestamps import format_timestamp

router = APIRouter(prefix="/api/v1/bins", tags=["bins"])


@router.get("/{name}/requests")
async def bin_requests(
    name: str, request: Request, _: Invoke, limit: int = Query(100, ge=1, le=100)
) -> dict[str, Any]:
    """The newest requests first (a bin keeps its last 100)."""
    records = await root(request).bins.requests(name, limit)
    return {
        "requests": [
            {
                "method": r.method,
                "path": r.path,
                "query": r.query,
                "headers": json.loads(r.headers),
                "receivedTime": format_timestamp(r.received_at),
                **body_json(r.body),
            }
            for r in records
        ]
    }
