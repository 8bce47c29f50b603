"""The client's secrets, through OpenFaaS' ``/system/secrets``: names and values go in, only names
come out."""

from __future__ import annotations

import base64

from fnflow.client.http import Transport
from fnflow.functions.config import DEFAULT_SERVICE
from fnflow.functions.naming import namespace_of


class SecretMethods(Transport):
    def create_secret(self, name: str, value: bytes, *, service: str = DEFAULT_SERVICE) -> None:
        """A new secret of the service (``ConflictError`` if it has one of that name)."""
        self._call("POST", "/system/secrets", json=_secret(name, service, value))

    def update_secret(self, name: str, value: bytes, *, service: str = DEFAULT_SERVICE) -> None:
        """Replace a secret's value (``NotFoundError`` if there is none); functions read it within seconds."""
        self._call("PUT", "/system/secrets", json=_secret(name, service, value))

    def delete_secret(self, name: str, *, service: str = DEFAULT_SERVICE) -> None:
        self._call("DELETE", "/system/secrets", json={"name": name, "namespace": namespace_of(service)})

    def list_secrets(self, service: str = DEFAULT_SERVICE) -> list[str]:
        """The names of the service's secrets (values are never returned)."""
        found = self._json("GET", "/system/secrets", params={"namespace": namespace_of(service)})
        return [s["name"] for s in found]


def _secret(name: str, service: str, value: bytes) -> dict[str, str]:
    return {"name": name, "namespace": namespace_of(service), "rawValue": base64.b64encode(value).decode()}
