"""Secrets, stored encrypted; listing reads names only, never values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, select, update

from fnflow.store.queries.base import Queries, dialect_insert, from_ts_req, to_ts
from fnflow.store.records import SecretRecord
from fnflow.store.schema import secrets


def _secret(row: Row[Any]) -> SecretRecord:
    m = row._mapping
    return SecretRecord(
        service=m["service"],
        name=m["name"],
        value=m["value"],
        key_id=m["key_id"],
        created_at=from_ts_req(m["created_at"]),
        updated_at=from_ts_req(m["updated_at"]),
    )


class SecretQueries(Queries):
    def create_secret(self, record: SecretRecord) -> bool:
        """Store a new secret; False (and nothing written) if one of that name exists."""
        insert = dialect_insert(self.conn.dialect.name, secrets).values(
            service=record.service,
            name=record.name,
            value=record.value,
            key_id=record.key_id,
            created_at=to_ts(record.created_at),
            updated_at=to_ts(record.updated_at),
        )
        return bool(self.conn.execute(insert.on_conflict_do_nothing()).rowcount > 0)

    def update_secret(self, service: str, name: str, value: bytes, key_id: str, now: datetime) -> bool:
        """Replace a secret's value; False if it does not exist."""
        query = (
            update(secrets)
            .where(secrets.c.service == service, secrets.c.name == name)
            .values(value=value, key_id=key_id, updated_at=to_ts(now))
        )
        return bool(self.conn.execute(query).rowcount > 0)

    def delete_secret(self, service: str, name: str) -> bool:
        query = delete(secrets).where(secrets.c.service == service, secrets.c.name == name)
        return bool(self.conn.execute(query).rowcount > 0)

    def list_secrets(self, service: str) -> list[str]:
        """The names of a service's secrets, sorted."""
        query = select(secrets.c.name).where(secrets.c.service == service).order_by(secrets.c.name)
        return list(self.conn.execute(query).scalars())

    def get_secrets(self, service: str, names: Sequence[str]) -> list[SecretRecord]:
        """The secrets of ``names`` that exist, by name."""
        query = (
            select(secrets)
            .where(secrets.c.service == service, secrets.c.name.in_(list(names)))
            .order_by(secrets.c.name)
        )
        return [_secret(r) for r in self.conn.execute(query)]

    def secret_versions(self, service: str, names: Sequence[str]) -> list[tuple[str, float]]:
        """(name, last change) of the secrets of ``names`` that exist: enough to tell a change."""
        query = (
            select(secrets.c.name, secrets.c.updated_at)
            .where(secrets.c.service == service, secrets.c.name.in_(list(names)))
            .order_by(secrets.c.name)
        )
        return [(r.name, r.updated_at) for r in self.conn.execute(query)]

    def count_secrets_by_key(self) -> dict[str, int]:
        """How many secrets each key encrypts."""
        query = select(secrets.c.key_id, func.count()).group_by(secrets.c.key_id)
        return {str(row[0]): int(row[1]) for row in self.conn.execute(query)}
