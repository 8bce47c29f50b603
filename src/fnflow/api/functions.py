"""``/api/v1/functions``: deploy, read, delete and synchronously invoke functions, and their triggers."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from fnflow.api.auth import Admin, Invoke
from fnflow.api.progress import NDJSON, stream
from fnflow.api.root import root
from fnflow.api.schemas import FunctionIn, FunctionList, FunctionOut, LayerIn, TriggerSettings
from fnflow.errors import InvalidArgument
from fnflow.fdl.timestamps import format_timestamp
from fnflow.functions import codepkg
from fnflow.functions.config import FC_RUNTIME, Layer
from fnflow.functions.spec import HttpRequest
from fnflow.functions.versions import LATEST, VERSION_HEADER
from fnflow.store import TriggerRecord

router = APIRouter(prefix="/api/v1/functions", tags=["functions"])


class PruneOut(BaseModel):
    environments: list[str]
    layers: list[str]
    code: list[str]
    storedEnvironments: list[str]
    storedLayers: list[str]


@router.put(
    "/{service}/{name}",
    response_model=FunctionOut,
    responses={200: {"content": {NDJSON: {}}, "description": "with Accept: application/x-ndjson, progress"}},
)
async def deploy_function(service: str, name: str, body: FunctionIn, request: Request, _: Admin) -> Any:
    """Create or update a function; ``code`` is the base64 of a zip of its directory.

    A ``requirements.txt`` in it is installed before the function changes, which may take a while.
    With ``Accept: application/x-ndjson`` the answer is a stream of JSON lines as it goes:
    ``{"event": "progress", "message"}``…, then ``{"event": "deployed", "function": {…}}`` or
    ``{"event": "error", "status", "code", "message"}``. Errors found before anything is installed
    are plain error answers either way.
    """
    code = _base64(body.code, "code") if body.code is not None else None
    layers, uploads = _layers(body.layers)
    functions = root(request).functions
    deployment = await functions.prepare(body.config(service, name, layers), code, uploads)
    if NDJSON in request.headers.get("accept", ""):
        return stream(
            lambda progress: functions.commit(deployment, progress),
            lambda record: {"event": "deployed", "function": FunctionOut.of(record).model_dump()},
        )
    return FunctionOut.of(await functions.commit(deployment))


class TriggerOut(BaseModel):
    name: str
    kind: str
    cronExpression: str | None = None
    payload: str | None = None
    enable: bool | None = None
    nextFireTime: str | None = None
    authType: str | None = None
    methods: list[str] | None = None
    createdTime: str
    lastModifiedTime: str

    @classmethod
    def of(cls, r: TriggerRecord) -> TriggerOut:
        return cls(
            name=r.name,
            kind=r.kind,
            **r.config,
            nextFireTime=format_timestamp(r.next_fire_at) if r.next_fire_at else None,
            createdTime=format_timestamp(r.created_at),
            lastModifiedTime=format_timestamp(r.updated_at),
        )


class TriggerList(BaseModel):
    triggers: list[TriggerOut]


@router.put("/{service}/{name}/triggers/{trigger}", response_model=TriggerOut)
async def put_trigger(
    service: str, name: str, trigger: str, body: TriggerSettings, request: Request, _: Admin
) -> TriggerOut:
    """Create or change a trigger of the function: a timer calls it asynchronously with Function
    Compute's timer event (``triggerTime``, ``triggerName``, ``payload``), each tick once."""
    return TriggerOut.of(await root(request).triggers.put(body.spec(service, name, trigger)))


@router.get("/{service}/{name}/triggers")
async def list_triggers(service: str, name: str, request: Request, _: Invoke) -> TriggerList:
    return TriggerList(triggers=[TriggerOut.of(r) for r in await root(request).triggers.list(service, name)])


@router.delete("/{service}/{name}/triggers/{trigger}", status_code=204)
async def delete_trigger(service: str, name: str, trigger: str, request: Request, _: Admin) -> Response:
    await root(request).triggers.delete(service, name, trigger)
    return Response(status_code=204)


