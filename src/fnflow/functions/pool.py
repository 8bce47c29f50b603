"""Runs function calls, whatever the runtime: the one door the rest of fnflow calls.

Each function (service, name) gets a FIFO admission of ``max_instances`` that every runtime
honours, and a per-call timeout. Python runtimes run in long-lived warm workers, one call at a
time each; ``command`` starts a process per call (``_command``), ``http`` proxies to an upstream
(``_proxy``). Workers are grouped by *generation* — everything that shapes the process (code
checksum, handler, environment, memory, timeout) — so a redeploy never reuses old code, while
versions and aliases that point at different code can stay warm side by side. Idle workers stop
after ``idle_timeout``, or sooner when a start needs room under ``max_instances``, and every
worker after ``max_age`` (so credentials minted for an instance outlive it: see
``instance_environment``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fnflow.background import Background
from fnflow.errors import InvalidArgument, Unavailable
from fnflow.functions import _cgi, _responses, provided
from fnflow.functions._admission import Admission
from fnflow.functions._command import CommandRunner
from fnflow.functions._process import Worker
from fnflow.functions.config import FC_RUNTIME, PYTHON_RUNTIMES, RUNTIMES
from fnflow.functions.spec import FunctionSpec, HttpRequest, InvocationContext, InvocationResult, as_request

if TYPE_CHECKING:  # httpx (and what it imports) loads on the first http call, not with the pool
    from fnflow.functions._proxy import HttpProxy

# What workers and commands inherit from the server; nothing else (FNFLOW_DB and the like stay out).
# Python workers do not take the server's PYTHONPATH: they import what ``_worker`` says, nothing more.
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH")
NOT_FOR_WORKERS = ("PYTHONPATH",)
COUNTERS = ("invocations", "errors", "throttled", "cold_starts")
MAX_AGE = 12 * 3600.0  # seconds a worker serves calls; then it stops after its call
CLASSIC_WATCHDOG = ("command", "python3-classic")  # answer 405 to methods the classic watchdog refuses
THROTTLED = 429


class LogSink(Protocol):
    """Where the lines functions write go besides the server's log (``fnflow.functions.logs``)."""

    def write(self, service: str, function: str, call_id: str, instance: str, stream: str, text: str) -> None:
        """Keep one line; called from the event loop, so it must not block."""
        ...


class ClusterSlots(Protocol):
    """A limit shared by every process of a cluster (``fnflow.store.slots`` on PostgreSQL)."""

    async def acquire(self, name: str, capacity: int, timeout: float) -> Callable[[], None] | None:
        """One of ``capacity`` slots of ``name`` (a function giving it back), or None after ``timeout``."""
        ...


Generation = tuple[object, ...]


def _generation(spec: FunctionSpec) -> Generation:
    environment = tuple(sorted(spec.environment.items()))
    return (
        spec.checksum,
        spec.handler,
        spec.runtime,
        str(spec.code_dir),
        spec.memory_mb,
        spec.timeout,
        environment,
        spec.python_path,
        spec.initializer,
        spec.initialization_timeout,
        spec.role_key,
        spec.role,
    )


@dataclass(eq=False)
class _Member:
    """A worker and the pool's bookkeeping about it."""

    worker: Worker
    generation: Generation
    spec: FunctionSpec
    retire_at: float = float("inf")  # loop time after which it takes no new call (max_age)
    idle: bool = False
    idle_since: float = 0.0
    timer: asyncio.TimerHandle | None = None
    retired: bool = False  # stop after the current call (evict)


