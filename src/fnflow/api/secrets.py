"""OpenFaaS' ``/system/secrets``, as ``faas-cli secret`` calls it: list names, create, replace and
delete. A value is never returned; a namespace is a service, as on the other ``/system`` routes,
and any valid one may hold secrets (a function deployed there later reads them)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from fnflow.api.auth import Admin, Invoke
from fnflow.api.openfaas import namespace_in
from fnflow.api.root import root
from fnflow.errors import InvalidArgument
from fnflow.functions.config import NAME
from fnflow.functions.naming import namespace_of, service_of

router = APIRouter(prefix="/system", tags=["openfaas"])


class Secret(BaseModel):
    """faas-provider's ``types.Secret``: ``rawValue`` (base64, for bytes) wins over ``value``."""

    name: str
    namespace: str = ""
    value: str = ""
    rawValue: str = ""

    def bytes(self) -> bytes:
        if not self.rawValue:
            try:
                return self.value.encode()
            except UnicodeEncodeError:  # JSON may carry a lone surrogate, which is no text
                raise InvalidArgument("value must be text (it has a lone UTF-16 surrogate)") from None
        try:
            return base64.b64decode(self.rawValue, validate=True)
        except ValueError:  # binascii.Error, or characters outside ASCII
            raise InvalidArgument("rawValue must be base64") from None


class SecretName(BaseModel):
    name: str
    namespace: str = ""


def _service(query: str | None, body: str = "") -> str:
    service = service_of(namespace_in(query, body))
    if not NAME.match(service):
        raise InvalidArgument(f"namespace {service!r} must match [A-Za-z_][A-Za-z0-9_-]{{0,127}}")
    return service


@router.get("/secrets")
async def list_secrets(request: Request, _: Invoke, namespace: str | None = None) -> list[dict[str, str]]:
    """The secrets of a namespace, by name: ``[{"name", "namespace"}]`` (never their values)."""
    service = _service(namespace)
    names = await root(request).secrets.names(service)
    return [{"name": name, "namespace": namespace_of(service)} for name in names]


@router.post("/secrets", status_code=201)
async def create_secret(body: Secret, request: Request, _: Admin, namespace: str | None = None) -> Response:
    """Create a secret: 201; 409 if it exists (``faas-cli secret create --replace`` then updates)."""
    await root(request).secrets.create(_service(namespace, body.namespace), body.name, body.bytes())
    return Response(status_code=201)


@router.put("/secrets")
async def update_secret(body: Secret, request: Request, _: Admin, namespace: str | None = None) -> Response:
    """Replace a secret's value: 200; 404 if it does not exist."""
    await root(request).secrets.update(_service(namespace, body.namespace), body.name, body.bytes())
    return Response(status_code=200)


@router.delete("/secrets", status_code=204)
async def delete_secret(
    body: SecretName, request: Request, _: Admin, namespace: str | None = None
) -> Response:
    """Delete a secret: 204; 404 if it does not exist. Functions naming it fail until it is back."""
    await root(request).secrets.delete(_service(namespace, body.namespace), body.name)
    return Response(status_code=204)
