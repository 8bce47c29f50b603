"""Secrets (OpenFaaS' ``/system/secrets``): create, replace, delete and list them by name, and give
their values to the functions that name them. Values are sealed by ``SecretBox`` before they
reach the store; nothing here logs, returns or records a value anywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from fnflow.errors import Conflict, InvalidArgument, NotFound
from fnflow.functions.config import check_secret_name
from fnflow.functions.naming import namespace_of
from fnflow.secretbox import SecretBox, SecretUnavailable
from fnflow.store import SecretRecord, Store

MAX_VALUE_BYTES = 512 * 1024
log = logging.getLogger(__name__)


class SecretService:
    def __init__(self, store: Store, box: SecretBox) -> None:
        self.store = store
        self.box = box

    async def create(self, service: str, name: str, value: bytes) -> None:
        """A new secret (Conflict if the namespace has one of that name)."""
        sealed = self._seal(service, name, value)
        now = datetime.now(UTC)
        record = SecretRecord(service, name, sealed, self.box.key_id, now, now)
        if not await self.store.write(lambda tx: tx.create_secret(record)):
            raise Conflict(f"secret {name!r} already exists in namespace {namespace_of(service)!r}")

    async def update(self, service: str, name: str, value: bytes) -> None:
        """Replace a secret's value (NotFound if it does not exist); functions read the new one
        within seconds."""
        sealed = self._seal(service, name, value)
        now = datetime.now(UTC)
        key_id = self.box.key_id
        if not await self.store.write(lambda tx: tx.update_secret(service, name, sealed, key_id, now)):
            raise NotFound(f"secret {name!r} does not exist in namespace {namespace_of(service)!r}")

    async def delete(self, service: str, name: str) -> None:
        check_secret_name(name)
        if not await self.store.write(lambda tx: tx.delete_secret(service, name)):
            raise NotFound(f"secret {name!r} does not exist in namespace {namespace_of(service)!r}")

    async def names(self, service: str) -> list[str]:
        return await self.store.read(lambda tx: tx.list_secrets(service))

    async def values(self, service: str, names: Sequence[str]) -> dict[str, bytes]:
        """The values of the secrets a function names; SecretUnavailable, naming the secret, if one
        does not exist or this process cannot decrypt it."""
        found = {r.name: r for r in await self.store.read(lambda tx: tx.get_secrets(service, names))}
        missing = sorted(set(names) - set(found))
        if missing:
            raise SecretUnavailable(
                f"secret {missing[0]!r} does not exist in namespace {namespace_of(service)!r}"
                f" (create it with `fnflow secret create {missing[0]}`)"
            )
        return {name: self.box.open(service, name, r.value, r.key_id) for name, r in found.items()}

    async def check_key(self) -> None:
        """Say in the server log, at start, if this process cannot read some of the secrets."""
        counts = await self.store.read(lambda tx: tx.count_secrets_by_key())
        foreign = {key: n for key, n in counts.items() if key != self.box.key_id}
        if not foreign:
            return
        keys = ", ".join(f"{n} with key {key}" for key, n in sorted(foreign.items()))
        mine = f"key {self.box.key_id} from {self.box.path}" if self.box.key else f"no key ({self.box.path})"
        log.error(
            "this process cannot decrypt %d secret(s) (%s); it has %s. Functions naming them fail until"
            " every process sharing the database has the same --secret-key-file (or the secrets are"
            " updated with the new key)",
            sum(foreign.values()),
            keys,
            mine,
        )

    def _seal(self, service: str, name: str, value: bytes) -> bytes:
        check_secret_name(name)
        if not value:
            raise InvalidArgument(f"secret {name!r} needs a value: value (text) or rawValue (base64)")
        if len(value) > MAX_VALUE_BYTES:
            raise InvalidArgument(
                f"the value of secret {name!r} is {len(value)} bytes, more than the {MAX_VALUE_BYTES} allowed"
            )
        return self.box.seal(service, name, value)
