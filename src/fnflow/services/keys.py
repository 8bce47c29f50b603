"""API keys: an id and a secret, with one scope each.

The secret is kept, not hashed: FnF request signatures are HMAC-SHA1 keyed with it, as Alibaba's
SDKs compute them, so the server needs it as it was. It is sealed at rest instead, with the server
key that seals secrets (``fnflow.secretbox``): a copy of the database alone reveals no usable key.
A key made where no server key is at hand (``fnflow keys create`` on PostgreSQL without
``--secret-key-file``) is stored plain and sealed by the first server that has the key.

Revocation and rotation: a process caches a key it has checked for ``ttl`` seconds (the
``key_cache_seconds`` setting, 5 by default). A key deleted or rotated through a process stops
working there at once; on every other process, and when changed with ``fnflow keys`` directly in
the database, within ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import logging
import secrets
import time
from datetime import UTC, datetime

from fnflow.consttime import same
from fnflow.errors import InvalidArgument, NotFound, Unauthorized
from fnflow.secretbox import SecretBox, SecretUnavailable
from fnflow.services.temporary import MAX_TTL, MIN_TTL, SETTING, TemporaryKey, TemporaryKeys
from fnflow.store import ApiKeyRecord, Store, Tx

log = logging.getLogger(__name__)

SCOPES = ("admin", "invoke", "report-task")
#: What each scope may do: admin everything, invoke run and read, report-task only report tasks.
ALLOWED = {
    "admin": {"admin", "invoke", "report-task"},
    "invoke": {"invoke", "report-task"},
    "report-task": {"report-task"},
}
#: The namespace of key secrets in the server key's seals (no function namespace has a space).
NAMESPACE = "api key"
INTERNAL_SETTING = "internal_key_id"
SEALED = "sealed:"  # a setting's value sealed with the server key: sealed:<key id>:<base64>


def new_secret() -> str:
    return secrets.token_urlsafe(30)


def new_key(scope: str, description: str = "") -> ApiKeyRecord:
    if scope not in SCOPES:
        raise InvalidArgument(f"scope must be one of {', '.join(SCOPES)}")
    return ApiKeyRecord(
        id="FNF" + secrets.token_hex(10).upper(),
        secret=new_secret(),
        scope=scope,
        description=description,
        created_at=datetime.now(UTC),
    )


def seal_key(box: SecretBox, record: ApiKeyRecord) -> ApiKeyRecord:
    """``record`` as the store should hold it: its secret sealed if ``box`` has a key, else as is."""
    if box.key is None or record.sealed is not None:
        return record
    sealed = box.seal(NAMESPACE, record.id, record.secret.encode())
    return dataclasses.replace(record, secret="", sealed=sealed, sealed_with=box.key_id)


def open_key(box: SecretBox, record: ApiKeyRecord) -> ApiKeyRecord:
    """``record`` with its secret in plain text; SecretUnavailable (503) if ``box`` cannot open it."""
    if record.sealed is None:
        return record
    secret = box.open(NAMESPACE, record.id, record.sealed, record.sealed_with or "").decode()
    return dataclasses.replace(record, secret=secret, sealed=None, sealed_with=None)


def issue_temporary(
    keys: TemporaryKeys, parent: ApiKeyRecord, scope: str | None, ttl: float, now: datetime
) -> TemporaryKey:
    """Temporary credentials of ``parent``'s key, with its scope or a narrower one."""
    scope = scope or parent.scope
    if scope not in SCOPES:
        raise InvalidArgument(f"scope must be one of {', '.join(SCOPES)}")
    if not ALLOWED[scope] <= ALLOWED[parent.scope]:
        raise InvalidArgument(f"a key with scope {parent.scope!r} cannot give scope {scope!r}")
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise InvalidArgument(f"the duration must be {MIN_TTL:.0f} to {MAX_TTL:.0f} seconds")
    return keys.mint(parent.id, scope, ttl, now)


