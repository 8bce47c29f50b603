"""The server's side of accept fronts: the Unix socket they pass calls to, and their processes.

Each call a front passes on is stored exactly as the gateway stores a ``POST /async-function/…``
(``fnflow.api.gateway.accept_async``: the same key check, the same call, one shared commit) and
answered once committed; a frame's answers go back together, as soon as its calls are stored.

The fronts share the accept port's listening socket, which this process binds (so a busy port is
reported before anything starts) and hands to each. A front that dies is started again; a front
whose server died sees its socket close and exits, so none outlives a ``kill -9`` of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fnflow import fastjson
from fnflow.api.asgi import AsyncRequest
from fnflow.api.auth import authorize
from fnflow.api.errors import INTERNAL_ERROR, STATUS
from fnflow.api.gateway import accept_many
from fnflow.errors import FnflowError, Unavailable
from fnflow.framing import FrameReader
from fnflow.functions._protocol import frame
from fnflow.intake import ANSWERS, CALLS

if TYPE_CHECKING:
    from fnflow.app import Fnflow
    from fnflow.store import CallRecord

log = logging.getLogger(__name__)
#: seconds between restarts of a front that keeps dying, at most
RESTART_BACKOFF = 5.0
#: seconds a stopped front gets to finish its requests before it is killed
STOP_GRACE = 5.0
#: seconds the server waits, when it starts, for its fronts to connect before it serves anyway
START_WAIT = 30.0


def _answer(seq: int, outcome: CallRecord | Exception) -> list[Any]:
    """``[seq, status, call id, error]`` of a call's outcome."""
    if isinstance(outcome, FnflowError):
        return [seq, STATUS.get(outcome.code, 500), None, outcome.to_dict()]
    if isinstance(outcome, Exception):
        log.error("unexpected error on an asynchronous call from an accept front", exc_info=outcome)
        return [seq, 500, None, INTERNAL_ERROR]
    return [seq, 202, outcome.id, None]


