"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from fnflow import __version__
from fnflow.api.auth import Admin, Invoke
from fnflow.api.root import root
from fnflow.metrics import CONTENT_TYPE

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    """200 when the store answers."""
    app = root(request)
    if await app.store.read(lambda tx: tx.get_setting("task_token_key")) is None:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, _: Invoke) -> Response:
    """Prometheus text: executions, task attempts, timer lateness, store batches, function workers."""
    app = root(request)
    await app.read_gauges()
    return Response(app.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/api/v1/system/info")
async def info(request: Request, _: Invoke) -> dict[str, str]:
    """The version, and the region and account this fnflow stands for (``fnflow deploy`` gives
    them to templates as ALIYUN::Region and ALIYUN::AccountId)."""
    settings = root(request).settings
    return {"version": __version__, "region": settings.region, "accountId": settings.account_id}


@router.get("/api/v1/system/callback-key", tags=["calls"])
async def callback_key(request: Request, _: Admin) -> dict[str, str]:
    """The key that signs callbacks (``X-Fnflow-Signature``); give it to your receivers to verify them."""
    return {"key": root(request).signing_key}