class _Function:
    """Admission, workers and counters of one (service, name)."""

    def __init__(self, service: str, name: str, logger: logging.Logger, sink: LogSink | None) -> None:
        self.service = service
        self.name = name
        self.admission = Admission(1)
        self.members: dict[Worker, _Member] = {}
        self.idle: dict[Generation, list[_Member]] = {}  # stacks: the most recently used is reused first
        self.logger = logger
        self.sink = sink
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.warm: tuple[Generation, int] | None = None  # workers of that code kept started
        self._last: tuple[FunctionSpec, Generation] | None = None

    def generation(self, spec: FunctionSpec) -> Generation:
        """The spec's generation; the service hands the same spec object to call after call, so
        the last one is kept (a tuple of twelve fields, its environment sorted, per call otherwise)."""
        last = self._last
        if last is not None and last[0] is spec:
            return last[1]
        generation = _generation(spec)
        self._last = (spec, generation)
        return generation

    def output(self, call_id: str | None, instance: str, stream: str, text: str) -> None:
        """A line the function wrote: to the server's log at info, and to the sink (the store)."""
        if call_id:
            self.logger.info("[%s] %s", call_id, text, extra={"request_id": call_id})
        else:
            self.logger.info("%s", text)
        if self.sink is not None:
            self.sink.write(self.service, self.name, call_id or "", instance, stream, text)

    def note(self, call_id: str, instance: str, text: str) -> None:
        """A line about a call for the function's log only (the server's log is not its place)."""
        if self.sink is not None:
            self.sink.write(self.service, self.name, call_id, instance, "stderr", text)

    def keeps(self, member: _Member) -> bool:
        """Whether stopping this idle worker would go below the warm minimum."""
        if self.warm is None or member.generation != self.warm[0]:
            return False
        return self.live(member.generation) <= self.warm[1]

    def live(self, generation: Generation | None = None) -> int:
        return sum(m.worker.alive and generation in (None, m.generation) for m in self.members.values())

    def park(self, member: _Member) -> None:
        member.idle = True
        self.idle.setdefault(member.generation, []).append(member)

    def unpark(self, member: _Member) -> None:
        if member.idle:
            member.idle = False
            stack = self.idle[member.generation]
            stack.remove(member)
            if not stack:
                del self.idle[member.generation]

    def take_idle(self, generation: Generation) -> _Member | None:
        while stack := self.idle.get(generation):
            member = stack[-1]
            self.unpark(member)
            if member.worker.alive:
                return member
        return None

    def oldest_idle(self, other_than: Generation) -> _Member | None:
        idle = [m for generation, stack in self.idle.items() if generation != other_than for m in stack]
        return min(idle, key=lambda m: m.idle_since, default=None)

    def stats(self) -> dict[str, int]:
        idle = sum(len(stack) for stack in self.idle.values())
        gauges = {"busy": self.admission.in_use, "waiting": self.admission.waiting, "idle": idle}
        return {**self.counters, **gauges, "workers": self.live()}


