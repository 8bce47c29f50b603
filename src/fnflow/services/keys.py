"""API keys: an id and a secret, with one scope each."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import UTC, datetime

from fnflow.errors import InvalidArgument, NotFound, Unauthorized
from fnflow.services.temporary import MAX_TTL, MIN_TTL, SETTING, TemporaryKey, TemporaryKeys
from fnflow.store import ApiKeyRecord, Store, Tx

SCOPES = ("admin", "invoke", "report-task")
#: What each scope may do: admin everything, invoke run and read, report-task only report tasks.
ALLOWED = {
    "admin": {"admin", "invoke", "report-task"},
    "invoke": {"invoke", "report-task"},
    "report-task": {"report-task"},
}


def new_key(scope: str, description: str = "") -> ApiKeyRecord:
    if scope not in SCOPES:
        raise InvalidArgument(f"scope must be one of {', '.join(SCOPES)}")
    return ApiKeyRecord(
        id="FNF" + secrets.token_hex(10).upper(),
        secret=secrets.token_urlsafe(30),
        scope=scope,
        description=description,
        created_at=datetime.now(UTC),
    )


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


def temporary_keys(tx: Tx) -> TemporaryKeys:
    """The server's maker of temporary credentials (its secret is made at first use)."""
    return TemporaryKeys(bytes.fromhex(tx.setting_or_create(SETTING, lambda: secrets.token_hex(32))))


class KeyService:
    """Keys are cached for ``ttl`` seconds: a key deleted elsewhere (``fnflow keys delete``,
    another node) stops working within that time; deleted through this server, at once."""

    def __init__(self, store: Store, ttl: float = 5.0) -> None:
        self.store = store
        self._ttl = ttl
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}
        self._temporary: TemporaryKeys | None = None

    async def create(self, scope: str, description: str = "") -> ApiKeyRecord:
        record = new_key(scope, description)
        await self.store.write(lambda tx: tx.put_key(record))
        return record

    async def lookup(self, key_id: str) -> ApiKeyRecord | None:
        cached = self._cache.get(key_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        record = await self.store.read(lambda tx: tx.get_key(key_id))
        if record is not None and record.enabled:
            self._cache[key_id] = (time.monotonic(), record)
            return record
        self._cache.pop(key_id, None)
        return None

    async def authenticate(self, key_id: str, secret: str) -> ApiKeyRecord:
        record = await self.lookup(key_id)
        if record is None or not hmac.compare_digest(record.secret, secret):
            raise Unauthorized("the API key is not valid")
        return record

    async def temporary_keys(self) -> TemporaryKeys:
        if self._temporary is None:
            self._temporary = await self.store.write(temporary_keys)
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
