"""Service versions (immutable snapshots of a service's functions) and aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, or_, select, update

from fnflow.errors import Conflict
from fnflow.store.queries.base import Queries, dialect_insert, from_ts_req, to_ts
from fnflow.store.queries.functions import function_of
from fnflow.store.records import AliasRecord, FunctionRecord, ServiceVersionRecord
from fnflow.store.schema import (
    execution_pins,
    function_versions,
    functions,
    service_aliases,
    service_versions,
    version_code,
)

_SNAPSHOT = [c for c in functions.c if c.name not in ("code", "service", "name", "created_at", "updated_at")]


def _version_function(row: Row[Any]) -> FunctionRecord:
    """A function as a version snapshotted it (a snapshot is never modified after it was made)."""
    m = row._mapping
    return function_of({**m, "updated_at": m["created_at"]})


def _alias(row: Row[Any]) -> AliasRecord:
    m = row._mapping
    return AliasRecord(
        service=m["service"],
        name=m["name"],
        version_id=m["version_id"],
        additional_version_id=m["additional_version_id"],
        additional_weight=m["additional_weight"],
        description=m["description"],
        created_at=from_ts_req(m["created_at"]),
        updated_at=from_ts_req(m["updated_at"]),
        reserved_instances=m["reserved_instances"],
    )


class VersionQueries(Queries):
    def publish_service_version(
        self, service: str, description: str, digest: str, now: datetime
    ) -> ServiceVersionRecord:
        """Snapshot the service's functions (as they are in this transaction) as its next version.

        The caller has checked that the service has functions and that ``digest`` differs from the
        last version's; all of it is one transaction, so a crash leaves the whole version or none."""
        last = self.conn.execute(
            select(func.max(service_versions.c.version_id)).where(service_versions.c.service == service)
        ).scalar()
        version_id = int(last or 0) + 1
        inserted = self.conn.execute(
            dialect_insert(self.conn.dialect.name, service_versions)
            .values(
                service=service,
                version_id=version_id,
                description=description,
                digest=digest,
                created_at=to_ts(now),
            )
            .on_conflict_do_nothing()
        ).rowcount
        if not inserted:
            raise Conflict(f"another publish of service {service!r} made version {version_id}; try again")
        rows = self.conn.execute(select(functions).where(functions.c.service == service)).all()
        insert_code = dialect_insert(self.conn.dialect.name, version_code)
        for row in rows:
            m = row._mapping
            if m["code_checksum"]:
                self.conn.execute(
                    insert_code.values(
                        checksum=m["code_checksum"], code=m["code"], created_at=to_ts(now)
                    ).on_conflict_do_nothing()
                )
            self.conn.execute(
                function_versions.insert().values(
                    service=service,
                    version_id=version_id,
                    name=m["name"],
                    created_at=to_ts(now),
                    **{c.name: m[c.name] for c in _SNAPSHOT},
                )
            )
        found = self.get_service_version(service, version_id)
        assert found is not None
        return found

    def last_service_version(self, service: str) -> ServiceVersionRecord | None:
        last = self.conn.execute(
            select(func.max(service_versions.c.version_id)).where(service_versions.c.service == service)
        ).scalar()
        return None if last is None else self.get_service_version(service, int(last))

    def get_service_version(self, service: str, version_id: int) -> ServiceVersionRecord | None:
        row = self.conn.execute(
            select(service_versions).where(
                service_versions.c.service == service, service_versions.c.version_id == version_id
            )
        ).first()
        if row is None:
            return None
        names = self.conn.execute(
            select(function_versions.c.name)
            .where(function_versions.c.service == service, function_versions.c.version_id == version_id)
            .order_by(function_versions.c.name)
        ).scalars()
        m = row._mapping
        return ServiceVersionRecord(
            service, version_id, m["description"], m["digest"], from_ts_req(m["created_at"]), tuple(names)
        )

    def list_service_versions(self, service: str) -> list[ServiceVersionRecord]:
        """The service's versions, newest first."""
        ids = self.conn.execute(
            select(service_versions.c.version_id)
            .where(service_versions.c.service == service)
            .order_by(service_versions.c.version_id.desc())
        ).scalars()
        return [v for v in (self.get_service_version(service, i) for i in list(ids)) if v is not None]

    def get_version_function(self, service: str, version_id: int, name: str) -> FunctionRecord | None:
        """A function as a service version has it."""
        row = self.conn.execute(
            select(function_versions).where(
                function_versions.c.service == service,
                function_versions.c.version_id == version_id,
                function_versions.c.name == name,
            )
        ).first()
        return None if row is None else _version_function(row)

    def get_version_code(self, checksum: str) -> bytes | None:
        return self.conn.execute(
            select(version_code.c.code).where(version_code.c.checksum == checksum)
        ).scalar()

    def delete_service_version(self, service: str, version_id: int) -> bool:
        """Delete a version and its functions (and code no other version has); the caller checked
        that no alias names it."""
        self.conn.execute(
            delete(function_versions).where(
                function_versions.c.service == service, function_versions.c.version_id == version_id
            )
        )
        deleted = self.conn.execute(
            delete(service_versions).where(
                service_versions.c.service == service, service_versions.c.version_id == version_id
            )
        ).rowcount
        self.conn.execute(
            delete(version_code).where(
                version_code.c.checksum.not_in(select(function_versions.c.code_checksum).distinct())
            )
        )
        return deleted > 0

    def aliases_of_version(self, service: str, version_id: int) -> list[str]:
        """The aliases that send calls to a version (as theirs or as the additional one)."""
        query = (
            select(service_aliases.c.name)
            .where(
                service_aliases.c.service == service,
                or_(
                    service_aliases.c.version_id == version_id,
                    service_aliases.c.additional_version_id == version_id,
                ),
            )
            .order_by(service_aliases.c.name)
        )
        return list(self.conn.execute(query).scalars())

    def put_alias(
        self,
        service: str,
        name: str,
        version_id: int,
        additional_version_id: int | None,
        additional_weight: float,
        description: str,
        now: datetime,
        reserved_instances: int = 0,
    ) -> tuple[AliasRecord, bool]:
        """Create or change an alias; returns it and whether it was created."""
        values = {
            "reserved_instances": reserved_instances,
            "version_id": version_id,
            "additional_version_id": additional_version_id,
            "additional_weight": additional_weight,
            "description": description,
            "updated_at": to_ts(now),
        }
        created = (
            self.conn.execute(
                dialect_insert(self.conn.dialect.name, service_aliases)
                .values(service=service, name=name, created_at=to_ts(now), **values)
                .on_conflict_do_nothing()
            ).rowcount
            > 0
        )
        if not created:
            self.conn.execute(
                update(service_aliases)
                .where(service_aliases.c.service == service, service_aliases.c.name == name)
                .values(**values)
            )
        alias = self.get_alias(service, name)
        assert alias is not None
        return alias, created

    def get_alias(self, service: str, name: str) -> AliasRecord | None:
        row = self.conn.execute(
            select(service_aliases).where(
                service_aliases.c.service == service, service_aliases.c.name == name
            )
        ).first()
        return None if row is None else _alias(row)

    def list_aliases(self, service: str) -> list[AliasRecord]:
        query = (
            select(service_aliases)
            .where(service_aliases.c.service == service)
            .order_by(service_aliases.c.name)
        )
        return [_alias(r) for r in self.conn.execute(query)]

    def reserved_aliases(self) -> list[AliasRecord]:
        """Every alias with reserved instances, of every service."""
        query = (
            select(service_aliases)
            .where(service_aliases.c.reserved_instances > 0)
            .order_by(service_aliases.c.service, service_aliases.c.name)
        )
        return [_alias(r) for r in self.conn.execute(query)]

    def delete_alias(self, service: str, name: str) -> bool:
        query = delete(service_aliases).where(
            service_aliases.c.service == service, service_aliases.c.name == name
        )
        return self.conn.execute(query).rowcount > 0

    def pin_version(self, execution_id: str, service: str, qualifier: str, version: str) -> str:
        """The version ``qualifier`` is pinned to for an execution: ``version`` if it had none yet
        (two attempts racing get the same one)."""
        self.conn.execute(
            dialect_insert(self.conn.dialect.name, execution_pins)
            .values(execution_id=execution_id, service=service, qualifier=qualifier, version=version)
            .on_conflict_do_nothing()
        )
        pinned = self.get_pinned_version(execution_id, service, qualifier)
        assert pinned is not None
        return pinned

    def get_pinned_version(self, execution_id: str, service: str, qualifier: str) -> str | None:
        query = select(execution_pins.c.version).where(
            execution_pins.c.execution_id == execution_id,
            execution_pins.c.service == service,
            execution_pins.c.qualifier == qualifier,
        )
        return self.conn.execute(query).scalar()

    def list_version_functions(self) -> list[FunctionRecord]:
        """Every function of every service version (what they keep installed: environments, layers)."""
        return [_version_function(r) for r in self.conn.execute(select(function_versions))]