class FunctionPool:
    """Runs invocations in warm per-function worker processes; use from one event loop."""

    def __init__(
        self,
        *,
        python: str = sys.executable,
        idle_timeout: float = 300.0,
        environment: Mapping[str, str] | None = None,
        logger: logging.Logger | None = None,
        cluster: ClusterSlots | None = None,
        logs: LogSink | None = None,
        provided_root: Path | None = None,
        instance_environment: Callable[[FunctionSpec], Mapping[str, str]] | None = None,
        max_age: float = MAX_AGE,
        batch: bool = True,
    ) -> None:
        """``cluster``: a ``max_instances`` limit that holds across processes, taken after this
        process's own (FIFO) admission. ``logs``: where function output goes besides ``logging``.
        ``provided_root``: where the folder of packages fnflow provides to functions is made
        (``fnflow.functions.provided``; default: under the temporary directory).
        ``instance_environment``: variables of one worker of the function, made as it starts (its
        credentials), valid for ``max_age`` and the function's timeout at least. ``batch``: workers
        and commands run under SCHED_BATCH (``fnflow.scheduling``)."""
        self._python = python
        default = Path(tempfile.gettempdir()) / f"fnflow-{os.getuid()}-provided"
        self._provided_root = (provided_root or default).resolve()  # workers run in their code folder
        self._provided: Path | None = None
        self._instance_environment = instance_environment
        self._max_age = max_age
        self._logs = logs
        self._cluster = cluster
        self._idle_timeout = idle_timeout
        self._environment = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
        self._environment.update(environment or {})
        self._logger = logger or logging.getLogger("fnflow.functions")
        self._functions: dict[tuple[str, str, str], _Function] = {}  # by service, name, version
        self._stopping = Background()
        self._batch = batch
        self._commands = CommandRunner(self._environment, batch=batch)
        self._proxy: HttpProxy | None = None
        self._closed = False

    async def invoke(
        self, spec: FunctionSpec, request: HttpRequest | bytes, context: InvocationContext
    ) -> InvocationResult:
        """Run one call (bytes: a POST with that body); whatever the function does comes back as a result.

        Only a closed pool (``Unavailable``) or a runtime it cannot run (``InvalidArgument``) raise.
        """
        fn = self._function(spec)
        fn.counters["invocations"] += 1
        result = await self._admitted(fn, spec, as_request(request), context)
        if not result.ok:
            fn.counters["errors"] += 1
            if result.status >= 500 or result.status in (408, THROTTLED):
                self._failed(fn, context.request_id, result)
        return result

    def _failed(self, fn: _Function, call_id: str, result: InvocationResult) -> None:
        """Say in the server's log, and in the function's, that a call failed and why."""
        why = (result.error_message or "").strip().splitlines()
        message = f"{result.error_type}: {why[0][:300] if why else ''}".rstrip(": ")
        self._logger.warning(
            "function %s/%s failed (call %s, HTTP %d): %s",
            fn.service,
            fn.name,
            call_id,
            result.status,
            message,
        )
        fn.note(call_id, "", f"fnflow: the call failed (HTTP {result.status}): {message}")

    async def prewarm(self, spec: FunctionSpec, n: int) -> int:
        """Start workers until ``n`` (at most ``max_instances``) run this code; returns how many do.

        Only Python runtimes have workers to start; for the others it returns 0.
        """
        fn = self._function(spec)
        if spec.runtime not in PYTHON_RUNTIMES:
            return 0
        generation = _generation(spec)
        started = []
        for _ in range(min(n, spec.max_instances) - fn.live(generation)):
            if not self._make_room(fn, generation):
                break
            spawned = self._spawn(fn, spec, generation)
            if isinstance(spawned, InvocationResult):
                break
            started.append(spawned)
        startup = _startup(spec)
        deadline = asyncio.get_running_loop().time() + startup
        failures = await asyncio.gather(
            *(m.worker.ready(deadline=deadline, timeout=startup, request_id=None) for m in started)
        )
        for member, failure in zip(started, failures, strict=True):
            if failure is None:
                self._release(fn, member)
            else:
                self._logger.warning("prewarm %s/%s: %s", spec.service, spec.name, failure.error_message)
        return fn.live(generation)

    async def keep_warm(self, spec: FunctionSpec, n: int) -> int:
        """Keep ``n`` workers of this code started (idle ones stop only above ``n``); start the missing
        ones now. Returns how many run. ``n`` 0 lets them stop after their idle time again."""
        fn = self._function(spec)
        fn.warm = (_generation(spec), n) if n > 0 else None
        return await self.prewarm(spec, n) if n > 0 else fn.live(_generation(spec))

    def is_warm(self, service: str, name: str, version: str = "") -> bool:
        """Whether this pool keeps workers of the function started (``keep_warm`` with n > 0)."""
        fn = self._functions.get((service, name, version))
        return fn is not None and fn.warm is not None

    def workers(self, service: str, name: str, version: str = "") -> int:
        """Worker processes of the function ready for calls (started, alive) in this pool now."""
        fn = self._functions.get((service, name, version))
        if fn is None:
            return 0
        return sum(m.worker.alive and m.worker.started for m in fn.members.values())

    async def evict(self, service: str, name: str, version: str = "") -> None:
        """Stop a function's workers (on delete or redeploy): idle ones now, busy ones after their call."""
        fn = self._functions.get((service, name, version))
        if fn is None:
            return
        fn.warm = None
        stops = []
        for member in list(fn.members.values()):
            member.retired = True
            if member.idle:
                fn.unpark(member)
                stops.append(member.worker.stop())
        await asyncio.gather(*stops)

    def folders_in_use(self) -> set[str]:
        """The code folders and import folders of every live worker (a prune must leave them)."""
        found: set[str] = set()
        for fn in self._functions.values():
            for member in fn.members.values():
                if member.worker.alive:
                    spec = member.spec
                    found.update(str(spec.code_dir), *spec.python_path)
        return found

    def stats(self) -> dict[str, Any]:
        """Counters and gauges, in total and per ``"service/name"``, for /metrics and the console."""
        per_function = {
            f"{s}/{n}" + (f":{v}" if v else ""): fn.stats() for (s, n, v), fn in self._functions.items()
        }
        keys = (*COUNTERS, "busy", "waiting", "idle", "workers")
        totals = {k: sum(f[k] for f in per_function.values()) for k in keys}
        return {**totals, "functions": per_function}

    async def close(self) -> None:
        """Stop every worker: calls in flight end as errors, waiting and later ones raise ``Unavailable``."""
        self._closed = True
        self._commands.close()
        if self._proxy is not None:
            await self._proxy.close()
        stops = []
        for fn in self._functions.values():
            fn.admission.close()
            for member in list(fn.members.values()):
                if member.timer is not None:
                    member.timer.cancel()
                stops.append(member.worker.stop())
        await asyncio.gather(*stops)
        await self._stopping.drain()

    async def _admitted(
        self, fn: _Function, spec: FunctionSpec, request: HttpRequest, context: InvocationContext
    ) -> InvocationResult:
        loop = asyncio.get_running_loop()
        started_at, t0 = time.time(), loop.time()
        if spec.runtime in CLASSIC_WATCHDOG and request.method not in _cgi.METHODS:
            return _responses.response(405, (), b"", started_at=started_at, duration=0.0)
        if not fn.admission.try_acquire() and not await fn.admission.acquire(spec.timeout):
            return self._throttled(fn, spec, started_at, loop.time() - t0)
        release_slot = None
        try:
            if self._cluster is not None:
                left = spec.timeout - (loop.time() - t0)
                release_slot = await self._cluster.acquire(
                    f"{spec.service}/{spec.name}", spec.max_instances, left
                )
                if release_slot is None:
                    return self._throttled(fn, spec, started_at, loop.time() - t0, where="in the cluster ")
            deadline = loop.time() + spec.timeout
            if spec.runtime == "command":
                return await self._commands.run(spec, request, context.request_id, fn, deadline)
            if spec.runtime == "http":
                return await self._http_proxy().forward(spec, request, deadline)
            return await self._call_worker(fn, spec, request, context, deadline)
        finally:
            if release_slot is not None:
                release_slot()
            fn.admission.release()

    def _throttled(
        self, fn: _Function, spec: FunctionSpec, started_at: float, waited: float, where: str = ""
    ) -> InvocationResult:
        fn.counters["throttled"] += 1
        message = (
            f"Function {spec.service}/{spec.name} is at its limit of {spec.max_instances} concurrent"
            f" instances {where}and none became free within {spec.timeout:g} seconds"
        )
        return _responses.failure(
            spec.runtime,
            "FC.ResourceThrottled",
            message,
            status=THROTTLED,
            started_at=started_at,
            duration=waited,
        )

    async def _call_worker(
        self,
        fn: _Function,
        spec: FunctionSpec,
        request: HttpRequest,
        context: InvocationContext,
        deadline: float,
    ) -> InvocationResult:
        member = None
        try:
            generation = fn.generation(spec)
            member = fn.take_idle(generation)
            while member is not None and asyncio.get_running_loop().time() > member.retire_at:
                self._stop_later(member.worker)  # too old for another call
                member = fn.take_idle(generation)
            if member is None:
                fn.counters["cold_starts"] += 1
                self._make_room(fn, generation)
                spawned = self._spawn(fn, spec, generation)
                if isinstance(spawned, InvocationResult):
                    return spawned
                member = spawned
                init = _startup(spec) - spec.timeout  # the initializer's time is its own
                failure = await member.worker.ready(
                    deadline=deadline + init, timeout=spec.timeout + init, request_id=context.request_id
                )
                if failure is not None:
                    return failure
                if init:
                    deadline = max(deadline, asyncio.get_running_loop().time() + spec.timeout)
            if spec.runtime != FC_RUNTIME:
                meta = _request_meta(request)
            elif context.http:  # an HTTP trigger: the handler is a WSGI application
                meta = {**vars(context), "request": {**_request_meta(request), "remote": request.remote_addr}}
            else:
                meta = vars(context)
            return await member.worker.call(
                meta, request.body, request_id=context.request_id, deadline=deadline, timeout=spec.timeout
            )
        finally:
            if member is not None:
                self._release(fn, member)

    def _http_proxy(self) -> HttpProxy:
        if self._proxy is None:
            from fnflow.functions._proxy import HttpProxy

            self._proxy = HttpProxy()
        return self._proxy

    def _function(self, spec: FunctionSpec) -> _Function:
        if self._closed:
            raise Unavailable("the function pool is closed")
        if spec.runtime not in RUNTIMES:
            raise InvalidArgument(f"runtime {spec.runtime!r} is not supported")
        if spec.runtime in PYTHON_RUNTIMES and spec.code_dir is None:
            raise InvalidArgument(f"function {spec.service}/{spec.name} has no code to run")
        key = (spec.service, spec.name, spec.version)
        fn = self._functions.get(key)
        if fn is None:
            output_logger = logging.getLogger(f"{self._logger.name}.{spec.service}.{spec.name}")
            fn = _Function(spec.service, spec.name, output_logger, self._logs)
            self._functions[key] = fn
        if fn.admission.capacity != spec.max_instances:
            fn.admission.resize(spec.max_instances)
        return fn

    def _make_room(self, fn: _Function, generation: Generation) -> bool:
        """Stop idle workers of other generations until a start stays within ``max_instances``."""
        live = fn.live()
        while live >= fn.admission.capacity and (victim := fn.oldest_idle(other_than=generation)):
            fn.unpark(victim)
            self._stop_later(victim.worker)
            live -= 1
        return live < fn.admission.capacity

    def _spawn(self, fn: _Function, spec: FunctionSpec, generation: Generation) -> _Member | InvocationResult:
        if self._closed:  # admitted just before close(): starting a worker now would outlive the pool
            raise Unavailable("the function pool is closed")
        if self._provided is None:
            self._provided = provided.folder(self._provided_root)
        env = {
            **{k: v for k, v in self._environment.items() if k not in NOT_FOR_WORKERS},
            "FC_FUNC_CODE_PATH": str(spec.code_dir),
            "FC_SERVICE_NAME": spec.service,
            "FC_FUNCTION_NAME": spec.name,
            "FC_FUNCTION_HANDLER": spec.handler,
            "FC_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            **(self._instance_environment(spec) if self._instance_environment else {}),
            **spec.environment,
        }
        try:
            worker = Worker.spawn(
                spec,
                python=self._python,
                provided=self._provided,
                env=env,
                output=fn.output,
                logger=self._logger,
                on_exit=functools.partial(self._forget, fn),
                batch=self._batch,
            )
        except OSError as exc:
            self._logger.error("cannot start a worker for %s/%s: %s", spec.service, spec.name, exc)
            return _responses.failure(
                spec.runtime,
                "FC.InternalServerError",
                f"Cannot start a worker: {exc}",
                status=500,
                started_at=time.time(),
                duration=0.0,
            )
        retire_at = asyncio.get_running_loop().time() + self._max_age
        member = fn.members[worker] = _Member(worker, generation, spec, retire_at)
        return member

    def _release(self, fn: _Function, member: _Member) -> None:
        """After a call: back to the idle stack, or stopped if retired or never ready (a dead one is
        forgotten on exit)."""
        if not member.worker.alive:
            return
        if member.retired or self._closed or not member.worker.started:  # never reuse a half-started one
            self._stop_later(member.worker)
            return
        member.idle_since = asyncio.get_running_loop().time()
        fn.park(member)
        if member.timer is None:
            member.timer = asyncio.get_running_loop().call_later(
                self._idle_timeout, self._expire_idle, fn, member
            )

    def _expire_idle(self, fn: _Function, member: _Member) -> None:
        # One timer per worker, re-armed for the rest of the idle time rather than on every call.
        member.timer = None
        if not member.idle:
            return
        left = member.idle_since + self._idle_timeout - asyncio.get_running_loop().time()
        if left <= 0 and fn.keeps(member) and asyncio.get_running_loop().time() < member.retire_at:
            left = self._idle_timeout
        if left > 0:
            member.timer = asyncio.get_running_loop().call_later(left, self._expire_idle, fn, member)
            return
        fn.unpark(member)
        self._stop_later(member.worker)

    def _stop_later(self, worker: Worker) -> None:
        worker.alive = False  # counted out now, not when the stop task first runs (warm minimum)
        self._stopping.spawn(worker.stop())

    def _forget(self, fn: _Function, worker: Worker) -> None:
        member = fn.members.pop(worker, None)
        if member is not None:
            fn.unpark(member)
            if member.timer is not None:
                member.timer.cancel()


def _startup(spec: FunctionSpec) -> float:
    """Seconds a worker may take to start: the timeout, and its initializer's."""
    if not spec.initializer:
        return spec.timeout
    return spec.timeout + (spec.initialization_timeout or spec.timeout)


def _request_meta(request: HttpRequest) -> dict[str, Any]:
    """What an OpenFaaS-style worker needs of the request besides its body."""
    return {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": request.headers,
    }
