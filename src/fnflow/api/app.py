"""The ASGI application: routers, error mapping, body limits, and fnflow's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from fnflow import __version__, console
from fnflow.api import (
    bins,
    calls,
    documented,
    errors,
    executions,
    flows,
    functions,
    graphs,
    logs,
    openfaas,
    queues,
    schedules,
    secrets,
    stacks,
    system,
    topics,
    versions,
)
from fnflow.api.gateway import Gateway
from fnflow.api.hotroutes import HotRoutes
from fnflow.api.limits import BodyLimit
from fnflow.api.mns import MnsApi
from fnflow.api.root import attach
from fnflow.api.rpc import FnfRpc
from fnflow.api.triggers import HttpTriggers
from fnflow.app import Fnflow
from fnflow.config import Settings

#: FastAPI tries a request against the routes one by one (about 4 µs each on 2 vCPUs, 200 µs to
#: reach a queue's messages last time): the routers clients call for every execution, task report
#: and message come first. No two routes take the same request (tests/unit/test_api_routes.py),
#: so the order changes how soon a route is found, never which.
ROUTERS = (
    executions,
    queues,
    calls,
    flows,
    functions,
    topics,
    system,
    schedules,
    graphs,
    bins,
    openfaas,
    logs,
    stacks,
    secrets,
    versions,
)


def create_app(fnflow: Fnflow) -> FnfRpc:
    """Build the API around ``fnflow``, opened before the server starts (``fnflow server`` does that
    once the port and the database are its own) and closed when it shuts down."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await fnflow.close()

    app = FastAPI(
        title="fnflow",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's page loads its scripts from a CDN; the console serves its own /docs
        redoc_url=None,
        description="Durable FDL workflows and functions, self-hosted. Errors are {code, message}.",
    )
    attach(app, fnflow)
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    console.install(app)
    documented.install(app)
    app.add_middleware(BodyLimit, max_bytes=fnflow.settings.max_request_bytes, exempt=(stacks.router.prefix,))
    return FnfRpc(MnsApi(Gateway(HttpTriggers(HotRoutes(app, fnflow), fnflow), fnflow), fnflow), fnflow)


def openapi_document() -> dict[str, Any]:
    """The document ``/openapi.json`` serves, without a server (for tools and tests)."""
    app: object = create_app(Fnflow(Settings()))
    while not isinstance(app, FastAPI):
        app = app.app  # type: ignore[attr-defined]  # the plain ASGI layers in front of FastAPI
    return app.openapi()
