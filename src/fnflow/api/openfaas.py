"""OpenFaaS' system API, so that faas-cli (list, describe, deploy, remove, scale) and OpenFaaS' SDKs
work against fnflow: ``/system/functions``, ``/system/function/{name}``, ``/system/scale-function/{name}``,
``/system/namespaces``, ``/system/info``.

A namespace is an fnflow service; OpenFaaS' ``openfaas-fn``, or none, is the default service,
and is reported as ``openfaas-fn``. A namespace comes from ``?namespace=`` or the body's
``namespace`` (faas-cli sends one or the other, by version); reading from, scaling in or deleting
from a namespace with no functions is a 400, as OpenFaaS answers for a namespace it does not serve.
fnflow runs no images: a deployment runs as a command function when it has an ``envProcess``
(``fprocess``), or proxies to the URL in its ``fnflow.upstream`` annotation; one with only an
image has nothing to run and is refused, pointing to ``fnflow up``, which deploys code from the
handler folders. ``replicas`` is the number of warm instances (``minInstances``, what a scale
sets), ``availableReplicas`` the instances ready in this process (see ``FunctionService.available``).
"""

from __future__ import annotations

import asyncio
import collections
import platform
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from fnflow.api.auth import Admin, Invoke
from fnflow.api.root import root
from fnflow.buildinfo import build_info
from fnflow.errors import InvalidArgument
from fnflow.fdl.timestamps import format_timestamp
from fnflow.functions import openfaas
from fnflow.functions.config import FunctionConfig, config_of
from fnflow.functions.naming import DEFAULT_NAMESPACE, metric_name, namespace_of, service_of
from fnflow.metrics import Metrics
from fnflow.stack import IGNORED_FIELDS
from fnflow.store import FunctionRecord

router = APIRouter(prefix="/system", tags=["openfaas"])

# FunctionDeployment fields that mean nothing without containers, and why (as in a stack file).
IGNORED = {
    "constraints": IGNORED_FIELDS["constraints"],
    "requests": IGNORED_FIELDS["requests"],
    "readOnlyRootFilesystem": IGNORED_FIELDS["readonly_root_filesystem"],
}


class FunctionDeployment(BaseModel):
    """The body of ``POST|PUT /system/functions`` (faas-provider's ``types.FunctionDeployment``)."""

    service: str
    image: str = ""
    namespace: str = ""
    envProcess: str = ""
    envVars: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    limits: dict[str, str] | None = None
    requests: dict[str, str] | None = None
    secrets: list[str] | None = None
    constraints: list[str] | None = None
    readOnlyRootFilesystem: bool = False


class DeleteFunction(BaseModel):
    functionName: str
    namespace: str = ""


class ScaleFunction(BaseModel):
    """faas-provider's ``types.ScaleServiceRequest``."""

    serviceName: str = ""
    namespace: str = ""
    replicas: int = Field(ge=0)


def invocation_counts(metrics: Metrics) -> dict[str, float]:
    """``gateway_function_invocation_total`` summed over status codes, by ``function_name``."""
    counts: collections.defaultdict[str, float] = collections.defaultdict(float)
    for family in metrics.invocations.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                counts[sample.labels["function_name"]] += sample.value
    return counts


def function_status(record: FunctionRecord, counts: dict[str, float], available: int) -> dict[str, Any]:
    """faas-provider's ``types.FunctionStatus`` of a deployed function: what was deployed, as it was
    given (empty settings left out, as OpenFaaS leaves them out), and how many instances run."""
    config = config_of(record)
    given: dict[str, Any] = {
        "envProcess": config.command,
        "envVars": config.environment,
        "constraints": list(config.constraints),
        "secrets": list(config.secrets),
        "labels": config.labels,
        "annotations": config.annotations,
        "limits": config.limits,
        "requests": config.requests,
        "readOnlyRootFilesystem": config.read_only_root_filesystem,
    }
    return {
        "name": record.name,
        "namespace": namespace_of(record.service),
        "image": config.image,
        **{field: value for field, value in given.items() if value},
        "replicas": config.min_instances,
        "availableReplicas": available,
        "invocationCount": counts.get(metric_name(record.service, record.name), 0.0),
        "createdAt": format_timestamp(record.created_at) if record.created_at else None,
    }


def deployment_config(body: FunctionDeployment) -> tuple[FunctionConfig, list[openfaas.Ignored]]:
    """The fnflow function a deployment describes, and what of it has no effect."""
    deployment = openfaas.Deployment(
        name=body.service,
        fprocess=body.envProcess,
        environment=body.envVars or {},
        labels=body.labels or {},
        annotations=body.annotations or {},
        limits=body.limits or {},
        image=body.image,
        requests=body.requests or {},
        secrets=tuple(body.secrets or ()),
        constraints=tuple(body.constraints or ()),
        read_only_root_filesystem=body.readOnlyRootFilesystem,
    )
    try:
        config, notes = openfaas.function_config(deployment, service=service_of(body.namespace))
    except ValueError:
        raise InvalidArgument(
            f"fnflow runs no images, and {body.service} ({body.image or 'no image'}) has nothing else to"
            f" run: give it an envProcess (a command, e.g. 'cat'), or the annotation"
            f" {openfaas.UPSTREAM_ANNOTATION} (a proxy to where it runs), or deploy its handler folder"
            " with `fnflow up -f stack.yml`"
        ) from None
    notes += [openfaas.Ignored(body.service, f, why) for f, why in IGNORED.items() if getattr(body, f)]
    return config, notes


