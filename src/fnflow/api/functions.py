"""``/api/v1/functions``: deploy, read, delete and synchronously invoke functions."""

from __future__ import annotations

import base64
import binascii
import uuid

from fastapi import APIRouter, Request, Response

from fnflow.api.auth import Admin, Invoke
from fnflow.api.schemas import FunctionIn, FunctionList, FunctionOut
from fnflow.errors import InvalidArgument
from fnflow.functions.config import FunctionConfig

router = APIRouter(prefix="/api/v1/functions", tags=["functions"])


@router.put("/{service}/{name}", response_model=FunctionOut)
async def deploy_function(
    service: str, name: str, body: FunctionIn, request: Request, _: Admin
) -> FunctionOut:
    """Create or update a function; ``code`` is the base64 of a zip of its directory."""
    code = None
    if body.code is not None:
        try:
            code = base64.b64decode(body.code, validate=True)
        except binascii.Error:
            raise InvalidArgument("code must be base64 of a zip archive") from None
    config = FunctionConfig(
        service=service,
        name=name,
        runtime=body.runtime,
        handler=body.handler,
        timeout=body.timeout,
        memory_mb=body.memoryMB,
        max_instances=body.maxInstances,
        environment=body.environment,
        description=body.description,
    )
    return FunctionOut.of(await request.app.state.fnflow.functions.deploy(config, code))


@router.get("")
async def list_functions(request: Request, _: Invoke, service: str | None = None) -> FunctionList:
    records = await request.app.state.fnflow.functions.list(service)
    return FunctionList(functions=[FunctionOut.of(f) for f in records])


@router.get("/{service}/{name}")
async def get_function(service: str, name: str, request: Request, _: Invoke) -> FunctionOut:
    return FunctionOut.of(await request.app.state.fnflow.functions.get(service, name))


@router.delete("/{service}/{name}", status_code=204)
async def delete_function(service: str, name: str, request: Request, _: Admin) -> Response:
    await request.app.state.fnflow.functions.delete(service, name)
    return Response(status_code=204)


@router.post(
    "/{service}/{name}/invoke",
    response_class=Response,
    responses={200: {"description": "the function's response; an error sets X-Fc-Error-Type"}},
)
async def invoke_function(service: str, name: str, request: Request, _: Invoke) -> Response:
    """Invoke synchronously, as Function Compute's InvokeFunction: the body is the event."""
    request_id = request.headers.get("x-fc-request-id") or str(uuid.uuid4())
    payload = await request.body()
    result = await request.app.state.fnflow.functions.invoke(service, name, payload, request_id=request_id)
    headers = {"X-Fc-Request-Id": request_id, "X-Fc-Duration-Seconds": f"{result.duration:.6f}"}
    if not result.ok:
        headers["X-Fc-Error-Type"] = "UnhandledInvocationError"
        return Response(result.error_body(), headers=headers, media_type="application/json")
    return Response(result.body, headers=headers, media_type="application/octet-stream")
