"""Callbacks and destinations of finished calls, and pushes of topic messages, delivered at least once.

A finished call's callback (``X-Callback-Url``) and its function's destinations (Function
Compute's ``onSuccess``/``onFailure``) are stored in the transaction that settles the call,
then posted with retries and back-off until the receiver answers 2xx, it refuses for good
(a 4xx other than 408 and 429), or the attempts run out. A destination that names a function
becomes an asynchronous call of that function instead (with the same durability).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import httpx

from fnflow import signing
from fnflow.asyncq.policy import CallStatus
from fnflow.asyncq.targets import REFUSED, TargetPolicy, check_target, guarded_client
from fnflow.clock import SYSTEM_CLOCK, Clock, uuid7_text
from fnflow.errors import InvalidArgument
from fnflow.functions.config import AsyncPolicy, async_policy_of
from fnflow.functions.naming import metric_name
from fnflow.functions.spec import InvocationResult
from fnflow.leasing import LeaseKeeper
from fnflow.store import CallRecord, DeliveryRecord, Store, Tx
from fnflow.store.leases import DELIVERIES
from fnflow.store.queries.deliveries import NOTIFY

log = logging.getLogger(__name__)

CALLBACK_ATTEMPTS = 8  # waits of 1, 2, 4 … 64 s: about two minutes for a receiver to come back
#: Deliveries signed with ``X-Fnflow-Signature`` over their ``call_id``: callbacks (the call id) and
#: topic pushes (``notify``: the message id, also in their ``x-mns-message-id`` header).
SIGNED = frozenset({"callback", NOTIFY})
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


def _duration(record: CallRecord) -> float:
    if record.started_at is None or record.finished_at is None:
        return 0.0
    return max(0.0, (record.finished_at - record.started_at).total_seconds())


def callback_headers(record: CallRecord) -> list[tuple[str, str]]:
    """The function's response headers, then the OpenFaaS callback headers."""
    response = [(k, v) for k, v in json.loads(record.result_headers or "[]") if k.lower() not in HOP_BY_HOP]
    ours = {
        "x-call-id",
        "x-function-name",
        "x-function-status",
        "x-duration-seconds",
        "x-retry",
        "x-retry-max",
    }
    return [
        *((k, v) for k, v in response if k.lower() not in ours),
        ("X-Call-Id", record.id),
        (
            "X-Function-Name",
            metric_name(record.service, record.function),
        ),
        ("X-Function-Status", str(record.result_status if record.result_status is not None else 503)),
        ("X-Duration-Seconds", f"{_duration(record):.6f}"),
        ("X-Retry", str(max(0, record.attempts - 1))),
        ("X-Retry-Max", str(max(0, record.max_attempts - 1))),
    ]


def destination_payload(
    record: CallRecord, status: CallStatus, result: InvocationResult | None, now: datetime
) -> bytes:
    """Function Compute's destination event."""
    condition = (
        ""
        if status is CallStatus.SUCCEEDED
        else (
            "EventExpired"
            if status is CallStatus.EXPIRED
            else (result.error_type if result and result.error_type else "")
        )
    )
    payload = {
        "timestamp": int(now.timestamp() * 1000),
        "requestContext": {
            "requestId": record.id,
            "functionArn": f"acs:fc:::services/{record.service}/functions/{record.function}",
            "condition": condition,
            "approximateInvokeCount": record.attempts,
        },
        "requestPayload": record.body.decode(errors="replace"),
        "responseContext": {
            "statusCode": record.result_status or 0,
            "functionError": (result.error_type or "") if result else (record.error or ""),
        },
        "responsePayload": (record.result_body or b"").decode(errors="replace"),
    }
    return json.dumps(payload).encode()


