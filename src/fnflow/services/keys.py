"""API keys: an id and a secret, with one scope each."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import UTC, datetime

from fnflow.errors import InvalidArgument, NotFound, Unauthorized
from fnflow.store import ApiKeyRecord, Store

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


class KeyService:
    """Keys are cached for ``ttl`` seconds: a key deleted elsewhere (``fnflow keys delete``,
    another node) stops working within that time; deleted through this server, at once."""

    def __init__(self, store: Store, ttl: float = 5.0) -> None:
        self.store = store
        self._ttl = ttl
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}

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
