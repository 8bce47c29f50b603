"""API keys: an id and a secret, with one scope each."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime

from fnflow.errors import InvalidArgument, NotFound, Unauthorized
from fnflow.store import ApiKeyRecord, Store

SCOPES = ("admin", "invoke", "report-task")


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
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, ApiKeyRecord] = {}

    async def create(self, scope: str, description: str = "") -> ApiKeyRecord:
        record = new_key(scope, description)
        await self.store.write(lambda tx: tx.put_key(record))
        return record

    async def lookup(self, key_id: str) -> ApiKeyRecord | None:
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        record = await self.store.read(lambda tx: tx.get_key(key_id))
        if record is not None and record.enabled:
            self._cache[key_id] = record
            return record
        return None

    async def authenticate(self, key_id: str, secret: str) -> ApiKeyRecord:
        record = await self.lookup(key_id)
        if record is None or not hmac.compare_digest(record.secret, secret):
            raise Unauthorized("the API key is not valid")
        return record

    async def list(self) -> list[ApiKeyRecord]:
        return await self.store.read(lambda tx: tx.list_keys())

    async def delete(self, key_id: str) -> None:
        if not await self.store.write(lambda tx: tx.delete_key(key_id)):
            raise NotFound(f"key {key_id!r} does not exist")
        self._cache.pop(key_id, None)
