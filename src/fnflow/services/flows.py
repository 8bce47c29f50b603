"""Creating, reading and deleting flows."""

from __future__ import annotations

from fnflow.clock import SYSTEM_CLOCK, Clock
from fnflow.errors import Conflict, FlowNotFound, InvalidArgument, InvalidDefinition
from fnflow.fdl import Flow, definition_hash, parse_flow, task_targets
from fnflow.integrations import Integrations
from fnflow.names import check_name
from fnflow.store import FlowRecord, Page, Store, Tx

EXECUTION_MODES = ("Standard", "Express")


class FlowService:
    def __init__(self, store: Store, integrations: Integrations, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self._clock = clock
        self.integrations = integrations
        self._definitions: dict[str, str] = {}

    async def put(
        self,
        name: str,
        definition: str,
        description: str = "",
        *,
        execution_mode: str | None = None,
        role_arn: str | None = None,
        replace: bool = True,
    ) -> tuple[FlowRecord, bool]:
        """Create or update a flow from FDL text; returns (flow, created).

        Running executions keep the definition they started with. ``execution_mode`` (Standard or
        Express) and ``role_arn`` of None keep the flow's (Standard and "" for a new flow). With
        ``replace`` False an existing flow is ``FlowAlreadyExists`` (FnF's CreateFlow).
        """
        digest = await self._check(name, definition, execution_mode)
        now = self._clock.now()

        def put(tx: Tx) -> tuple[FlowRecord, bool]:
            created = tx.get_flow(name) is None
            flow = tx.put_flow(
                name,
                description,
                definition,
                digest,
                now,
                execution_mode=execution_mode,
                role_arn=role_arn,
                replace=replace,
            )
            return flow, created

        return await self.store.write(put)

    async def update(
        self,
        name: str,
        *,
        definition: str | None = None,
        description: str | None = None,
        role_arn: str | None = None,
    ) -> FlowRecord:
        """Change what is given of an existing flow (``FlowNotFound`` if there is none)."""
        if definition is not None:
            await self._check(name, definition, None)
        now = self._clock.now()

        def update(tx: Tx) -> FlowRecord:
            current = tx.get_flow(name)
            if current is None:
                raise FlowNotFound(f"flow {name!r} does not exist")
            text = current.definition if definition is None else definition
            return tx.put_flow(
                name,
                current.description if description is None else description,
                text,
                current.definition_hash if definition is None else definition_hash(text),
                now,
                role_arn=role_arn,
            )

        return await self.store.write(update)

    async def _check(self, name: str, definition: str, execution_mode: str | None) -> str:
        """The definition's hash, once the name, the definition (with what its tasks call) and the
        mode are valid."""
        check_name("flow", name)
        if execution_mode is not None and execution_mode not in EXECUTION_MODES:
            raise InvalidArgument(f"the execution mode must be one of {', '.join(EXECUTION_MODES)}")
        parse_flow(definition, expected_name=name)  # raises InvalidDefinition with every problem found
        problems = [
            placed.problem(why)
            for placed in task_targets(definition)
            if (why := await self.integrations.check(placed.target, placed.pattern)) is not None
        ]
        if problems:
            raise InvalidDefinition(problems)
        return definition_hash(definition)

    async def model(self, name: str) -> Flow:
        """The flow's current definition, parsed."""
        return parse_flow((await self.get(name)).definition)

    async def get(self, name: str) -> FlowRecord:
        flow = await self.store.read(lambda tx: tx.get_flow(name))
        if flow is None:
            raise FlowNotFound(f"flow {name!r} does not exist")
        return flow

    async def definition(self, digest: str) -> str:
        """The definition text of a hash (an execution's pinned definition); kept once read, as a
        hash always names the same text."""
        text = self._definitions.get(digest)
        if text is None:
            text = await self.store.read(lambda tx: tx.get_definition(digest)) or ""
            if len(self._definitions) >= 256:
                self._definitions.clear()
            self._definitions[digest] = text
        return text

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
            raise FlowNotFound(f"flow {name!r} does not exist")
