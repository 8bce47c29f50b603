"""The built-in request bin: the most recent requests each bin received."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select

from fnflow.store.queries.base import Queries, from_ts_req, to_ts
from fnflow.store.records import BinRequest
from fnflow.store.schema import bin_requests


def _request(row: Row[Any]) -> BinRequest:
    m = dict(row._mapping)
    m["received_at"] = from_ts_req(m["received_at"])
    return BinRequest(**m)


class BinQueries(Queries):
    def add_bin_request(self, request: BinRequest, keep: int = 100) -> int:
        """Record a request; only the newest ``keep`` of each bin are kept."""
        values = {k: getattr(request, k) for k in (c.name for c in bin_requests.c) if k != "id"}
        values["received_at"] = to_ts(request.received_at)
        new_id = int(
            self.conn.execute(insert(bin_requests).values(**values).returning(bin_requests.c.id)).scalar_one()
        )
        oldest_kept = (
            select(bin_requests.c.id)
            .where(bin_requests.c.bin == request.bin)
            .order_by(bin_requests.c.id.desc())
            .offset(keep - 1)
            .limit(1)
            .scalar_subquery()
        )
        self.conn.execute(
            delete(bin_requests).where(bin_requests.c.bin == request.bin, bin_requests.c.id < oldest_kept)
        )
        return new_id

    def bin_requests(self, bin: str, limit: int = 100) -> list[BinRequest]:
        """Newest first."""
        query = (
            select(bin_requests)
            .where(bin_requests.c.bin == bin)
            .order_by(bin_requests.c.id.desc())
            .limit(limit)
        )
        return [_request(r) for r in self.conn.execute(query)]
