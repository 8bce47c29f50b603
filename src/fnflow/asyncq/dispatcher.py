"""Running asynchronous calls: bounded parallelism per queue and per function, retries, expiry.

Calls this process holds (leased to it) wait in memory, per named queue and per function; a
single pump starts as many as the limits allow — at most ``parallelism`` per queue and the
function's ``max_instances`` — round-robin over functions so a busy function cannot starve
the others. Nothing polls: accepts, finished attempts and due retries wake the pump. A slot is
a task (a lane) that runs its function's ready calls one after another, and gives the slot back
to the round-robin when another function waits for one (a task per call cost the drain a fifth
of its time).

A process holds at most ``max_held`` calls, and of one function at most a quarter of that or
``HOLD_PER_INSTANCE`` calls per instance it may run, whichever is more, always leaving room for
``HOLD_PER_INSTANCE`` calls of others: a function whose calls pile up (a slow one, one instance)
must not fill the process with calls that cannot start while another function's calls wait in
the store behind them. (A quarter: a function's calls are claimed again when it holds fewer,
so that many run while the claim waits for the writer; with a twentieth, a drain ran dry.)

Calls accepted beyond that wait in the store, leased to nobody, and are announced on ``CALLS``
so that any process with room claims them (on a shared store, several processes split the work
this way). A claim passes over the functions this process holds its share of; such a function
claims again when one of its calls ends. A process claims again when its own attempts free
room; a periodic claim is the safety net for calls whose holder died.

Every attempt is two commits: marking it Running, and settling it (retry later, or a final
status with its callback and destinations) together with whatever waits for it. On a store
whose writes commit in the order they are queued (SQLite: one writer, one process) the function
is called as soon as its Running mark is queued, not committed: a stop queued later finds the
call Running and cancels it, and a stop queued earlier is known here (``stopping``) before the
function is called. A function's instance goes to the next call once it has answered, so its
commits are shared with the next calls' rather than waited for one after another: nothing awaits
an outcome's commit, and the marks and the outcomes queued before the writer takes them are
written as one job each (``joined``), an outcome after its mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from fnflow import fastjson
from fnflow.asyncq.deliver import build_deliveries, may_deliver
from fnflow.asyncq.joined import Joiner
from fnflow.asyncq.policy import CallStatus, Verdict, judge
from fnflow.background import Background
from fnflow.clock import SYSTEM_CLOCK, Clock
from fnflow.errors import NotFound
from fnflow.functions.config import AsyncPolicy, async_policy_of
from fnflow.functions.naming import metric_name
from fnflow.functions.service import FunctionService
from fnflow.functions.spec import Headers, HttpRequest, InvocationResult
from fnflow.functions.versions import LATEST
from fnflow.leasing import Claimer, LeaseKeeper
from fnflow.metrics import Metrics
from fnflow.store import CallRecord, DeliveryRecord, Store, Tx
from fnflow.store.faults import DatabaseUnavailable
from fnflow.store.leases import CALLS as CALL_LEASES
from fnflow.store.records import evolve
from fnflow.store.writer import isolated

#: pauses between attempts to record a call's outcome while the database is unavailable
SETTLE_RETRIES: tuple[float | None, ...] = (0.2, 0.5, 1, 2, 4, None)
log = logging.getLogger(__name__)

Key = tuple[str, str]  # (service, function)
#: Channel of a shared store on which "calls nobody holds are waiting" is announced.
CALLS = "fnflow_calls"
#: calls of one function held per instance it may run at once (see the module's docstring)
HOLD_PER_INSTANCE = 4
#: Called in the settling transaction of a call that reached a final status; returns what to do after
#: the commit (a flow's task step waiting for the call is one such hook).
FinalHook = Callable[[Tx, CallRecord, CallStatus, InvocationResult | None], Callable[[], None] | None]


def _headers_text(headers: Headers) -> str:
    return fastjson.dumps(headers).decode() if headers else "[]"


def headers_of(text: str | None) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in fastjson.loads(text)] if text and text != "[]" else []


@dataclass
class _Queue:
    parallelism: int
    ready: dict[Key, deque[CallRecord]] = field(default_factory=dict)
    order: deque[Key] = field(default_factory=deque)  # functions with ready calls, round-robin
    inflight: int = 0


class _Held:
    """The ids of the calls this process holds, counted per function."""

    def __init__(self) -> None:
        self._keys: dict[str, Key] = {}
        self.of: Counter[Key] = Counter()

    def add(self, record: CallRecord) -> None:
        if record.id not in self._keys:
            key = self._keys[record.id] = (record.service, record.function)
            self.of[key] += 1

    def discard(self, call_id: str) -> None:
        key = self._keys.pop(call_id, None)
        if key is not None:
            self.of[key] -= 1
            if not self.of[key]:
                del self.of[key]

    def clear(self) -> None:
        self._keys.clear()
        self.of.clear()

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)


class Outcome(NamedTuple):
    """An attempt's end, to record: how it went, and the function's policy as the call ran."""

    record: CallRecord
    verdict: Verdict
    result: InvocationResult | None
    error: str | None
    policy: AsyncPolicy | None


@dataclass
class Settled:
    """What a settling transaction decided, for the steps after the commit."""

    status: CallStatus
    retry: CallRecord | None = None
    deliveries: list[DeliveryRecord] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)  # destination calls to other functions
    after: list[Callable[[], None]] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        functions: FunctionService,
        keeper: LeaseKeeper,
        *,
        parallelism: int = 16,
        queue_parallelism: dict[str, int] | None = None,
        max_held: int = 10_000,
        on_deliveries: Callable[[list[DeliveryRecord]], None] = lambda deliveries: None,
        metrics: Metrics | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._store = store
        self._clock = clock
        self._functions = functions
        self.node_id = keeper.owner
        self._keeper = keeper
        self._parallelism = parallelism
        self._queue_parallelism = dict(queue_parallelism or {})
        self.max_held = max_held
        self._on_deliveries = on_deliveries
        self._on_final: list[FinalHook] = []
        self._metrics = metrics
        self._queues: dict[str, _Queue] = {}
        self._inflight_fn: Counter[Key] = Counter()
        self._running: dict[str, asyncio.Task[None]] = {}  # the lane running each call
        self._lanes: set[asyncio.Task[None]] = set()
        self._limits: dict[Key, int] = {}  # each function's max instances, as last looked up
        self._marks: Joiner[str, None] = Joiner(store, self._write_marks, self._marked)
        self._outcomes: Joiner[Outcome, list[Settled | BaseException]] = Joiner(
            store, self._write_outcomes, self._committed
        )
        self._delayed: dict[str, asyncio.TimerHandle] = {}
        self._held = _Held()
        self._shares: dict[Key, int] = {}  # each function's share, from its max instances as last looked up
        self._unknown_share = self._share_of(parallelism)  # before a function's limit is known
        self._passed_over: set[Key] = set()  # functions whose calls wait in the store for their room
        # Functions whose calls may wait in the store, held by nobody (None: any function), as of
        # the last claim that took all it saw (at ``_looked``, monotonic): see ``_claim``.
        self._waiting: set[Key] | None = None
        self._looked = float("-inf")
        self._news = 0  # counts calls left in the store since, so a claim knows if it saw them
        self._claimer = Claimer(
            self._claim,
            lambda: self.max_held - len(self._held),
            period=keeper.lease_seconds / 3,
            what="calls",
            clock=clock,
        )
        keeper.keep(CALL_LEASES, lambda: self._held)
        self._unlisten: Callable[[], None] = lambda: None
        self._giving = Background()
        self._stop_requested: set[str] = set()
        self._stops_queued: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------------------------

    async def open(self, *, recover: bool) -> None:
        if recover:
            freed = await self._store.write(lambda tx: tx.expire_foreign(CALL_LEASES, self.node_id))
            if freed:
                log.info("recovered %d asynchronous call(s) left by a previous process", freed)
        self._unlisten = self._store.listen([CALLS], lambda _channel, _payload: self.unclaimed())
        await self._claimer.claim()
        self._background = [
            asyncio.create_task(self._pump(), name="async call pump"),
            asyncio.create_task(self._claimer.run(), name="async call claims"),
        ]

    async def close(self) -> None:
        self._unlisten()
        for task in self._background:
            task.cancel()
        for handle in self._delayed.values():
            handle.cancel()
        lanes = list(self._lanes)
        for task in lanes:
            task.cancel()
        await asyncio.gather(*self._background, *lanes, return_exceptions=True)
        self._background = []
        # Outcomes queued before the close are committed before the calls are given back.
        await asyncio.gather(*self._outcomes.pending, return_exceptions=True)
        await self._giving.drain()
        # Give the held calls back, so other processes run them now rather than when the leases end.
        await self._store.write(self._release)
        self._held.clear()

    def _release(self, tx: Tx, call_ids: list[str] | None = None) -> None:
        """Give back the calls of ``call_ids`` (all if None), and tell the other processes."""
        if tx.release(CALL_LEASES, self.node_id, call_ids):
            tx.notify(CALLS, "")

    # --- what this process holds -------------------------------------------------------------------

    def lease_until(self) -> datetime:
        return self._keeper.until()

    def submit(self, records: list[CallRecord]) -> None:
        """Take calls leased to this process: due ones wait for a slot, later ones for their time."""
        now = self._clock.now().timestamp()
        for record in records:
            self._held.add(record)
            if record.status == CallStatus.STOPPING:  # claimed from a holder that died stopping it
                self._giving.spawn(self._settle_stopped(record))
                continue
            delay = record.run_at.timestamp() - now
            if delay > 0:
                self._delay(record, delay)
            else:
                self._enqueue(record)
        self._wake.set()

    def take(self, records: list[CallRecord]) -> None:
        """Hold newly accepted calls as far as there is room; give the rest back to the store, where
        any process (this one too, later) claims them. Concurrent accepts are committed together,
        so a batch may bring more than the room seen when each was accepted."""
        room = max(0, self.max_held - len(self._held))
        taken: Counter[Key] = Counter()
        kept: list[CallRecord] = []
        surplus: list[CallRecord] = []
        for record in records:
            key = (record.service, record.function)
            if len(kept) < room and not self._holds_share(key, taken[key]):
                taken[key] += 1
                kept.append(record)
            else:
                surplus.append(record)
        self.submit(kept)
        if surplus:
            self._giving.spawn(self._give_back(surplus))

    async def _give_back(self, records: list[CallRecord]) -> None:
        try:
            await self._store.write(functools.partial(self._release, call_ids=[r.id for r in records]))
        except Exception:
            log.exception("could not give back %d call(s); they run when their lease ends", len(records))
        self.left_in_store(records)

    def left_in_store(self, records: list[CallRecord]) -> None:
        """Claim these calls, which nobody holds, once there is room for them: a function held to
        its share has room when one of its calls ends; for the others, claim now. (A claim now
        would pass over the first kind, after reading past all of them.)"""
        keys = {(record.service, record.function) for record in records}
        self._left(keys)
        now = False
        for key in keys:
            if self._holds_share(key):
                self._passed_over.add(key)
            else:
                now = True
        if now:
            self._claimer.wanted()

    def _left(self, keys: set[Key] | None) -> None:
        """Calls of the functions ``keys`` (None: of any) wait in the store, held by nobody."""
        self._news += 1
        if keys is None:
            self._waiting = None
        elif self._waiting is not None:
            self._waiting |= keys

    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = _Queue(self._queue_parallelism.get(name, self._parallelism))
        return queue

    def _enqueue(self, record: CallRecord) -> None:
        queue = self._queue(record.queue)
        key = (record.service, record.function)
        calls = queue.ready.get(key)
        if calls is None:
            calls = queue.ready[key] = deque()
            queue.order.append(key)
        calls.append(record)

    def _delay(self, record: CallRecord, seconds: float) -> None:
        def due() -> None:
            self._delayed.pop(record.id, None)
            self._enqueue(record)
            self._wake.set()

        self._delayed[record.id] = asyncio.get_running_loop().call_later(seconds, due)

    @contextlib.contextmanager
    def stopping(self, call_id: str) -> Iterator[None]:
        """Around queueing a stop of the call (and until it commits): the call is not started meanwhile."""
        self._stops_queued[call_id] += 1
        try:
            yield
        finally:
            self._stops_queued[call_id] -= 1
            if not self._stops_queued[call_id]:
                del self._stops_queued[call_id]

    def drop(self, call_id: str) -> bool:
        """Forget a call that waits here (it was stopped); cancel it if it runs. True if held here."""
        handle = self._delayed.pop(call_id, None)
        if handle is not None:
            handle.cancel()
        for queue in self._queues.values():
            for key, calls in list(queue.ready.items()):
                for record in list(calls):
                    if record.id == call_id:
                        calls.remove(record)
                if not calls:
                    del queue.ready[key]
                    queue.order.remove(key)
        running = self._running.get(call_id)
        if running is not None:
            self._stop_requested.add(call_id)
            running.cancel()
        held = call_id in self._held
        if running is None:
            self._held.discard(call_id)
        return held

    def stats(self) -> dict[str, dict[str, int]]:
        """Per queue: calls waiting here, running, and the limit."""
        return {
            name or "default": {
                "waiting": sum(len(c) for c in q.ready.values()),
                "running": q.inflight,
                "parallelism": q.parallelism,
            }
            for name, q in self._queues.items()
        }

    def running_by_function(self) -> dict[Key, int]:
        return {key: count for key, count in self._inflight_fn.items() if count}

    # --- starting attempts -------------------------------------------------------------------------

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            for queue in list(self._queues.values()):
                try:
                    await self._fill(queue)
                except Exception:  # never let one bad call stop every queue
                    log.exception("starting asynchronous calls failed; trying again")
                    await self._clock.sleep(0.1)
                    self._wake.set()

    async def _fill(self, queue: _Queue) -> None:
        blocked = 0  # functions at their limit seen in a row: when all are, stop
        while queue.inflight < queue.parallelism and queue.order and blocked < len(queue.order):
            key = queue.order[0]
            queue.order.rotate(-1)
            limit = await self._limit(key)
            if self._inflight_fn[key] >= limit:
                blocked += 1
                continue
            blocked = 0
            record = self._pop(queue, key)
            queue.inflight += 1
            self._inflight_fn[key] += 1
            lane = asyncio.create_task(self._lane(queue, key, record), name=f"calls of {key[0]}/{key[1]}")
            self._lanes.add(lane)
            lane.add_done_callback(self._lanes.discard)

    async def _limit(self, key: Key) -> int:
        try:
            limit = (await self._functions.lookup(*key)).max_instances
        except NotFound:
            limit = 1  # the attempt settles it as failed
        else:
            self._shares[key] = self._share_of(limit)
        self._limits[key] = limit
        return limit

    @staticmethod
    def _pop(queue: _Queue, key: Key) -> CallRecord:
        calls = queue.ready[key]
        record = calls.popleft()
        if not calls:
            del queue.ready[key]
            queue.order.remove(key)
        return record

    def _next(self, queue: _Queue, key: Key) -> CallRecord | None:
        """The next call a lane of ``key`` runs: one of its function's, unless the limits went down
        or another function waits for the queue's slots (then the slot goes round)."""
        if key not in queue.ready:
            return None
        if queue.inflight > queue.parallelism or self._inflight_fn[key] > self._limits.get(key, 1):
            return None
        if queue.inflight >= queue.parallelism and (len(queue.order) > 1 or queue.order[0] != key):
            return None
        return self._pop(queue, key)

    # --- attempts ----------------------------------------------------------------------------------

    async def _lane(self, queue: _Queue, key: Key, first: CallRecord) -> None:
        """Run calls of one function one after another in one slot of its queue and of its
        function: a task per slot, not per call. A call's slot goes to the next call once its
        function has answered; its outcome is committed meanwhile (``_finish``)."""
        task = asyncio.current_task()
        assert task is not None
        record: CallRecord | None = first
        try:
            while record is not None:
                self._running[record.id] = task
                try:
                    await self._attempt(record)
                except asyncio.CancelledError:
                    if record.id not in self._stop_requested:
                        raise  # shutting down: the lease runs out and the call is retried
                    self._stop_requested.discard(record.id)
                    task.uncancel()
                    await self._settle_stopped(record)
                except Exception as e:  # never let one call stop the lane, nor stay held for ever
                    self._unsettled(record, e)
                finally:
                    self._running.pop(record.id, None)
                record = self._next(queue, key)
        finally:
            queue.inflight -= 1
            self._inflight_fn[key] -= 1
            self._wake.set()

    async def _attempt(self, record: CallRecord) -> None:
        """Start an attempt of the call and run its function; its outcome is queued for the store."""
        now = self._clock.now()
        if now > record.expires_at:
            expired = Verdict(CallStatus.EXPIRED, now, dead=True)
            self._finish(record, expired, None, "the call expired in the queue", await self._policy(record))
            return
        try:
            version = await self._functions.qualifiers.resolve(record.service, record.qualifier)
            function = await self._functions.lookup(record.service, record.function, version)
        except NotFound as e:
            error = f"function {record.service}/{record.function} cannot run: {e.message}"
            failed = Verdict(CallStatus.FAILED, now, dead=True)
            self._finish(record, failed, None, error, await self._policy(record))
            return
        if record.id in self._stops_queued:  # a stop is on its way to the store
            self._ended(record)
            return
        marked = 0  # the job that marks it Running, if the store writes in queue order
        if self._store.ordered_writes:
            # Called as soon as its mark is queued: a stop queued earlier kept it from starting
            # (``stopping``), and one queued later finds it Running and cancels it.
            marked = self._marks.join(record.id)
        else:
            until = self.lease_until()
            if not await self._store.write(lambda tx: tx.start_attempt(record.id, self.node_id, now, until)):
                self._ended(record)  # another process stopped it
                return
        record = evolve(
            record,
            attempts=record.attempts + 1,
            status=CallStatus.RUNNING,
            started_at=record.started_at or now,
        )
        request = HttpRequest(
            method=record.method,
            path=record.path,
            query=record.query,
            headers=tuple(headers_of(record.headers)),
            body=record.body,
        )
        label = metric_name(record.service, record.function)
        began = time.perf_counter()
        if self._metrics is not None:
            self._metrics.invocation_started(label)
        result = await self._functions.invoke(
            record.service,
            record.function,
            request,
            request_id=record.id,
            qualifier=record.qualifier or LATEST,
            version=version,
        )
        if self._metrics is not None:
            self._metrics.invocation_finished(label, result.status, time.perf_counter() - began)
        # If a flow's decision stopped the call after its start was queued, its outcome is not
        # recorded: the settling finds it not Running (``_stopped``).
        policy = async_policy_of(function)
        verdict = judge(
            policy,
            status=result.status,
            attempts=record.attempts,
            max_attempts=record.max_attempts,
            now=self._clock.now(),
            jitter=random.random(),
            retry_after=next((v for k, v in result.headers if k.lower() == "retry-after"), None),
        )
        self._finish(record, verdict, result, result.error_message, policy, after=marked)

    def _write_marks(self, tx: Tx, call_ids: list[str], alone: bool) -> None:
        tx.start_attempts(call_ids, self.node_id, self._clock.now(), self.lease_until())

    def _marked(self, call_ids: list[str], outcome: asyncio.Future[None]) -> None:
        if not outcome.cancelled() and (error := outcome.exception()) is not None:
            # Their outcomes find them not Running and are not recorded: they run again when
            # their leases end.
            log.error("could not mark %d asynchronous call(s) Running", len(call_ids), exc_info=error)

    async def _policy(self, record: CallRecord) -> AsyncPolicy | None:
        """The async policy of the call's function (its latest deployment); None if it is gone."""
        try:
            return async_policy_of(await self._functions.lookup(record.service, record.function))
        except NotFound:
            return None

    def _finish(
        self,
        record: CallRecord,
        verdict: Verdict,
        result: InvocationResult | None,
        error: str | None,
        policy: AsyncPolicy | None,
        *,
        after: int = 0,
    ) -> None:
        """Queue the attempt's outcome for the store, after the job ``after`` (its mark);
        ``policy`` (the function's, as the call ran) says where its destinations go. What
        follows the commit runs when it is done (``_committed``)."""
        self._outcomes.join(Outcome(record, verdict, result, error, policy), after=after)

    def _write_outcomes(self, tx: Tx, outcomes: list[Outcome], alone: bool) -> list[Settled | BaseException]:
        if not alone:
            return [self._settle(tx, outcome) for outcome in outcomes]
        # A job of the batch failed, maybe one of these: each outcome in a savepoint of its own.
        settled: list[Settled | BaseException] = []
        for outcome in outcomes:
            result, error = isolated(tx.conn, tx, functools.partial(self._settle, outcome=outcome))
            settled.append(result if error is None else error)
        return settled

    def _committed(self, outcomes: list[Outcome], job: asyncio.Future[list[Settled | BaseException]]) -> None:
        if job.cancelled():
            for outcome in outcomes:
                self._ended(outcome.record)
            return
        error = job.exception()
        each = job.result() if error is None else [error] * len(outcomes)
        for outcome, settled in zip(outcomes, each, strict=True):
            if isinstance(settled, DatabaseUnavailable):
                # The database restarting: wait for it rather than run the call again.
                self._giving.spawn(self._settle_again(outcome, settled))
            elif isinstance(settled, BaseException):
                self._unsettled(outcome.record, settled)
            else:
                self._after(outcome.record, settled)

    async def _settle_again(self, outcome: Outcome, error: Exception) -> None:
        record = outcome.record
        for pause in SETTLE_RETRIES:
            if pause is None:
                break
            log.warning("settling asynchronous call %s: %s; trying again", record.id, error)
            await self._clock.sleep(pause)
            try:
                settled = await self._store.write(functools.partial(self._settle, outcome=outcome))
            except DatabaseUnavailable as e:
                error = e
            except Exception as e:
                error = e
                break
            else:
                self._after(record, settled)
                return
        self._unsettled(record, error)

    def _unsettled(self, record: CallRecord, error: BaseException) -> None:
        # Not held any more, so its lease is not renewed: it ends, and the call runs again.
        log.error(
            "asynchronous call %s could not be settled; it runs again when its lease ends",
            record.id,
            exc_info=error,
        )
        self._ended(record)

    def _after(self, record: CallRecord, settled: Settled) -> None:
        """What follows the commit of an attempt's outcome."""
        if self._metrics is not None and settled.status is not CallStatus.RUNNING:
            self._metrics.call_processed(record.queue, settled.status.value)
        if settled.retry is not None:
            self.submit([settled.retry])
            self._room_freed(record)
        else:
            self._ended(record)
        if settled.calls:
            self.submit(settled.calls)
        if settled.deliveries:
            self._on_deliveries(settled.deliveries)
        for action in settled.after:
            action()

    def _ended(self, record: CallRecord) -> None:
        """This process is done with the call: it has room for another."""
        self._held.discard(record.id)
        self._room_freed(record)

    def _room_freed(self, record: CallRecord) -> None:
        key = (record.service, record.function)
        if key in self._passed_over and not self._holds_share(key):
            self._passed_over.discard(key)  # it has room now for its calls in the store
            self._claimer.wanted()
        else:
            self._claimer.freed()

    def _settle(self, tx: Tx, outcome: Outcome) -> Settled:
        record, verdict, result, error, policy = outcome
        status = verdict.status
        retrying = status is CallStatus.RETRYING
        finished_at = None if retrying else verdict.run_at
        result_status = result.status if result is not None else None
        result_headers = None if result is None else _headers_text(result.headers)
        result_body = result.body if result is not None else None
        if record.status == CallStatus.RUNNING:
            still_running = tx.settle_call(
                record.id,
                holder=self.node_id,
                status=status.value,
                run_at=verdict.run_at,
                finished_at=finished_at,
                result_status=result_status,
                result_headers=result_headers,
                result_body=result_body,
                error=error,
                dead=verdict.dead,
                lease_owner=self.node_id if retrying else None,
                lease_until=self.lease_until() if retrying else None,
                version=result.version if result is not None else None,
            )
            if not still_running:  # a stop arrived while it ran, or a peer took the call over
                return self._stopped(tx, record)
        elif not tx.finish_waiting_call(
            record.id, status.value, verdict.run_at, error=error, dead=verdict.dead
        ):
            return Settled(CallStatus.STOPPED)  # stopped while it waited
        record = evolve(
            record,
            status=status.value,
            result_status=result_status,
            result_headers=result_headers,
            result_body=result_body,
            error=error,
            finished_at=finished_at,
            version=result.version if result is not None else record.version,
        )
        if retrying:
            return Settled(status, retry=evolve(record, run_at=verdict.run_at))
        settled = Settled(status)
        if may_deliver(record, policy):
            lease = (self.node_id, self.lease_until())
            deliveries, calls = build_deliveries(tx, record, result, self._clock.now(), policy, lease)
            settled.deliveries = deliveries
            settled.calls = calls
        self._final(tx, settled, record, status, result)
        return settled

    def _stopped(self, tx: Tx, record: CallRecord) -> Settled:
        if not tx.mark_stopped(record.id, self._clock.now(), self.node_id):
            # Our lease ran out and a peer holds the call now: the outcome is the peer's to record.
            return Settled(CallStatus.RUNNING)
        settled = Settled(CallStatus.STOPPED)
        self._final(tx, settled, record, CallStatus.STOPPED, None)
        return settled

    def when_final(self, hook: FinalHook) -> None:
        """Call ``hook`` in the transaction that settles a call for good (a flow step may wait for it)."""
        self._on_final.append(hook)

    def _final(
        self,
        tx: Tx,
        settled: Settled,
        record: CallRecord,
        status: CallStatus,
        result: InvocationResult | None,
    ) -> None:
        for hook in self._on_final:
            if (action := hook(tx, record, status, result)) is not None:
                settled.after.append(action)

    async def _settle_stopped(self, record: CallRecord) -> None:
        try:
            settled = await asyncio.shield(self._store.write(lambda tx: self._stopped(tx, record)))
        except Exception as e:
            self._unsettled(record, e)
            return
        self._ended(record)
        for action in settled.after:
            action()

    # --- leases ------------------------------------------------------------------------------------

    def has_room(self, service: str, function: str) -> bool:
        """Whether another accepted call of the function may be held here (else it waits in the store)."""
        return len(self._held) < self.max_held and not self._holds_share((service, function))

    def _holds_share(self, key: Key, more: int = 0) -> bool:
        """Whether this process holds (with ``more`` about to be held) as many calls of one function
        as it may: its share (the module's docstring)."""
        return self._held.of.get(key, 0) + more >= self._shares.get(key, self._unknown_share)

    def _share_of(self, instances: int) -> int:
        most = max(1, self.max_held - HOLD_PER_INSTANCE)
        return min(max(HOLD_PER_INSTANCE * instances, self.max_held // 4), most)

    def unclaimed(self) -> None:
        """Calls nobody holds are waiting, of any function (accepted while this or another process
        was full, or fired by a timer trigger)."""
        self._left(None)
        self._claimer.wanted()

    async def _claim(self, limit: int) -> int:
        """Lease ready calls nobody holds (accepted while processes were full, after a crash, or a
        peer's lease ran out) and run them.

        A claim passes over the functions this process holds its share of, and to find nothing it
        reads past every call of theirs waiting in the store (45 ms with 200,000, on the event
        loop). So a claim that took all it saw remembers that only those functions may have calls
        left, and until calls are left in the store again (or a third of a lease passes, the claimer's
        period: leases of a dead process run out, delayed calls come due) a claim that would pass
        over all of them is not made."""
        now, until = self._clock.now(), self.lease_until()
        full = [key for key in self._held.of if self._holds_share(key)]
        news = self._news
        if full and self._waiting is not None and self._waiting <= set(full) and not self._look_due():
            claimed = []
        else:
            claimed = await self._store.write(
                functools.partial(
                    Tx.claim_calls,
                    owner=self.node_id,
                    now=now,
                    lease_until=until,
                    limit=limit,
                    passing_over=full,
                )
            )
            if len(claimed) < limit and news == self._news:
                self._waiting, self._looked = set(full), self._clock.monotonic()
            elif self._waiting is not None:
                self._waiting |= {(record.service, record.function) for record in claimed}
        self._passed_over.update(full)  # they claim again when one of their calls ends
        self.submit(claimed)
        return len(claimed)

    def _look_due(self) -> bool:
        return self._clock.monotonic() - self._looked >= self._keeper.lease_seconds / 3
