"""API keys. A secret is kept (FnF request signatures are HMACs keyed with it), sealed by the
services with the server key; ``secret`` holds it in plain text only for rows not sealed yet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from fnflow.store.queries.base import Queries, from_ts_req, to_ts
from fnflow.store.records import ApiKeyRecord
from fnflow.store.schema import api_keys


def _key(row: Row[Any]) -> ApiKeyRecord:
    m = row._mapping
    return ApiKeyRecord(
        m["id"],
        m["secret"],
        m["scope"],
        m["description"],
        from_ts_req(m["created_at"]),
        m["enabled"],
        m["sealed_secret"],
        m["secret_key_id"],
    )


class KeyQueries(Queries):
    def put_key(self, record: ApiKeyRecord) -> None:
        self.conn.execute(
            insert(api_keys).values(
                id=record.id,
                secret=record.secret,
                scope=record.scope,
                description=record.description,
                created_at=to_ts(record.created_at),
                enabled=record.enabled,
                sealed_secret=record.sealed,
                secret_key_id=record.sealed_with,
            )
        )

    def get_key(self, key_id: str) -> ApiKeyRecord | None:
        row = self.conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else _key(row)

    def list_keys(self) -> list[ApiKeyRecord]:
        return [_key(r) for r in self.conn.execute(select(api_keys).order_by(api_keys.c.created_at))]

    def set_key_secret(self, record: ApiKeyRecord, *, only_if_plain: bool = False) -> bool:
        """Store ``record``'s secret (plain or sealed) for its key; False if the key is gone (or,
        with ``only_if_plain``, already sealed: another process sealed it first)."""
        query = update(api_keys).where(api_keys.c.id == record.id)
        if only_if_plain:
            query = query.where(api_keys.c.sealed_secret.is_(None))
        values = {
            "secret": record.secret,
            "sealed_secret": record.sealed,
            "secret_key_id": record.sealed_with,
        }
        return self.conn.execute(query.values(**values)).rowcount > 0

    def delete_key(self, key_id: str) -> bool:
        return self.conn.execute(delete(api_keys).where(api_keys.c.id == key_id)).rowcount > 0
