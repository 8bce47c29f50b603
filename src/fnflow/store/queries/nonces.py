"""Nonces of signed requests, remembered while a replay of their request could be accepted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from fnflow.store.queries.base import Queries, dialect_insert, to_ts
from fnflow.store.schema import request_nonces


class NonceQueries(Queries):
    def use_nonce(self, key_id: str, nonce: str, expires_at: datetime, now: datetime) -> bool:
        """Remember ``nonce`` of ``key_id`` until ``expires_at``; False if it is already remembered
        (the request is a replay). Forgets the nonces that expired by ``now``."""
        self.conn.execute(delete(request_nonces).where(request_nonces.c.expires_at < to_ts(now)))
        inserted = self.conn.execute(
            dialect_insert(self.conn.dialect.name, request_nonces)
            .values(key_id=key_id, nonce=nonce, expires_at=to_ts(expires_at))
            .on_conflict_do_nothing()
        )
        return bool(inserted.rowcount)
