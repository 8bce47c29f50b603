"""Starting, watching and stopping executions, and reporting waitForCallback tasks."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from fnflow.errors import ExecutionNotFound, FlowNotFound, InvalidArgument, PayloadTooLarge
from fnflow.names import check_name
from fnflow.runtime import Runtime
from fnflow.runtime.decisions import NameRule
from fnflow.store import ExecutionRecord, Page, Store

__all__ = ["MAX_WAIT", "STATUSES", "SYNC_WAIT", "ExecutionService", "NameRule", "parse_json_object"]

MAX_WAIT = 60.0
SYNC_WAIT = 300.0  # the longest an Express execution runs in FnF (5 minutes)
STATUSES = ("Starting", "Running", "Stopped", "Succeeded", "Failed", "TimedOut")


def parse_json_object(text: str | bytes | None, what: str, limit: int) -> dict[str, Any]:
    """A JSON object of at most ``limit`` bytes (empty text means ``{}``)."""
    if text is None:
        return {}
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > limit:
        raise PayloadTooLarge(f"the {what} is {len(raw)} bytes; the limit is {limit} bytes")
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"the {what} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"the {what} must be a JSON object")
    return value


def check_size(value: Any, what: str, limit: int) -> None:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limit:
        raise PayloadTooLarge(f"the {what} is {size} bytes; the limit is {limit} bytes")


class ExecutionService:
    def __init__(self, store: Store, runtime: Runtime, *, max_input_bytes: int = 32 * 1024) -> None:
        self.store = store
        self.runtime = runtime
        self.max_input_bytes = max_input_bytes

    async def start(
        self,
        flow_name: str,
        name: str | None,
        input: dict[str, Any],
        *,
        rule: NameRule = NameRule.SAME_INPUT,
        mode: str | None = None,
        callback_token: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """Start an execution; a name in use returns that execution (created=False) or fails, as
        ``rule`` says. With ``mode``, the flow must have that execution mode. ``callback_token``: a
        task token reported when the execution ends (FnF's CallbackFnFTaskToken)."""
        if name is not None:
            check_name("execution", name)
        check_size(input, "input", self.max_input_bytes)
        return await self.runtime.start_execution(
            flow_name, name, input, rule=rule, mode=mode, callback_token=callback_token
        )

    async def run_sync(
        self, flow_name: str, name: str | None, input: dict[str, Any], wait: float = SYNC_WAIT
    ) -> ExecutionRecord:
        """StartSyncExecution: start an execution of an Express flow under a name of its own
        (``<name>:<uuid>``, so a name can be used again) and return it when it has ended, or after
        ``wait`` seconds."""
        if name is not None:
            check_name("execution", name)
        check_size(input, "input", self.max_input_bytes)
        unique = f"{name}:{uuid.uuid4()}" if name else str(uuid.uuid4())
        record, _ = await self.runtime.start_execution(flow_name, unique, input, mode="Express")
        if record.status == "Running":
            await self.runtime.wait_finished(record.id, wait)
            record = await self._get(flow_name, unique)
        return record

    async def parents(self, records: list[ExecutionRecord]) -> dict[str, ExecutionRecord]:
        """The parents of those that are child executions, by id."""
        ids = [r.parent_id for r in records if r.parent_id is not None]
        if not ids:
            return {}
        return {p.id: p for p in await self.store.read(lambda tx: tx.get_executions_by_id(ids))}

    async def children(self, record: ExecutionRecord) -> list[ExecutionRecord]:
        """The child executions its task steps started, oldest first."""
        return await self.store.read(lambda tx: tx.children(record.id))

    async def describe(self, flow_name: str, name: str, wait: float = 0) -> ExecutionRecord:
        """One execution; with ``wait`` > 0, long-poll until it finishes or ``wait`` seconds pass."""
        record = await self._get(flow_name, name)
        if record.status == "Running" and wait > 0:
            await self.runtime.wait_finished(record.id, min(wait, MAX_WAIT))
            record = await self._get(flow_name, name)
        return record

    async def _get(self, flow_name: str, name: str) -> ExecutionRecord:
        record = await self.store.read(lambda tx: tx.get_execution(flow_name, name))
        if record is None:
            if await self.store.read(lambda tx: tx.get_flow(flow_name)) is None:
                raise FlowNotFound(f"flow {flow_name!r} does not exist")
            raise ExecutionNotFound(f"execution {name!r} of flow {flow_name!r} does not exist")
        return record

    async def list(
        self,
        flow_name: str,
        *,
        status: str | None = None,
        name_prefix: str | None = None,
        started_from: datetime | None = None,
        started_until: datetime | None = None,
        limit: int = 60,
        token: str | None = None,
    ) -> Page:
        if status is not None and status not in STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}")
        if await self.store.read(lambda tx: tx.get_flow(flow_name)) is None:
            raise FlowNotFound(f"flow {flow_name!r} does not exist")
        return await self.store.read(
            lambda tx: tx.list_executions(
                flow_name,
                status=status,
                name_prefix=name_prefix,
                started_from=started_from,
                started_until=started_until,
                limit=limit,
                token=token,
            )
        )

    async def history(
        self, flow_name: str, name: str, *, limit: int = 1000, token: str | None = None
    ) -> Page:
        record = await self._get(flow_name, name)
        return await self.store.read(lambda tx: tx.history(record.id, limit=limit, token=token))

    async def stop(self, flow_name: str, name: str, error: str = "", cause: str = "") -> ExecutionRecord:
        if len(error) > 128 or len(cause) > 4096:
            raise InvalidArgument("error may have at most 128 characters and cause at most 4096")
        record = await self._get(flow_name, name)
        await self.runtime.stop(record, error, cause)
        return await self._get(flow_name, name)

    async def report_succeeded(self, token: str, output: Any) -> int:
        """ReportTaskSucceeded; ``output`` is a JSON value or a string holding JSON. Returns the id
        of the history event that records it."""
        if isinstance(output, str):
            output = parse_json_object(output, "output", self.max_input_bytes)
        check_size(output, "output", self.max_input_bytes)
        return await self.runtime.report(token, output=output)

    async def report_failed(self, token: str, error: str, cause: str = "") -> int:
        if not 1 <= len(error) <= 128 or len(cause) > 4096:
            raise InvalidArgument("error must have 1-128 characters and cause at most 4096")
        return await self.runtime.report(token, error=error, cause=cause)