class _Front(FrameReader):
    """One front's connection: calls in, answers out."""

    def __init__(self, intake: Intake) -> None:
        super().__init__(self._received, self._lost)
        self._intake = intake
        self._transport: asyncio.Transport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's subclasses
        self._intake.joined(self)

    def _received(self, kind: int, meta: bytes, bodies: bytes) -> None:
        if kind != CALLS:
            log.warning("an accept front sent frame kind %d; closing its connection", kind)
            self.close()
            return
        calls: list[tuple[int, AsyncRequest]] = []
        offset = 0
        for seq, path, query, authorization, call_id, callback, headers, start, size in fastjson.loads(meta):
            body = bodies[offset : offset + size]
            offset += size
            calls.append(
                (seq, AsyncRequest(path, query, authorization, call_id, callback, headers, body, start))
            )
        task = asyncio.create_task(self._accept(calls))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, calls: list[tuple[int, AsyncRequest]]) -> None:
        """Store a frame's calls (those whose key may invoke functions) in one commit, and answer."""
        fnflow = self._intake.fnflow
        refused: dict[int, Exception] = {}
        keys: dict[str | None, Exception | None] = {}  # each key of the frame checked once
        for seq, request in calls:
            if self._intake.closing:
                refused[seq] = Unavailable("the server is stopping; send the call again")
                continue
            if request.authorization not in keys:
                try:
                    await authorize(fnflow, request.authorization, "invoke")
                    keys[request.authorization] = None
                except Exception as e:
                    keys[request.authorization] = e
            if (why := keys[request.authorization]) is not None:
                refused[seq] = why
        allowed = [(seq, request) for seq, request in calls if seq not in refused]
        try:
            stored: list[CallRecord | FnflowError] | Exception = await accept_many(
                fnflow, [r for _, r in allowed]
            )
        except Exception as e:
            stored = e
        outcomes: dict[int, CallRecord | Exception] = dict(refused)
        for n, (seq, _) in enumerate(allowed):
            outcomes[seq] = stored if isinstance(stored, Exception) else stored[n]
        self._send([_answer(seq, outcomes[seq]) for seq, _ in calls])

    def _send(self, answers: list[list[Any]]) -> None:
        """Answer a frame's calls at once: answers held for the end of the loop turn waited behind
        the next frames' work, and the accept port took 1.4x the calls/s without that wait."""
        if self._transport is not None and not self._transport.is_closing():
            for buffer in frame(ANSWERS, fastjson.dumps(answers)):
                self._transport.write(buffer)

    def _lost(self) -> None:
        self._intake.connections.discard(self)
        self._transport = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def drain(self) -> None:
        """Wait for the calls it passed on to be answered."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class Intake:
    """The Unix socket accept fronts connect to, in a private directory of its own."""

    def __init__(self, fnflow: Fnflow) -> None:
        self.fnflow = fnflow
        self.connections: set[_Front] = set()
        self.closing = False
        self._dir = Path(tempfile.mkdtemp(prefix="fnflow-intake-"))  # 0700: only this user
        self.path = self._dir / "calls.sock"
        self._server: asyncio.AbstractServer | None = None
        self._joining = asyncio.Event()

    def joined(self, front: _Front) -> None:
        self.connections.add(front)
        self._joining.set()

    async def connected(self, count: int) -> None:
        """Wait for ``count`` fronts to be connected (a front connects just before it serves)."""
        while len(self.connections) < count:
            self._joining.clear()
            await self._joining.wait()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _Front(self), path=str(self.path))

    async def close(self) -> None:
        """Stop taking calls; answer those already taken."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        await asyncio.gather(*(front.drain() for front in list(self.connections)))
        for front in list(self.connections):
            front.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class Fronts:
    """``count`` front processes on ``sock`` (the accept port), passing calls to ``intake``."""

    def __init__(self, intake: Intake, sock: socket.socket, count: int, *, max_body: int) -> None:
        self._intake = intake
        self._sock = sock
        self._count = count
        self._max_body = max_body
        self._processes: set[asyncio.subprocess.Process] = set()
        self._watching: list[asyncio.Task[None]] = []
        self._stopping = False

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "fnflow.intake.front",
            "--fd",
            str(self._sock.fileno()),
            "--owner",
            str(self._intake.path),
            "--max-body",
            str(self._max_body),
            *(["--keys"] if self._intake.fnflow.settings.auth_enabled else []),
        ]

    async def start(self) -> None:
        """Start the fronts and wait (``START_WAIT`` at most) until each serves: a server that says
        it is ready answers on its accept port too, not after the fronts' second of imports."""
        await self._intake.open()
        self._watching = [
            asyncio.create_task(self._keep(n), name=f"accept front {n}") for n in range(self._count)
        ]
        try:
            await asyncio.wait_for(self._intake.connected(self._count), START_WAIT)
        except TimeoutError:
            log.warning(
                "%d of %d accept fronts started in %.0f s; the accept port holds its calls until they do",
                len(self._intake.connections),
                self._count,
                START_WAIT,
            )

    async def _keep(self, n: int) -> None:
        """Run front ``n``, and again whenever it dies (waiting longer each time it dies young)."""
        delay = 0.1
        while not self._stopping:
            process = await asyncio.create_subprocess_exec(
                *self.command(), pass_fds=(self._sock.fileno(),), stdin=asyncio.subprocess.DEVNULL
            )
            self._processes.add(process)
            began = asyncio.get_running_loop().time()
            code = await process.wait()
            self._processes.discard(process)
            if self._stopping:
                return
            lived = asyncio.get_running_loop().time() - began
            delay = 0.1 if lived > 10 else min(delay * 2, RESTART_BACKOFF)
            log.warning("accept front %d (pid %d) exited with %s; starting it again", n, process.pid, code)
            await asyncio.sleep(delay)

    async def close(self) -> None:
        """Stop the fronts (each finishes the requests it has), then the intake."""
        self._stopping = True
        running = list(self._processes)
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        waits = [asyncio.wait_for(p.wait(), STOP_GRACE) for p in running]
        for outcome, process in zip(
            await asyncio.gather(*waits, return_exceptions=True), running, strict=True
        ):
            if isinstance(outcome, TimeoutError):
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for task in self._watching:
            task.cancel()
        await asyncio.gather(*self._watching, return_exceptions=True)
        await self._intake.close()
        self._sock.close()
