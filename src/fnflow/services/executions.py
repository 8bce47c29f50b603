"""Starting, watching and stopping executions, and reporting waitForCallback tasks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fnflow.clock import RANDOM_IDS, Ids
from fnflow.errors import ExecutionNotFound, FlowNotFound, InvalidArgument, PayloadTooLarge
from fnflow.fdl import Flow, WaitStep, parse_flow
from fnflow.fdl.checks import step_lists
from fnflow.names import check_name
from fnflow.runtime import Runtime
from fnflow.runtime.decisions import NameRule
from fnflow.services.progress import StepProgress, progress
from fnflow.store import ExecutionRecord, HistoryRecord, Page, Store, Tx

__all__ = ["MAX_WAIT", "STATUSES", "SYNC_WAIT", "ExecutionService", "NameRule", "parse_json_object"]

MAX_WAIT = 60.0
MAX_EVENTS = 100_000  # more than an execution may have
WATCH_FALLBACK = 2.0  # seconds between looks when no wake-up comes (decisions of other processes)
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


@dataclass(frozen=True)
class Watched:
    """One look at an execution being watched: it, its new history events, where its steps stand."""

    execution: ExecutionRecord
    events: list[HistoryRecord]
    steps: dict[str, StepProgress]


def wait_steps(flow: Flow) -> frozenset[str]:
    return frozenset(p.step.name for steps in step_lists(flow) for p in steps if isinstance(p.step, WaitStep))


class ExecutionService:
    def __init__(
        self, store: Store, runtime: Runtime, *, max_input_bytes: int = 32 * 1024, ids: Ids = RANDOM_IDS
    ) -> None:
        self.store = store
        self._ids = ids
        self.runtime = runtime
        self.max_input_bytes = max_input_bytes
        self.stopping: Callable[[], bool] = lambda: False  # the server is shutting down: watchers end

    async def start(
        self,
        flow_name: str,
        name: str | None,
        input: dict[str, Any],
        *,
        rule: NameRule = NameRule.SAME_INPUT,
        mode: str | None = None,
        callback_token: str | None = None,
        version: int | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """Start an execution; a name in use returns that execution (created=False) or fails, as
        ``rule`` says. With ``mode``, the flow must have that execution mode. ``callback_token``: a
        task token reported when the execution ends (FnF's CallbackFnFTaskToken). ``version``: the
        flow version to run (None: the current one; NotFound if the flow has no such version)."""
        if name is not None:
            check_name("execution", name)
        if version is not None and not 1 <= version <= 2**31 - 1:
            raise InvalidArgument(f"version must be a positive flow version number, got {version}")
        check_size(input, "input", self.max_input_bytes)
        return await self.runtime.start_execution(
            flow_name, name, input, rule=rule, mode=mode, callback_token=callback_token, version=version
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
        unique = f"{name}:{self._ids.uuid()}" if name else str(self._ids.uuid())
        record, _ = await self.runtime.start_execution(flow_name, unique, input, mode="Express")
        if record.status == "Running":
            ended = await self.runtime.ends.wait(record.id, wait)
            record = ended or await self._get(flow_name, unique)
        return record

    async def parents(self, records: list[ExecutionRecord]) -> dict[str, ExecutionRecord]:
        """The parents of those that are child executions, by id."""
        ids = [r.parent_id for r in records if r.parent_id is not None]
        if not ids:
            return {}
        return {p.id: p for p in await self.store.read(lambda tx: tx.get_executions_by_id(ids))}

    async def describe(self, flow_name: str, name: str, wait: float = 0) -> ExecutionRecord:
        """One execution; with ``wait`` > 0, long-poll until it finishes or ``wait`` seconds pass."""
        return (await self._polled(flow_name, name, wait, around=False))[0]

    async def described(
        self, flow_name: str, name: str, wait: float = 0
    ) -> tuple[ExecutionRecord, ExecutionRecord | None, list[ExecutionRecord]]:
        """``describe``, with the execution's parent and children."""
        return await self._polled(flow_name, name, wait, around=True)

    async def _polled(
        self, flow_name: str, name: str, wait: float, *, around: bool
    ) -> tuple[ExecutionRecord, ExecutionRecord | None, list[ExecutionRecord]]:
        """The execution (and, ``around``, its parent and children) now, or once it ends within
        ``wait`` seconds. Each read is a hop to a reader thread on PostgreSQL, so a long-poll reads
        as little as it can: not before its wait if this process has just started the execution,
        and not after it if this process ended it meanwhile (and it has no parent, nor a flow that
        starts children, to read)."""
        execution_id = self.runtime.ends.started_here(flow_name, name) if wait > 0 else None
        if execution_id is None:
            record = await self._get(flow_name, name)
            if record.status != "Running" or wait <= 0:
                return await self._read_around(flow_name, name, record) if around else (record, None, [])
            execution_id = record.id
        ended = await self.runtime.ends.wait(execution_id, min(wait, MAX_WAIT))
        if ended is not None and not (around and self._has_relatives(ended)):
            return ended, None, []
        if around:
            return await self._read_around(flow_name, name, None)
        return await self._get(flow_name, name), None, []

    def _has_relatives(self, record: ExecutionRecord) -> bool:
        return record.parent_id is not None or self.runtime.starts_children(record)

    async def _read_around(
        self, flow_name: str, name: str, record: ExecutionRecord | None
    ) -> tuple[ExecutionRecord, ExecutionRecord | None, list[ExecutionRecord]]:
        """The execution (``record``, or read now by name), its parent and its children, in one hop."""

        def around(tx: Tx) -> tuple[ExecutionRecord, ExecutionRecord | None, list[ExecutionRecord]] | None:
            current = record or tx.get_execution(flow_name, name)
            if current is None:
                return None
            parent = tx.get_execution_by_id(current.parent_id) if current.parent_id else None
            return current, parent, tx.children(current.id)

        found = await self.store.read_point(around)
        if found is None:
            raise ExecutionNotFound(f"execution {name!r} of flow {flow_name!r} does not exist")
        return found

    async def _get(self, flow_name: str, name: str) -> ExecutionRecord:
        record = await self.store.read_point(lambda tx: tx.get_execution(flow_name, name))
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

    async def watch(self, flow_name: str, name: str, after: int = 0) -> AsyncIterator[Watched]:
        """The execution's progress now (with the events after ``after``) and after each change (with
        the events since the last look); ends once the execution has ended, or the server stops."""
        record = await self._get(flow_name, name)
        definition = await self._definition(record)
        waits = wait_steps(definition)
        while True:
            record = await self._get(flow_name, name)  # before the history: an end it shows is complete
            events = await self._all_history(record.id)
            new = [e for e in events.items if e.event_id > after]
            finished = record.status != "Running"
            if new or finished or after == 0:
                yield Watched(record, new, progress(events.items, finished, waits))
                after = events.items[-1].event_id if events.items else after
            if finished or self.stopping():
                return
            await self.runtime.wait_changed(record.id, WATCH_FALLBACK)

    async def definition(self, flow_name: str, name: str) -> Flow:
        """The definition an execution runs (the one it started with)."""
        return await self._definition(await self._get(flow_name, name))

    async def redrive(self, flow_name: str, name: str) -> ExecutionRecord:
        """Continue a Failed or TimedOut execution from the step where it ended, keeping its history
        and what its steps did (Conflict for any other status)."""
        record = await self._get(flow_name, name)
        await self.runtime.redrive(record.id)
        return await self._get(flow_name, name)

    async def reset(
        self,
        flow_name: str,
        name: str,
        step: str,
        *,
        new_name: str | None = None,
        input: dict[str, Any] | None = None,
    ) -> ExecutionRecord:
        """A new execution from task step ``step`` of this one, with the state recorded there."""
        if new_name is not None:
            check_name("execution", new_name)
        if input is not None:
            check_size(input, "input", self.max_input_bytes)
        record = await self._get(flow_name, name)
        return await self.runtime.reset(record.id, step, name=new_name, input=input)

    async def definition_text(self, flow_name: str, name: str) -> str:
        """The FDL text of the definition an execution runs (pinned when it started)."""
        record = await self._get(flow_name, name)
        text = await self.store.read(lambda tx: tx.get_definition(record.definition_hash))
        return text or ""

    async def _definition(self, record: ExecutionRecord) -> Flow:
        text = await self.store.read(lambda tx: tx.get_definition(record.definition_hash))
        return parse_flow(text or "")

    async def _all_history(self, execution_id: str) -> Page:
        return await self.store.read(lambda tx: tx.history(execution_id, limit=MAX_EVENTS))

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