def build_deliveries(
    tx: Tx,
    record: CallRecord,
    result: InvocationResult | None,
    now: datetime,
    policy: AsyncPolicy | None,
    lease: tuple[str, datetime],
) -> tuple[list[DeliveryRecord], list[CallRecord]]:
    """The callback and destinations of a call that just reached a final status, stored in ``tx``.
    ``policy`` is the function's as the call ran (None: the function is gone): the dispatcher has
    it at hand, so settling a call does not read the function again. Destination calls are
    stored leased as ``lease`` says (owner, until): the settling process runs them, and a claim
    made meanwhile, here or by another process, must not take them too."""
    status = CallStatus(record.status)
    deliveries: list[DeliveryRecord] = []
    calls: list[CallRecord] = []
    if record.callback_url and status is not CallStatus.STOPPED:
        deliveries.append(
            DeliveryRecord(
                record.id,
                "callback",
                record.callback_url,
                json.dumps(callback_headers(record)),
                record.result_body or b"",
                "Pending",
                CALLBACK_ATTEMPTS,
                now,
                now,
            )
        )
    if policy is not None and status is not CallStatus.STOPPED:
        kind, target = (
            ("on_success", policy.on_success)
            if status is CallStatus.SUCCEEDED
            else ("on_failure", policy.on_failure)
        )
        if target:
            body = destination_payload(record, status, result, now)
            if target.startswith(("http://", "https://")):
                headers = json.dumps([["Content-Type", "application/json"], ["X-Call-Id", record.id]])
                deliveries.append(
                    DeliveryRecord(
                        record.id, kind, target, headers, body, "Pending", CALLBACK_ATTEMPTS, now, now
                    )
                )
            else:
                call = destination_call(tx, record, target, body, now, lease)
                if call is None:  # recorded as a failed delivery, so the call's status shows it
                    missing = f"destination function {target!r} does not exist"
                    deliveries.append(
                        DeliveryRecord(
                            record.id, kind, target, "[]", body, "Failed", 0, now, now, last_error=missing
                        )
                    )
                else:
                    calls.extend(stored for stored, new in tx.insert_calls([call]) if new)
    if deliveries:
        ids = tx.add_deliveries(deliveries)
        deliveries = [replace(d, id=i) for d, i in zip(deliveries, ids, strict=True) if d.status == "Pending"]
    return deliveries, calls


def may_deliver(record: CallRecord, policy: AsyncPolicy | None) -> bool:
    """Whether the end of the call may have a callback or a destination (else ``build_deliveries``
    has nothing to do, and settling a call need not look at the time or its lease)."""
    return bool(record.callback_url or (policy is not None and (policy.on_success or policy.on_failure)))


def destination_call(
    tx: Tx, record: CallRecord, target: str, body: bytes, now: datetime, lease: tuple[str, datetime]
) -> CallRecord | None:
    """An asynchronous call of the destination function (``name`` or ``service/name``), if it
    exists, held as ``lease`` says."""
    service, _, name = target.rpartition("/")
    headers = [("Content-Type", "application/json"), ("X-Source-Call-Id", record.id)]
    return async_call(tx, service or record.service, name, body, headers, now, lease)


def async_call(
    tx: Tx,
    service: str,
    name: str,
    body: bytes,
    headers: list[tuple[str, str]],
    now: datetime,
    lease: tuple[str, datetime] | None = None,
) -> CallRecord | None:
    """A new asynchronous call (a POST of ``body``) of a function, under its async policy; None if the
    function does not exist. The caller stores it: held by ``lease`` (owner, until), the process
    that will run it, so that no claim takes it meanwhile; without, for any process to claim."""
    function = tx.get_function(service, name)
    if function is None:
        return None
    policy = async_policy_of(function)
    return CallRecord(
        id=uuid7_text(),
        service=service,
        function=name,
        status="Enqueued",
        method="POST",
        path="/",
        query="",
        headers=json.dumps([list(h) for h in headers]),
        body=body,
        created_at=now,
        run_at=now,
        expires_at=now + timedelta(seconds=policy.max_event_age),
        max_attempts=policy.retries + 1,
        queue=policy.queue,
        lease_owner=lease[0] if lease else None,
        lease_until=lease[1] if lease else None,
    )


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


