"""``/api/v1/functions``: deploy, read, delete and synchronously invoke functions."""

from __future__ import annotations

import base64
import binascii
import uuid

from fastapi import APIRouter, Request, Response

from fnflow.api.auth import Admin, Invoke
from fnflow.api.schemas import FunctionIn, FunctionList, FunctionOut
from fnflow.errors import InvalidArgument
from fnflow.functions.config import FC_RUNTIME
from fnflow.functions.spec import HttpRequest

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
    config = body.config(service, name)
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
    responses={
        200: {"description": "python3: the function's response; an error sets X-Fc-Error-Type"},
        "default": {"description": "other runtimes: the function's own status, headers and body"},
    },
)
async def invoke_function(service: str, name: str, request: Request, _: Invoke) -> Response:
    """Invoke synchronously, as Function Compute's InvokeFunction: the body is the event.

    A ``python3`` function answers as Function Compute does (200, errors flagged by
    ``X-Fc-Error-Type``); the OpenFaaS-style runtimes answer with their own status and headers.
    """
    functions = request.app.state.fnflow.functions
    request_id = request.headers.get("x-fc-request-id") or str(uuid.uuid4())
    record = await functions.lookup(service, name)
    content_type = request.headers.get("content-type")
    call = HttpRequest(
        headers=(("Content-Type", content_type),) if content_type else (), body=await request.body()
    )
    result = await functions.invoke(service, name, call, request_id=request_id)
    headers = {"X-Fc-Request-Id": request_id, "X-Fc-Duration-Seconds": f"{result.duration:.6f}"}
    if record.runtime != FC_RUNTIME:
        response = Response(result.body, status_code=result.status, headers=headers)
        for key, value in result.headers:
            response.headers.append(key, value)
        return response
    if not result.ok:
        headers["X-Fc-Error-Type"] = "UnhandledInvocationError"
        return Response(result.error_body(), headers=headers, media_type="application/json")
    return Response(result.body, headers=headers, media_type="application/octet-stream")