@router.post("/gc")
async def prune(request: Request, _: Admin) -> PruneOut:
    """Remove the environments, layers and unpacked code that no deployed function uses, in this
    process's data folder and in the store."""
    pruned = await root(request).functions.prune()
    return PruneOut(
        environments=pruned.environments,
        layers=pruned.layers,
        code=pruned.code,
        storedEnvironments=pruned.stored_environments,
        storedLayers=pruned.stored_layers,
    )


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise InvalidArgument(f"{what} must be base64 of a zip archive") from None


def _layers(given: list[LayerIn]) -> tuple[tuple[Layer, ...], dict[str, bytes]]:
    """The layers as the function names them, and the zips of those sent, by checksum."""
    layers, uploads = [], {}
    for place, layer in enumerate(given, 1):
        name = layer.name or f"layer-{place}"
        if layer.code is not None:
            data = _base64(layer.code, f"layer {name}: code")
            checksum = codepkg.checksum(data)
            if layer.checksum and layer.checksum != checksum:
                raise InvalidArgument(f"layer {name}: its code does not have the checksum given")
            uploads[checksum] = data
        elif layer.checksum:
            checksum = layer.checksum
        else:
            raise InvalidArgument(f"layer {name}: give its code or the checksum of a stored layer")
        layers.append(Layer(name, checksum))
    return tuple(layers), uploads


@router.get("")
async def list_functions(request: Request, _: Invoke, service: str | None = None) -> FunctionList:
    records = await root(request).functions.list(service)
    return FunctionList(functions=[FunctionOut.of(f) for f in records])


@router.get("/{service}/{name}")
async def get_function(service: str, name: str, request: Request, _: Invoke) -> FunctionOut:
    """The function, with the requirements and installed packages of its environment, if any."""
    return FunctionOut.of(*await root(request).functions.describe(service, name))


@router.delete("/{service}/{name}", status_code=204)
async def delete_function(service: str, name: str, request: Request, _: Admin) -> Response:
    await root(request).functions.delete(service, name)
    return Response(status_code=204)


@router.post(
    "/{service}/{name}/invoke",
    response_class=Response,
    responses={
        200: {"description": "python3: the function's response; an error sets X-Fc-Error-Type"},
        "default": {"description": "other runtimes: the function's own status, headers and body"},
    },
)
async def invoke_function(
    service: str, name: str, request: Request, _: Invoke, qualifier: str = LATEST
) -> Response:
    """Invoke synchronously, as Function Compute's InvokeFunction: the body is the event.

    A ``python3`` function answers as Function Compute does (200, errors flagged by
    ``X-Fc-Error-Type``); the OpenFaaS-style runtimes answer with their own status and headers.
    ``qualifier``: a service version or alias (default LATEST); the version that ran the call is
    in ``X-Fc-Invocation-Service-Version``.
    """
    functions = root(request).functions
    request_id = request.headers.get("x-fc-request-id") or str(uuid.uuid4())
    version = await functions.qualifiers.resolve(service, qualifier)
    record = await functions.lookup(service, name, version)
    content_type = request.headers.get("content-type")
    call = HttpRequest(
        headers=(("Content-Type", content_type),) if content_type else (), body=await request.body()
    )
    result = await functions.invoke(
        service, name, call, request_id=request_id, qualifier=qualifier, version=version
    )
    headers = {
        "X-Fc-Request-Id": request_id,
        "X-Fc-Duration-Seconds": f"{result.duration:.6f}",
        VERSION_HEADER: result.version,
    }
    if record.runtime != FC_RUNTIME:
        response = Response(result.body, status_code=result.status, headers=headers)
        for key, value in result.headers:
            response.headers.append(key, value)
        return response
    if not result.ok:
        headers["X-Fc-Error-Type"] = "UnhandledInvocationError"
        return Response(result.error_body(), headers=headers, media_type="application/json")
    return Response(result.body, headers=headers, media_type="application/octet-stream")
