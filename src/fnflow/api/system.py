"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    """200 when the store answers."""
    app = request.app.state.fnflow
    if await app.store.read(lambda tx: tx.get_setting("task_token_key")) is None:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
