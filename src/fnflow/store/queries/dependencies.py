"""What functions import besides their code: environments (installed requirements) and layers.

Both are shared by every function that names them and are kept until none does: a deploy that
names one marks it used (``used_at``), and the prune deletes only those unused since a cutoff, so a
prune racing a deploy never takes what that deploy just named.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, delete, select, update

from fnflow.store.queries.base import Queries, dialect_insert, from_ts_req, to_ts
from fnflow.store.records import EnvironmentRecord
from fnflow.store.schema import function_environments, function_layers


def _environment(row: Row[Any]) -> EnvironmentRecord:
    m = row._mapping
    return EnvironmentRecord(
        hash=m["hash"],
        python=m["python"],
        requirements=m["requirements"],
        packages=tuple((str(name), str(version)) for name, version in json.loads(m["packages"])),
        created_at=from_ts_req(m["created_at"]),
        used_at=from_ts_req(m["used_at"]),
    )


class DependencyQueries(Queries):
    def put_environment(self, record: EnvironmentRecord) -> EnvironmentRecord:
        """Record an environment, or mark the recorded one used at ``record.used_at``: what the first
        build resolved stays (other processes install those versions). Returns the stored one."""
        insert = dialect_insert(self.conn.dialect.name, function_environments).values(
            hash=record.hash,
            python=record.python,
            requirements=record.requirements,
            packages=json.dumps([list(p) for p in record.packages]),
            created_at=to_ts(record.created_at),
            used_at=to_ts(record.used_at),
        )
        if not self.conn.execute(insert.on_conflict_do_nothing()).rowcount:
            self.conn.execute(
                update(function_environments)
                .where(function_environments.c.hash == record.hash)
                .values(used_at=to_ts(record.used_at))
            )
        stored = self.get_environment(record.hash)
        assert stored is not None
        return stored

    def get_environment(self, hash: str) -> EnvironmentRecord | None:
        row = self.conn.execute(
            select(function_environments).where(function_environments.c.hash == hash)
        ).first()
        return None if row is None else _environment(row)

    def prune_environments(self, keep: Collection[str], unused_since: datetime) -> list[str]:
        """Delete the environments not in ``keep`` and not used since ``unused_since``; their hashes."""
        return self._prune(function_environments, "hash", keep, unused_since)

    def put_layer(self, checksum: str, code: bytes, now: datetime) -> None:
        """Store a layer's zip under its checksum (once), or mark the stored one used."""
        insert = dialect_insert(self.conn.dialect.name, function_layers).values(
            checksum=checksum, code=code, created_at=to_ts(now), used_at=to_ts(now)
        )
        if not self.conn.execute(insert.on_conflict_do_nothing()).rowcount:
            self.touch_layers([checksum], now)

    def touch_layers(self, checksums: Collection[str], now: datetime) -> set[str]:
        """Mark these layers used; the checksums of those that are stored."""
        if not checksums:
            return set()
        table = function_layers
        query = update(table).where(table.c.checksum.in_(list(checksums))).values(used_at=to_ts(now))
        return set(self.conn.execute(query.returning(table.c.checksum)).scalars())

    def get_layer_code(self, checksum: str) -> bytes | None:
        query = select(function_layers.c.code).where(function_layers.c.checksum == checksum)
        return self.conn.execute(query).scalar()

    def prune_layers(self, keep: Collection[str], unused_since: datetime) -> list[str]:
        """Delete the layers not in ``keep`` and not used since ``unused_since``; their checksums."""
        return self._prune(function_layers, "checksum", keep, unused_since)

    def _prune(self, table: Table, key: str, keep: Collection[str], unused_since: datetime) -> list[str]:
        query = delete(table).where(table.c.used_at < to_ts(unused_since))
        if keep:
            query = query.where(table.c[key].not_in(list(keep)))
        return sorted(self.conn.execute(query.returning(table.c[key])).scalars())
