"""Flows and their content-addressed definitions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, case, delete, exists, func, or_, select, update

from fnflow.errors import FlowAlreadyExists, InvalidArgument
from fnflow.store.prepared import Prepared
from fnflow.store.queries.base import Queries, decode_token, dialect_insert, encode_token, from_ts_req, to_ts
from fnflow.store.records import FlowRecord, FlowVersionRecord, Page
from fnflow.store.schema import definitions, execution_pins, executions, flow_versions, flows, history

# A start reads its flow, or checks that the flow it keeps is still current: keep both off
# SQLAlchemy's per-call path.
_FLOW_IS = Prepared(
    select(flows.c.revision).where(
        flows.c.name == bindparam("name"),
        flows.c.id == bindparam("id"),
        flows.c.revision == bindparam("revision"),
    )
)
_GET_FLOW = Prepared(
    select(
        flows.c.name,
        flows.c.id,
        flows.c.description,
        flows.c.definition_hash,
        flows.c.revision,
        flows.c.created_at,
        flows.c.updated_at,
        definitions.c.text,
        flows.c.execution_mode,
        flows.c.role_arn,
        flows.c.version,
    )
    .join(definitions, definitions.c.hash == flows.c.definition_hash)
    .where(flows.c.name == bindparam("name"))
)


class FlowQueries(Queries):
    def put_definition(self, definition_hash: str, text: str, now: datetime) -> None:
        """Store a definition once (content-addressed: a second put of the same hash is a no-op)."""
        insert = dialect_insert(self.conn.dialect.name, definitions)
        self.conn.execute(
            insert.values(hash=definition_hash, text=text, created_at=to_ts(now)).on_conflict_do_nothing()
        )

    def get_definition(self, definition_hash: str) -> str | None:
        return self.conn.execute(
            select(definitions.c.text).where(definitions.c.hash == definition_hash)
        ).scalar()

    def put_flow(
        self,
        name: str,
        description: str,
        definition: str,
        definition_hash: str,
        now: datetime,
        *,
        execution_mode: str | None = None,
        role_arn: str | None = None,
        replace: bool = True,
    ) -> FlowRecord:
        """Create the flow or make ``definition`` its current one (running executions keep theirs).

        ``execution_mode`` and ``role_arn`` of None keep what the flow has (Standard and "" for a
        new one); with ``replace`` False an existing flow is ``FlowAlreadyExists``. Insert first,
        update if it exists: two processes putting one flow at once both succeed.

        A new flow is at version 1; a new definition makes the next version (a new description
        alone makes none), recorded in ``flow_versions`` with that description."""
        self.put_definition(definition_hash, definition, now)
        created = self.conn.execute(
            dialect_insert(self.conn.dialect.name, flows)
            .values(
                name=name,
                id=str(uuid.uuid4()),
                description=description,
                definition_hash=definition_hash,
                revision=1,
                created_at=to_ts(now),
                updated_at=to_ts(now),
                execution_mode=execution_mode or "Standard",
                role_arn=role_arn or "",
            )
            .on_conflict_do_nothing()
        )
        if not created.rowcount:
            if not replace:
                raise FlowAlreadyExists(f"flow {name!r} already exists")
            values: dict[str, object] = {"description": description, "definition_hash": definition_hash}
            if execution_mode is not None:
                values["execution_mode"] = execution_mode
            if role_arn is not None:
                values["role_arn"] = role_arn
            changed = or_(*(flows.c[column] != value for column, value in values.items()))
            # The row's lock orders concurrent updates: each new definition gets its own number.
            version = case(
                (flows.c.definition_hash != definition_hash, flows.c.version + 1), else_=flows.c.version
            )
            self.conn.execute(
                update(flows)
                .where(flows.c.name == name, changed)
                .values(**values, revision=flows.c.revision + 1, updated_at=to_ts(now), version=version)
            )
        flow = self.get_flow(name)
        assert flow is not None
        self.conn.execute(
            dialect_insert(self.conn.dialect.name, flow_versions)
            .values(
                flow_name=name,
                version=flow.version,
                definition_hash=flow.definition_hash,
                description=flow.description,
                created_at=to_ts(now),
            )
            .on_conflict_do_nothing()
        )
        return flow

    def get_flow(self, name: str) -> FlowRecord | None:
        row = _GET_FLOW.one(self.conn, {"name": name})
        if row is None:
            return None
        name, id_, description, digest, revision, created, updated, text, mode, role_arn, version = row
        return FlowRecord(
            name,
            id_,
            description,
            digest,
            text,
            revision,
            from_ts_req(created),
            from_ts_req(updated),
            mode,
            role_arn,
            version,
        )

    def flow_is(self, name: str, id: str, revision: int) -> bool:
        """Whether the flow ``name`` is still the one read at ``revision`` with ``id``: not updated
        since, nor deleted (and maybe made again: a new flow has a new id)."""
        return _FLOW_IS.one(self.conn, {"name": name, "id": id, "revision": revision}) is not None

    def get_flow_version(self, name: str, version: int) -> FlowVersionRecord | None:
        """One version of a flow, with its definition text."""
        row = self.conn.execute(
            select(flow_versions, definitions.c.text)
            .join(definitions, definitions.c.hash == flow_versions.c.definition_hash)
            .where(flow_versions.c.flow_name == name, flow_versions.c.version == version)
        ).first()
        if row is None:
            return None
        m = row._mapping
        return FlowVersionRecord(
            name, version, m["definition_hash"], m["text"], m["description"], from_ts_req(m["created_at"])
        )

    def list_flow_versions(self, name: str, limit: int = 100, token: str | None = None) -> Page:
        """A flow's versions, newest first (without their definition text)."""
        query = (
            select(flow_versions)
            .where(flow_versions.c.flow_name == name)
            .order_by(flow_versions.c.version.desc())
            .limit(limit + 1)
        )
        if token:
            parts = decode_token(token, 1)
            if parts is None or not parts[0].isdigit() or len(parts[0]) > 10:
                raise InvalidArgument("nextToken is not valid")
            query = query.where(flow_versions.c.version < int(parts[0]))
        rows = [r._mapping for r in self.conn.execute(query)]
        items = [
            FlowVersionRecord(
                name, m["version"], m["definition_hash"], "", m["description"], from_ts_req(m["created_at"])
            )
            for m in rows[:limit]
        ]
        return Page(items, encode_token(items[-1].version) if len(rows) > limit else None)

    def list_flows(self, limit: int, token: str | None = None) -> Page:
        query = select(flows.c.name).order_by(flows.c.name).limit(limit + 1)
        if token:
            parts = decode_token(token, 1)
            if parts is None:
                raise InvalidArgument("nextToken is not valid")
            query = query.where(flows.c.name > parts[0])
        names = list(self.conn.execute(query).scalars())
        items = [f for f in (self.get_flow(n) for n in names[:limit]) if f is not None]
        return Page(items, encode_token(names[limit - 1]) if len(names) > limit else None)

    def delete_flow(self, name: str) -> bool:
        """Delete a flow with its finished executions and their history."""
        ids = select(executions.c.id).where(executions.c.flow_name == name).scalar_subquery()
        self.conn.execute(delete(history).where(history.c.execution_id.in_(ids)))
        self.conn.execute(delete(execution_pins).where(execution_pins.c.execution_id.in_(ids)))
        self.conn.execute(delete(executions).where(executions.c.flow_name == name))
        self.conn.execute(delete(flow_versions).where(flow_versions.c.flow_name == name))
        return self.conn.execute(delete(flows).where(flows.c.name == name)).rowcount > 0

    def has_running_executions(self, flow_name: str) -> bool:
        query = select(exists().where(executions.c.flow_name == flow_name, executions.c.status == "Running"))
        return bool(self.conn.execute(query).scalar())

    def count_flows(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(flows)).scalar() or 0)