def temporary_keys(box: SecretBox, tx: Tx) -> TemporaryKeys:
    """The server's maker of temporary credentials. Its secret, made at first use, is sealed like
    the keys' (whoever reads it can make credentials of any key), once a server key is at hand.
    One sealed with another server key is replaced, as the internal key is: it is fnflow's own,
    and only the temporary credentials it made stop working."""
    stored = tx.setting_or_create(SETTING, lambda: _seal_setting(box, secrets.token_hex(32)))
    if stored.startswith(SEALED):
        _, key_id, sealed = stored.split(":", 2)
        try:
            value = box.open(NAMESPACE, SETTING, base64.b64decode(sealed), key_id).decode()
        except SecretUnavailable as e:
            log.warning("%s; made a new one: temporary credentials made before do not work here", e)
            value = secrets.token_hex(32)
            tx.set_setting(SETTING, _seal_setting(box, value))
    else:
        value = stored
        if box.key is not None:
            tx.set_setting(SETTING, _seal_setting(box, value))
    return TemporaryKeys(bytes.fromhex(value))


def _seal_setting(box: SecretBox, value: str) -> str:
    if box.key is None:
        return value
    sealed = base64.b64encode(box.seal(NAMESPACE, SETTING, value.encode())).decode()
    return f"{SEALED}{box.key_id}:{sealed}"


