"""One worker subprocess as the event loop sees it: spawn, handshake, call, stop, notice its death.

Frames travel over a socketpair whose child end is passed with ``pass_fds``; stdout and stderr are
two pipes, each read by an ``OutputForwarder``. The worker leads its own process group, so killing it also
kills whatever its handler started. Its exit is noticed through a pidfd (no thread, no polling) and
reaped with ``wait4``, which also gives the peak memory that FC's crash message reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fnflow import fastjson
from fnflow.framing import FrameReader
from fnflow.functions import _protocol, _responses
from fnflow.functions._output import OutputForwarder
from fnflow.functions.config import FC_RUNTIME
from fnflow.functions.spec import FunctionSpec, InvocationResult

STOP_GRACE = 2.0  # seconds a stopped worker gets to exit by itself (atexit hooks) before SIGKILL
# Statuses of the calls the worker could not answer (the handler's own errors are 500).
NOT_STARTED = CRASHED = 502
TIMED_OUT = 504
Frame = tuple[int, dict[str, Any], bytes]
Output = Callable[[str | None, str, str, str], None]  # (request id, instance, stream, line)
# python -S -c BOOT PROVIDED FD CONFIG: the worker module is found in the PROVIDED folder (see _worker)
BOOT = "import sys; sys.path.append(sys.argv[1]); from fnflow.functions._worker import boot; boot()"


class WorkerExited(Exception):
    """The worker's end of the frame socket closed: it died, or we stopped it."""


