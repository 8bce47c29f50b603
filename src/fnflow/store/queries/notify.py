"""Wake-ups for other processes, sent when the transaction commits."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select

from fnflow.store.prepared import Prepared
from fnflow.store.queries.base import Queries

_NOTIFY = Prepared(select(func.pg_notify(bindparam("channel"), bindparam("payload"))))


class NotifyQueries(Queries):
    def notify(self, channel: str, payload: str) -> None:
        """Tell the processes that ``Store.listen`` on ``channel``: delivered when this transaction
        commits, never if it rolls back (payload under 8000 bytes). PostgreSQL sends a repeated
        (channel, payload) of one transaction once. Nothing on SQLite: no other process shares it."""
        if self.conn.dialect.name == "postgresql":
            _NOTIFY.run(self.conn, {"channel": channel, "payload": payload})