class Deliverer:
    """Posts pending deliveries with bounded parallelism; retries with back-off."""

    def __init__(
        self,
        store: Store,
        keeper: LeaseKeeper,
        *,
        policy: TargetPolicy,
        signing_key: Callable[[], str],
        parallelism: int = 32,
        timeout: float = 10.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._store = store
        self._clock = clock
        self._keeper = keeper
        self.node_id = keeper.owner
        self._policy = policy
        self._signing_key = signing_key
        self._slots = asyncio.Semaphore(parallelism)
        self._client = guarded_client(policy, timeout=timeout)
        self._held: dict[int, asyncio.Task[None] | asyncio.TimerHandle] = {}
        keeper.keep(DELIVERIES, lambda: self._held)
        self._background: asyncio.Task[None] | None = None
        self.delivered = 0

    async def open(self, *, recover: bool) -> None:
        if recover:
            await self._store.write(lambda tx: tx.expire_foreign(DELIVERIES, self.node_id))
        await self._claim()
        self._background = asyncio.create_task(self._maintain(), name="deliveries")

    async def close(self) -> None:
        if self._background is not None:
            self._background.cancel()
        for item in self._held.values():
            item.cancel()
        tasks = [t for t in self._held.values() if isinstance(t, asyncio.Task)]
        await asyncio.gather(
            *tasks, *([self._background] if self._background else []), return_exceptions=True
        )
        await self._client.aclose()
        await self._store.write(lambda tx: tx.release(DELIVERIES, self.node_id))

    def submit(self, records: list[DeliveryRecord]) -> None:
        loop = asyncio.get_running_loop()
        for record in records:
            assert record.id is not None
            delay = (record.run_at - self._clock.now()).total_seconds()
            if delay > 0:
                self._held[record.id] = loop.call_later(delay, self._start, record)
            else:
                self._start(record)

    def _start(self, record: DeliveryRecord) -> None:
        assert record.id is not None
        self._held[record.id] = asyncio.create_task(self._deliver(record), name=f"delivery {record.id}")

    async def _deliver(self, record: DeliveryRecord) -> None:
        assert record.id is not None
        try:
            async with self._slots:
                status, error = await self._post(record)
            await self._record(record, status, error)
        except Exception:
            log.exception("delivery %s (of %s) failed; it is tried again later", record.id, record.call_id)
        finally:
            if isinstance(self._held.get(record.id), asyncio.Task):
                self._held.pop(record.id, None)

    async def _post(self, record: DeliveryRecord) -> tuple[int | None, str | None]:
        """(status, error) of one attempt; status None when nothing was received."""
        try:
            await check_target(record.target, self._policy)
        except InvalidArgument as e:
            return None, f"refused: {e.message}"
        headers = [(k, v) for k, v in json.loads(record.headers)]
        if record.kind in SIGNED:
            headers.append((signing.HEADER, signing.sign(self._signing_key(), record.call_id, record.body)))
        try:
            response = await self._client.post(record.target, content=record.body, headers=headers)
        except httpx.InvalidURL as e:  # a spelling the resolver reads and httpx does not
            return None, f"{REFUSED}{e}"
        except httpx.HTTPError as e:  # a refusal at connection (the name points elsewhere now) is final
            return None, str(e) if str(e).startswith(REFUSED) else f"{type(e).__name__}: {e}"
        return response.status_code, None if response.is_success else response.text[:500]

    async def _record(self, record: DeliveryRecord, status: int | None, error: str | None) -> None:
        attempts = record.attempts + 1
        now = self._clock.now()
        refused = error is not None and error.startswith("refused:")
        if status is not None and 200 <= status < 300:
            outcome, run_at = "Delivered", now
        elif refused or (status is not None and not _retryable(status)) or attempts >= record.max_attempts:
            outcome, run_at = "Failed", now
        else:
            outcome, run_at = "Pending", now + timedelta(seconds=min(60.0, 2.0 ** (attempts - 1)))
        pending = outcome == "Pending"
        await self._store.write(
            functools.partial(
                Tx.record_attempt,
                delivery_id=record.id or 0,
                status=outcome,
                attempts=attempts,
                run_at=run_at,
                last_status=status,
                last_error=error,
                delivered_at=now if outcome == "Delivered" else None,
                lease_owner=self.node_id if pending else None,
                lease_until=self._keeper.until() if pending else None,
            )
        )
        if outcome == "Delivered":
            self.delivered += 1
        elif outcome == "Failed":
            log.warning(
                "gave up delivering the %s of %s to %s: %s",
                record.kind,
                record.call_id,
                record.target,
                error or f"HTTP {status}",
            )
        else:
            self.submit([replace(record, attempts=attempts, run_at=run_at)])

    async def _claim(self) -> None:
        now = self._clock.now()
        claimed = await self._store.write(
            lambda tx: tx.claim_deliveries(self.node_id, now, self._keeper.until(), 500)
        )
        self.submit(claimed)

    async def _maintain(self) -> None:
        """Claim, every third of a lease, deliveries whose holder died (and those due that nobody holds)."""
        while True:
            await self._clock.sleep(self._keeper.lease_seconds / 3)
            try:
                await self._claim()
            except Exception:
                log.exception("claiming deliveries failed; trying again")
