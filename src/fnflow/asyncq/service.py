"""Asynchronous calls as the gateway and the API see them: submit, inspect, stop, redrive."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

from fnflow.asyncq.accept import AcceptBatcher
from fnflow.asyncq.dispatcher import Dispatcher
from fnflow.asyncq.policy import CallStatus
from fnflow.asyncq.targets import TargetPolicy, check_target
from fnflow.clock import RANDOM_IDS, SYSTEM_CLOCK, Clock, Ids
from fnflow.errors import Conflict, FnflowError, InvalidArgument, NotFound, PayloadTooLarge
from fnflow.functions.config import AsyncPolicy, async_policy_of
from fnflow.functions.service import FunctionService
from fnflow.store import CallRecord, DeliveryRecord, Page, Store, Tx

CALL_ID_MAX = 128


@dataclass(slots=True)
class Submission:
    """One asynchronous call as received (not frozen: made for every call, and a frozen dataclass
    of this size takes 4 µs to make, this one 1)."""

    service: str
    function: str
    body: bytes = b""
    method: str = "POST"
    path: str = "/"
    query: str = ""
    headers: str = "[]"  # JSON list of [name, value]
    call_id: str | None = None
    exact_id: bool = False  # the call id is the caller's (a stateful invocation id): never another one
    callback_url: str | None = None
    task_execution: str | None = None  # a flow task step waiting for the call
    task_activity: int | None = None
    qualifier: str | None = None  # a service version or alias (None: LATEST)


class CallService:
    def __init__(
        self,
        store: Store,
        functions: FunctionService,
        dispatcher: Dispatcher,
        *,
        targets: TargetPolicy,
        max_body: int = 256_000,
        clock: Clock = SYSTEM_CLOCK,
        ids: Ids = RANDOM_IDS,
    ) -> None:
        self.store = store
        self._clock = clock
        self._ids = ids
        self.functions = functions
        self.dispatcher = dispatcher
        self.targets = targets
        self.max_body = max_body
        self.batcher = AcceptBatcher(store, self._accepted)

    def _accepted(self, records: list[CallRecord]) -> None:
        node = self.dispatcher.node_id
        self.dispatcher.take([r for r in records if r.lease_owner == node])
        if others := [r for r in records if r.lease_owner != node]:
            self.dispatcher.left_in_store(others)

    async def policy(self, service: str, function: str) -> AsyncPolicy:
        """The function's async policy (NotFound if it is not deployed)."""
        return async_policy_of(await self.functions.lookup(service, function))

    async def submit(self, call: Submission) -> CallRecord:
        """Store the call (it answers once committed) and queue it; the same call id twice runs once."""
        record = await self._record(call, await self.policy(call.service, call.function))
        [stored] = await self.batcher.accept([record])
        return stored

    async def submit_many(
        self, calls: list[Submission], *, from_front: bool = False
    ) -> list[CallRecord | FnflowError]:
        """``submit`` for several calls at once, in one commit: each call's record as stored, or why
        it was refused (the others are stored all the same). Accept fronts pass calls on this way
        (``from_front``: see ``AcceptBatcher.accept``)."""
        policies: dict[tuple[str, str], AsyncPolicy | FnflowError] = {}
        checked: list[CallRecord | FnflowError] = []
        for call in calls:
            key = (call.service, call.function)
            if key not in policies:
                try:
                    policies[key] = await self.policy(*key)
                except FnflowError as e:
                    policies[key] = e
            policy = policies[key]
            if isinstance(policy, FnflowError):
                checked.append(policy)
                continue
            try:
                checked.append(await self._record(call, policy))
            except FnflowError as e:
                checked.append(e)
        records = [r for r in checked if isinstance(r, CallRecord)]
        stored = iter(await self.batcher.accept(records, from_front=from_front) if records else [])
        return [next(stored) if isinstance(r, CallRecord) else r for r in checked]

    async def _record(self, call: Submission, policy: AsyncPolicy) -> CallRecord:
        """The call's record, once it is known to be one that may be stored."""
        if len(call.body) > self.max_body:
            raise PayloadTooLarge(
                f"the request body is {len(call.body)} bytes; asynchronous calls take at most {self.max_body}"
            )
        call_id = call.call_id or self._ids.uuid()
        if len(call_id) > CALL_ID_MAX or not call_id.isprintable():
            raise InvalidArgument(f"X-Call-Id must be at most {CALL_ID_MAX} printable characters")
        if call.qualifier:
            await self.functions.qualifiers.resolve(call.service, call.qualifier)  # NotFound if unknown
        if call.exact_id:
            taken = await self.store.read(lambda tx: tx.get_call(call_id))
            if taken is not None and (taken.service, taken.function) != (call.service, call.function):
                owner = f"{taken.service}/{taken.function}"
                raise Conflict(f"the invocation id {call_id!r} is already used by function {owner}")
        if call.callback_url:
            await check_target(call.callback_url, self.targets)
        now = self._clock.now()
        held = self.dispatcher.has_room(call.service, call.function)
        return CallRecord(
            id=call_id,
            service=call.service,
            function=call.function,
            status=CallStatus.ENQUEUED.value,
            method=call.method,
            path=call.path,
            query=call.query,
            headers=call.headers,
            body=call.body,
            created_at=now,
            run_at=now,
            expires_at=now + timedelta(seconds=policy.max_event_age),
            max_attempts=policy.retries + 1,
            queue=policy.queue,
            callback_url=call.callback_url or None,
            lease_owner=self.dispatcher.node_id if held else None,
            lease_until=self.dispatcher.lease_until() if held else None,
            task_execution=call.task_execution,
            task_activity=call.task_activity,
            qualifier=call.qualifier or None,
        )

    async def get(self, call_id: str) -> tuple[CallRecord, list[DeliveryRecord]]:
        def read(tx: Tx) -> tuple[CallRecord | None, list[DeliveryRecord]]:
            return tx.get_call(call_id), tx.deliveries_of(call_id)

        record, deliveries = await self.store.read_point(read)
        if record is None:
            raise NotFound(f"call {call_id!r} does not exist")
        return record, deliveries

    async def list_calls(
        self,
        *,
        service: str | None = None,
        function: str | None = None,
        status: str | None = None,
        dead: bool | None = None,
        limit: int = 100,
        token: str | None = None,
    ) -> Page:
        if status is not None and status not in {s.value for s in CallStatus}:
            raise InvalidArgument(f"status must be one of {', '.join(s.value for s in CallStatus)}")
        return await self.store.read(
            lambda tx: tx.list_calls(
                service=service, function=function, status=status, dead=dead, limit=limit, token=token
            )
        )

    async def stop(self, call_id: str) -> str:
        """Stop a queued call at once, or a running one (its function is cancelled); the new status."""
        with self.dispatcher.stopping(call_id):
            status = await self.store.write(lambda tx: tx.stop_call(call_id, self._clock.now()))
        if status is None:
            record, _ = await self.get(call_id)  # NotFound if it never existed
            return record.status
        self.dispatcher.drop(call_id)
        return status

    async def redrive(self, call_ids: list[str]) -> list[CallRecord]:
        """Run dead-lettered calls again from the start (same id and request, current policy)."""
        records = await self.store.read(lambda tx: tx.get_calls(call_ids))
        missing = set(call_ids) - {r.id for r in records}
        if missing:
            raise NotFound(f"call {sorted(missing)[0]!r} does not exist")
        redriven: list[CallRecord] = []
        for record in records:
            if not record.dead:
                continue
            policy = await self.policy(record.service, record.function)
            now = self._clock.now()
            job = functools.partial(
                Tx.redrive_calls,
                call_ids=[record.id],
                now=now,
                expires_at=now + timedelta(seconds=policy.max_event_age),
                max_attempts=policy.retries + 1,
                owner=self.dispatcher.node_id,
                lease_until=self.dispatcher.lease_until(),
            )
            redriven += await self.store.write(job)
        self.dispatcher.submit(redriven)
        return redriven
