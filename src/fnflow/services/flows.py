"""Creating, reading and deleting flows."""

from __future__ import annotations

from fnflow.clock import SYSTEM_CLOCK, Clock
from fnflow.errors import Conflict, FlowNotFound, InvalidArgument, InvalidDefinition, NotFound
from fnflow.fdl import Flow, definition_hash, parse_flow, task_targets
from fnflow.integrations import Integrations
from fnflow.names import check_name
from fnflow.store import FlowRecord, FlowVersionRecord, Page, Store, Tx

EXECUTION_MODES = ("Standard", "Express")
MAX_VERSION = 2**31 - 1


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

    async def rollback(self, name: str, version: int, description: str | None = None) -> FlowRecord:
        """Make the definition of an older version current again (a new version with that
        definition; running executions keep theirs). NotFound if the flow or version does not exist."""
        old = await self.version(name, version)
        await self._check(name, old.definition, None)  # what its tasks call must still be valid
        now = self._clock.now()

        def roll(tx: Tx) -> FlowRecord:
            current = tx.get_flow(name)
            if current is None:
                raise FlowNotFound(f"flow {name!r} does not exist")
            why = description if description is not None else f"rolled back to version {version}"
            text = old.definition
            return tx.put_flow(
                name,
                why if text != current.definition else current.description,
                text,
                old.definition_hash,
                now,
            )

        return await self.store.write(roll)

    async def versions(self, name: str, limit: int = 100, token: str | None = None) -> Page:
        """The flow's versions, newest first (FlowNotFound if there is no such flow)."""
        await self.get(name)
        return await self.store.read(lambda tx: tx.list_flow_versions(name, limit, token))

    async def version(self, name: str, version: int) -> FlowVersionRecord:
        """One version of a flow, with its definition."""
        if not 1 <= version <= MAX_VERSION:
            raise InvalidArgument(f"version must be a flow version number (1, 2, …), got {version}")
        found = await self.store.read(lambda tx: tx.get_flow_version(name, version))
        if found is None:
            await self.get(name)  # FlowNotFound first
            raise NotFound(f"flow {name!r} has no version {version}")
        return found

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
