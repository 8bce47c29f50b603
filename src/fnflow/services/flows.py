"""Creating, reading and deleting flows."""

from __future__ import annotations

from datetime import UTC, datetime

from fnflow.errors import Conflict, InvalidDefinition, NotFound
from fnflow.fdl import definition_hash, parse_flow, task_targets
from fnflow.integrations import Integrations
from fnflow.names import check_name
from fnflow.store import FlowRecord, Page, Store, Tx


class FlowService:
    def __init__(self, store: Store, integrations: Integrations) -> None:
        self.store = store
        self.integrations = integrations

    async def put(self, name: str, definition: str, description: str = "") -> tuple[FlowRecord, bool]:
        """Create or update a flow from FDL text; returns (flow, created).

        Running executions keep the definition they started with.
        """
        check_name("flow", name)
        parse_flow(definition, expected_name=name)  # raises InvalidDefinition with every problem found
        problems = [
            placed.problem(why)
            for placed in task_targets(definition)
            if (why := await self.integrations.check(placed.target)) is not None
        ]
        if problems:
            raise InvalidDefinition(problems)
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