class Worker:
    """A warm worker process serving one invocation at a time."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        sock: socket.socket,
        outputs: tuple[OutputForwarder, OutputForwarder],
        logger: logging.Logger,
        on_exit: Callable[[Worker], None],
        runtime: str,
    ) -> None:
        self.pid = proc.pid
        self.runtime = runtime
        self.alive = True
        self.started = False  # ready() saw the handler imported: only then may it take calls
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._proc = proc
        self._sock: socket.socket | None = sock  # until the transport takes it over
        self._transport: asyncio.Transport | None = None
        self._outputs = outputs
        self._logger = logger
        self._on_exit = on_exit
        self._waiter: asyncio.Future[tuple[int, bytes, bytes]] | None = None
        # One answer is due after the start (READY or ERROR) and after each INVOKE; one that
        # arrives before anyone waits for it is kept in _early. Any other frame is a broken worker.
        self._expecting = True
        self._early: tuple[int, bytes, bytes] | None = None
        self._max_rss_kib = 0
        self._loop = asyncio.get_running_loop()
        self._watch_exit()

    @classmethod
    def spawn(
        cls,
        spec: FunctionSpec,
        *,
        python: str,
        provided: Path,
        env: Mapping[str, str],
        output: Output,
        logger: logging.Logger,
        on_exit: Callable[[Worker], None],
        batch: bool = True,
    ) -> Worker:
        """Start the process (blocks the loop only for fork/exec); ``ready()`` completes the start."""
        config = {
            "runtime": spec.runtime,
            "handler": spec.handler,
            "service": spec.service,
            "name": spec.name,
            "memory_mb": spec.memory_mb,
            "timeout": spec.timeout,
            "path": list(spec.python_path),
            "initializer": spec.initializer,
            "initialization_timeout": spec.initialization_timeout or spec.timeout,
            "batch": batch,
        }
        parent, child = socket.socketpair()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            argv = [
                python,
                "-u",
                "-S",
                "-P",
                "-c",
                BOOT,
                str(provided),
                str(child.fileno()),
                json.dumps(config),
            ]
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(child.fileno(),),
                cwd=spec.code_dir,
                env=dict(env),
                start_new_session=True,  # its own process group: killpg reaches the handler's children
            )
        except BaseException:
            parent.close()
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            child.close()
            os.close(out_w)
            os.close(err_w)
        instance = str(proc.pid)
        outputs = (
            OutputForwarder(out_r, lambda request_id, line: output(request_id, instance, "stdout", line)),
            OutputForwarder(err_r, lambda request_id, line: output(request_id, instance, "stderr", line)),
        )
        return cls(proc, parent, outputs, logger, on_exit, spec.runtime)

    async def ready(
        self, *, deadline: float, timeout: float, request_id: str | None
    ) -> InvocationResult | None:
        """Wait until the handler is imported: None when ready, else why it failed."""
        started_at, t0 = time.time(), self._loop.time()
        self._tag(request_id)  # what the import prints belongs to the call that caused it
        try:
            if self._sock is not None:
                sock, self._sock = self._sock, None
                self._transport, _ = await self._loop.create_unix_connection(
                    lambda: FrameReader(self._on_frame, self._on_lost), sock=sock
                )
            outcome = await self._exchange(started_at, t0, deadline, timeout)
        except asyncio.CancelledError:
            self.kill()  # a half-started worker must never be handed to the next call
            raise
        if isinstance(outcome, InvocationResult):
            return outcome
        kind, meta, _ = outcome
        if kind == _protocol.READY:
            self.started = True
            return None
        self.kill()  # it could not import the handler; it exits on its own, we just do not wait
        return self._failure(meta, started_at, t0, "worker failed to start", NOT_STARTED)

    async def call(
        self, meta: dict[str, Any], body: bytes, *, request_id: str, deadline: float, timeout: float
    ) -> InvocationResult:
        """Run one call (``meta`` as ``_protocol.INVOKE`` says); every failure comes back as a result."""
        assert self._transport is not None, "call() before ready()"
        started_at, t0 = time.time(), self._loop.time()
        self._tag(request_id)
        self._expecting = True
        for buffer in _protocol.frame(_protocol.INVOKE, fastjson.dumps(meta), body):
            self._transport.write(buffer)  # not writelines: 3.11 joins
        outcome = await self._exchange(started_at, t0, deadline, timeout)
        if isinstance(outcome, InvocationResult):
            return outcome
        kind, answer, out = outcome
        if kind == _protocol.RESULT:
            started_at, duration = answer["started_at"], answer["duration"]
            if self.runtime == FC_RUNTIME and "status" not in answer:
                headers = (_responses.duration_header(duration),)
                return InvocationResult(True, out, None, None, None, started_at, duration, 200, headers)
            return _responses.response(
                answer["status"],
                _responses.forwardable(tuple((k, v) for k, v in answer["headers"])),  # the handler's own
                out,
                started_at=started_at,
                duration=duration,
            )
        if kind != _protocol.ERROR:
            self.kill()
        return self._failure(answer, started_at, t0, f"unexpected frame kind {kind} from the worker", 500)

    def kill(self) -> None:
        """SIGKILL the worker and its process group; its exit is reaped by the exit watch."""
        self.alive = False
        if not self.exited.done():  # until reaped, the pid (and so the group id) cannot be reused
            self._killpg()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Close the frame socket so the worker exits by itself; kill it if it lingers."""
        self.alive = False
        if self._transport is not None:
            self._transport.close()
        elif self._sock is not None:
            self._sock.close()
            self._sock = None
        else:  # between spawn and connect: nothing to close yet
            self.kill()
        await asyncio.wait([self.exited], timeout=grace)
        self.kill()
        await self.exited

    async def _exchange(
        self, started_at: float, t0: float, deadline: float, timeout: float
    ) -> Frame | InvocationResult:
        if self._early is not None:
            (kind, meta, body), self._early = self._early, None
        else:
            received = await self._receive(started_at, t0, deadline, timeout)
            if isinstance(received, InvocationResult):
                return received
            kind, meta, body = received
        answer = fastjson.loads(meta)
        unread = answer.pop(_protocol.UNREAD, False)
        for output in self._outputs:  # the worker wrote its output before the frame: it is this call's
            output.end_of_call(unread)
        self._tag(None)
        return kind, answer, body

    async def _receive(
        self, started_at: float, t0: float, deadline: float, timeout: float
    ) -> tuple[int, bytes, bytes] | InvocationResult:
        if not self.alive:
            return await self._died(started_at, t0)
        waiter = self._waiter = self._loop.create_future()
        timer = self._loop.call_at(deadline, _expire, waiter)
        try:
            received: tuple[int, bytes, bytes] = await waiter
            return received
        except TimeoutError:
            self.kill()
            message = f"Function time out after {timeout:g} seconds"
            return _responses.failure(
                self.runtime,
                "FC.Unknown",
                message,
                status=TIMED_OUT,
                started_at=started_at,
                duration=self._since(t0),
            )
        except WorkerExited:
            return await self._died(started_at, t0)
        except asyncio.CancelledError:
            self.kill()  # the caller gave up; the call's state in the worker is unknown
            raise
        finally:
            timer.cancel()
            self._waiter = None

    async def _died(self, started_at: float, t0: float) -> InvocationResult:
        duration = self._since(t0)
        self.kill()
        await self.exited
        message = (
            "Process exited unexpectedly before completing request "
            f"(duration: {duration * 1000:.0f}ms, maxMemoryUsage: {self._max_rss_kib / 1024:.2f}MB)"
        )
        return _responses.failure(
            self.runtime, "FC.Unknown", message, status=CRASHED, started_at=started_at, duration=duration
        )

    def _failure(
        self, meta: dict[str, Any], started_at: float, t0: float, fallback: str, status: int
    ) -> InvocationResult:
        return _responses.failure(
            self.runtime,
            meta.get("errorType", "FC.Unknown"),
            meta.get("errorMessage", fallback),
            status=status,
            started_at=meta.get("started_at", started_at),
            duration=meta.get("duration", self._since(t0)),
            stack_trace=meta.get("stackTrace"),
        )

    def _tag(self, request_id: str | None) -> None:
        for output in self._outputs:
            output.request_id = request_id

    def _since(self, t0: float) -> float:
        return self._loop.time() - t0

    def _on_frame(self, kind: int, meta: bytes, body: bytes) -> None:
        if not self.alive:  # a late answer from a worker we already gave up on
            return
        if not self._expecting:
            self._logger.warning(
                "worker %d sent frame kind %d while no call was waiting; killing it", self.pid, kind
            )
            self.kill()
            return
        self._expecting = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result((kind, meta, body))
        else:
            # The answer came before its caller started to wait: uvloop runs I/O callbacks before
            # the task that connected (READY is often there already), so keep it for _exchange.
            self._early = (kind, meta, body)

    def _on_lost(self) -> None:
        self.alive = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(WorkerExited())

    def _watch_exit(self) -> None:
        if hasattr(os, "pidfd_open"):
            pidfd = os.pidfd_open(self.pid)
            self._loop.add_reader(pidfd, self._reap, pidfd)
            return

        def wait() -> None:  # no pidfd (not Linux): wait in a thread without reaping, reap in the loop
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
            self._loop.call_soon_threadsafe(self._reap, -1)

        threading.Thread(target=wait, name=f"fnflow-worker-{self.pid}", daemon=True).start()

    def _reap(self, pidfd: int) -> None:
        if pidfd >= 0:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
        self._killpg()  # what the handler left running; the zombie still holds the group id
        try:
            _, status, usage = os.wait4(self.pid, 0)
            self._proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not warn
            self._max_rss_kib = usage.ru_maxrss
        except ChildProcessError:  # reaped by someone else (SIGCHLD ignored): status and memory unknown
            self._proc.returncode = -1
        for output in self._outputs:
            output.close()
        self.alive = False
        if self._transport is not None:
            self._transport.close()
        elif self._sock is not None:
            self._sock.close()
            self._sock = None
        self._on_lost()
        self.exited.set_result(None)
        self._logger.debug("worker %d exited with status %d", self.pid, self._proc.returncode)
        self._on_exit(self)

    def _killpg(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