def namespace_in(query: str | None, body: str = "") -> str:
    """The namespace a request names in its query or its body (they must agree), else the default."""
    if query and body and service_of(query) != service_of(body):
        raise InvalidArgument(f"the query names namespace {query!r} and the body {body!r}: name one")
    return query or body or DEFAULT_NAMESPACE


async def _existing_service(request: Request, namespace: str) -> str:
    """The service of a namespace that exists (the default one always does)."""
    service = service_of(namespace)
    if namespace != DEFAULT_NAMESPACE and not await root(request).functions.list(service):
        raise InvalidArgument(f"namespace {namespace!r} does not exist (it has no functions)")
    return service


async def named_function(request: Request, name: str, namespace: str | None) -> tuple[str, str]:
    """(service, function) of ``name`` or ``name.namespace``, with ``namespace`` from the query or body."""
    function, dot, suffix = name.rpartition(".")
    if not dot:
        function, suffix = name, ""
    return await _existing_service(request, namespace_in(namespace, suffix)), function


async def _deploy(request: Request, body: FunctionDeployment, namespace: str | None) -> dict[str, Any]:
    body.namespace = namespace_in(namespace, body.namespace)
    config, notes = deployment_config(body)
    await root(request).functions.deploy(config, None)
    return {"ignored": [{"function": n.function, "field": n.field, "reason": n.reason} for n in notes]}


@router.get("/namespaces")
async def list_namespaces(request: Request, _: Invoke) -> list[str]:
    """The namespaces that have functions, ``openfaas-fn`` (the default) first and always."""
    services = {r.service for r in await root(request).functions.list()}
    return [
        DEFAULT_NAMESPACE,
        *sorted(namespace_of(s) for s in services if namespace_of(s) != DEFAULT_NAMESPACE),
    ]


@router.get("/functions")
async def list_functions(request: Request, _: Invoke, namespace: str | None = None) -> list[dict[str, Any]]:
    """Every function of a namespace (the default one unless ``?namespace=``), with its invocation count."""
    app = root(request)
    service = await _existing_service(request, namespace_in(namespace))
    records = await app.functions.list(service)
    counts = invocation_counts(app.metrics)
    return [function_status(r, counts, app.functions.available(r)) for r in records]


@router.get("/function/{name}")
async def get_function(
    name: str, request: Request, _: Invoke, namespace: str | None = None
) -> dict[str, Any]:
    """One function, by ``name``, ``name.namespace`` or ``name`` and ``?namespace=``."""
    service, function = await named_function(request, name, namespace)
    app = root(request)
    record = await app.functions.get(service, function)
    return function_status(record, invocation_counts(app.metrics), app.functions.available(record))


@router.post("/scale-function/{name}", status_code=202)
async def scale_function(
    name: str, body: ScaleFunction, request: Request, _: Admin, namespace: str | None = None
) -> Response:
    """Set the warm instances of a function (``replicas``, 0 to its maxInstances): 202; 404 if it does
    not exist; 400 above its maximum (fnflow does not clamp as OpenFaaS CE does)."""
    chosen = namespace_in(namespace, body.namespace) if namespace or body.namespace else None
    service, function = await named_function(request, name, chosen)
    await root(request).functions.scale(service, function, body.replicas)
    return Response(status_code=202)


@router.post("/functions", status_code=202)
async def create_function(
    body: FunctionDeployment, request: Request, _: Admin, namespace: str | None = None
) -> dict[str, Any]:
    """Deploy a function (202); an existing one is replaced. ``ignored`` lists settings without effect."""
    return await _deploy(request, body, namespace)


@router.put("/functions")
async def update_function(
    body: FunctionDeployment, request: Request, _: Admin, namespace: str | None = None
) -> dict[str, Any]:
    """Replace a deployed function's settings (404 if it does not exist: faas-cli then POSTs)."""
    service = service_of(namespace_in(namespace, body.namespace))
    await root(request).functions.get(service, body.service)
    return await _deploy(request, body, namespace)


@router.delete("/functions")
async def delete_function(
    body: DeleteFunction, request: Request, _: Admin, namespace: str | None = None
) -> Response:
    """Delete a function of the namespace the query or the body names, never of another (200; 404 if
    that namespace has no such function)."""
    service = await _existing_service(request, namespace_in(namespace, body.namespace))
    await root(request).functions.delete(service, body.functionName)
    return Response(status_code=200)


@router.get("/info")
async def info(_: Invoke) -> dict[str, Any]:
    """The provider and gateway versions, as OpenFaaS' gateway reports them (the sha is
    ``"unknown"`` when fnflow was installed from a file that records no commit)."""
    build = await asyncio.to_thread(build_info)
    version = {"sha": build.sha, "release": build.release}
    return {
        "provider": {"provider": "fnflow", "orchestration": "process", "version": version},
        "version": {"commit_message": build.commit_message, **version},
        "arch": platform.machine(),
    }