class KeyService:
    def __init__(self, store: Store, box: SecretBox, ttl: float = 5.0) -> None:
        self.store = store
        self.box = box
        self.ttl = ttl
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}
        self._temporary: TemporaryKeys | None = None

    async def create(self, scope: str, description: str = "") -> ApiKeyRecord:
        """A new key; the record returned holds its secret in plain text (show it once)."""
        record = new_key(scope, description)
        sealed = seal_key(self.box, record)
        await self.store.write(lambda tx: tx.put_key(sealed))
        return record

    async def internal(self) -> ApiKeyRecord:
        """The key functions use to call fnflow back (FC hands out role credentials the same way).
        One this process cannot open (sealed with another server key) is replaced: it is fnflow's
        own, and functions are given the new one."""

        def get_or_make(tx: Tx, replace: bool) -> ApiKeyRecord:
            key_id = tx.get_setting(INTERNAL_SETTING)
            record = tx.get_key(key_id) if key_id else None
            if record is None or replace:
                if record is not None:
                    tx.delete_key(record.id)
                record = new_key(
                    "invoke", "used by functions to call fnflow back (context.credentials, FNFLOW_API_KEY)"
                )
                tx.put_key(seal_key(self.box, record))
                tx.set_setting(INTERNAL_SETTING, record.id)
            return record

        stored = await self.store.write(lambda tx: get_or_make(tx, False))
        try:
            return open_key(self.box, stored)
        except SecretUnavailable:
            return open_key(self.box, await self.store.write(lambda tx: get_or_make(tx, True)))

    async def seal_stored(self) -> int:
        """Seal the secrets still stored in plain text (keys from before sealing, or made without the
        server key); how many. Nothing without a server key."""
        if self.box.key is None:
            return 0
        plain = [k for k in await self.store.read(lambda tx: tx.list_keys()) if k.sealed is None]
        sealed = [seal_key(self.box, k) for k in plain]
        if not sealed:
            return 0
        done = await self.store.write(lambda tx: [tx.set_key_secret(k, only_if_plain=True) for k in sealed])
        await asyncio.to_thread(self.store.forget_overwritten)
        return sum(done)

    async def unreadable(self) -> int:
        """How many keys are sealed with another server key than this process's (it refuses them)."""
        stored = await self.store.read(lambda tx: tx.list_keys())
        return sum(1 for k in stored if k.sealed is not None and k.sealed_with != self.box.key_id)

    async def rotate(self, key_id: str) -> ApiKeyRecord:
        """Give a key a new secret (same id and scope); the old one stops working at once here, and
        within ``ttl`` seconds on other processes. The record returned holds the new secret."""
        record = await self.store.read(lambda tx: tx.get_key(key_id))
        if record is None:
            raise NotFound(f"key {key_id!r} does not exist")
        rotated = dataclasses.replace(record, secret=new_secret(), sealed=None, sealed_with=None)
        stored = seal_key(self.box, rotated)
        if not await self.store.write(lambda tx: tx.set_key_secret(stored)):
            raise NotFound(f"key {key_id!r} does not exist")
        self._cache.pop(key_id, None)
        return rotated

    async def lookup(self, key_id: str, *, fresh: bool = False) -> ApiKeyRecord | None:
        """The enabled key ``key_id`` with its secret in plain text, or None; ``fresh``: not from
        the cache (a secret that does not match may be a new one, rotated elsewhere)."""
        cached = self._cache.get(key_id)
        if not fresh and cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        record = await self.store.read(lambda tx: tx.get_key(key_id))
        if record is None or not record.enabled:
            self._cache.pop(key_id, None)
            return None
        if record.sealed is None and self.box.key is not None:
            sealed = seal_key(self.box, record)  # made without the server key: seal it now
            await self.store.write(lambda tx: tx.set_key_secret(sealed, only_if_plain=True))
        record = open_key(self.box, record)
        self._cache[key_id] = (time.monotonic(), record)
        return record

    async def authenticate(self, key_id: str, secret: str) -> ApiKeyRecord:
        record = await self.lookup(key_id)
        if record is not None and not same(record.secret, secret):
            record = await self.lookup(key_id, fresh=True)
        if record is None or not same(record.secret, secret):
            raise Unauthorized("the API key is not valid")
        return record

    async def temporary_keys(self) -> TemporaryKeys:
        if self._temporary is None:
            self._temporary = await self.store.write(functools.partial(temporary_keys, self.box))
        return self._temporary

    async def issue_temporary(
        self, parent_id: str, *, scope: str | None = None, ttl: float = 3600
    ) -> TemporaryKey:
        """STS-style credentials (id, secret, security token) of a key, for ``ttl`` seconds."""
        parent = await self.lookup(parent_id)
        if parent is None:
            raise NotFound(f"key {parent_id!r} does not exist")
        return issue_temporary(await self.temporary_keys(), parent, scope, ttl, datetime.now(UTC))

    async def open_temporary(self, access_key_id: str, security_token: str) -> ApiKeyRecord:
        """The key that temporary credentials stand for: their id and secret, their scope;
        ``InvalidSecurityToken`` or ``Unauthorized`` (their key is gone) if they are not good."""
        now = datetime.now(UTC)
        key = (await self.temporary_keys()).open(access_key_id, security_token, now)
        if await self.lookup(key.parent_id) is None:
            raise Unauthorized(f"the key of these temporary credentials ({key.parent_id}) no longer exists")
        description = f"temporary credentials of {key.parent_id}"
        return ApiKeyRecord(key.access_key_id, key.access_key_secret, key.scope, description, now)

    async def signer(self, key_id: str, security_token: str | None) -> ApiKeyRecord | None:
        """The key a signed request names: one of fnflow's keys, or (with ``security_token``)
        temporary credentials as ``open_temporary`` opens them; None if there is no such key."""
        if security_token is not None:
            return await self.open_temporary(key_id, security_token)
        return await self.lookup(key_id)

    async def use_nonce(self, key_id: str, nonce: str, until: datetime) -> bool:
        """Remember a signed request's nonce until ``until``; False if it was used (a replay)."""
        now = datetime.now(UTC)
        return await self.store.write(lambda tx: tx.use_nonce(key_id, nonce, until, now))

    async def list(self) -> list[ApiKeyRecord]:
        return await self.store.read(lambda tx: tx.list_keys())

    async def delete(self, key_id: str) -> None:
        if not await self.store.write(lambda tx: tx.delete_key(key_id)):
            raise NotFound(f"key {key_id!r} does not exist")
        self._cache.pop(key_id, None)
