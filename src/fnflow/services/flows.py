"""Creating, reading and deleting flows."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fnflow.errors import Conflict, InvalidArgument, NotFound
from fnflow.fdl import definition_hash, parse_flow
from fnflow.store import FlowRecord, Page, Store, Tx

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")


def check_name(what: str, name: str) -> None:
    if not NAME.match(name):
        raise InvalidArgument(
            f"{what} name {name!r} must be 1-128 characters of [A-Za-z0-9_-], not starting with a digit or -"
        )


class FlowService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def put(self, name: str, definition: str, description: str = "") -> tuple[FlowRecord, bool]:
        """Create or update a flow from FDL text; returns (flow, created).

        Running executions keep the definition they started with.
        """
        check_name("flow", name)
        parse_flow(definition, expected_name=name)  # raises InvalidDefinition with every problem found
        digest = definition_hash(definition)
        now = datetime.now(UTC)

        def put(tx: Tx) -> tuple[FlowRecord, bool]:
            created = tx.get_flow(name) is None
            return tx.put_flow(name, description, definition, digest, now), created

        return await self.store.write(put)

    async def get(self, name: str) -> FlowRecord:
        flow = await self.store.read(lambda tx: tx.get_flow(name))
        if flow is None:
            raise NotFound(f"flow {name!r} does not exist")
        return flow

    async def list(self, limit: int = 60, token: str | None = None) -> Page:
        return await self.store.read(lambda tx: tx.list_flows(limit, token))

    async def delete(self, name: str) -> None:
        """Delete a flow with its schedules and finished executions (refused while some run)."""

        def delete(tx: Tx) -> bool:
            if tx.has_running_executions(name):
                raise Conflict(f"flow {name!r} has running executions; stop them first")
            tx.delete_flow_schedules(name)
            return tx.delete_flow(name)

        if not await self.store.write(delete):
            raise NotFound(f"flow {name!r} does not exist")
