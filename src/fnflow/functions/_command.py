"""The command runtime: a process per call, as OpenFaaS' classic watchdog runs ``fprocess``.

The request body goes to the process's stdin, its stdout (and stderr, unless the function sets
``combine_output=false``) is the response; the environment has the request's ``Http_*``
variables. Success is 200 with ``X-Duration-Seconds``, a non-zero exit 500 with the exit error
and the output, a call past its timeout 408 ``Killed process.``: the watchdog's answers. The
process leads its own process group, so a timeout or a closing pool kills what it started too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping
from typing import Protocol

from fnflow import scheduling
from fnflow.functions import _cgi, _responses
from fnflow.functions.spec import FunctionSpec, Headers, HttpRequest, InvocationResult

CHUNK = 64 * 1024
KILLED = b"Killed process.\n"


class Lines(Protocol):
    """Where a call's lines go: what the process wrote (``output``), and what the watchdog would
    have logged about it (``note``: the function's log only, not the server's)."""

    def output(self, call_id: str | None, instance: str, stream: str, text: str) -> None: ...

    def note(self, call_id: str, instance: str, text: str) -> None: ...


class CommandRunner:
    """Starts one process per call; ``close()`` kills those still running."""

    def __init__(self, environment: Mapping[str, str], *, batch: bool = True) -> None:
        """``batch``: each process runs under SCHED_BATCH (``fnflow.scheduling``)."""
        self._environment = dict(environment)
        self._batch = batch
        self._running: set[asyncio.subprocess.Process] = set()

    async def run(
        self,
        spec: FunctionSpec,
        request: HttpRequest,
        request_id: str,
        lines: Lines,
        deadline: float,
    ) -> InvocationResult:
        """Run the command once for ``request``; whatever happens comes back as a result.

        Its stderr, when it is not part of the response, goes to ``lines``, and so does what the
        classic watchdog logs for each call ("Forking fprocess.", "Wrote N Bytes - Duration: S seconds")."""
        loop = asyncio.get_running_loop()
        started_at, t0 = time.time(), loop.time()
        settings = spec.environment
        combine = settings.get("combine_output", "true").lower() != "false"
        env = {**self._environment, **settings}
        if settings.get("cgi_headers", "true").lower() != "false":
            env.update(
                _cgi.environ(request.method, request.path, request.query, request.headers, len(request.body))
            )
        scratch = None if spec.code_dir is not None else tempfile.mkdtemp(prefix="fnflow-command-")
        try:
            proc = await asyncio.create_subprocess_exec(
                *shlex.split(spec.command),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT if combine else asyncio.subprocess.PIPE,
                cwd=spec.code_dir or scratch,
                env=env,
                start_new_session=True,  # its own process group: killpg reaches its children
            )
        except OSError as exc:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            body = f"{exc}\n".encode()
            return _responses.response(
                500, (("Content-Type", _responses.TEXT),), body, started_at=started_at, duration=0.0
            )
        if self._batch:
            scheduling.run_as_batch(proc.pid)  # as it starts: what it forks at once may not inherit it
        self._running.add(proc)
        instance = str(proc.pid)
        lines.note(request_id, instance, "Forking fprocess.")
        try:
            exchange = _Exchange(proc, request.body)
            try:
                async with asyncio.timeout_at(deadline):
                    returncode = await exchange.run()
            except TimeoutError:
                _kill(proc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 2)  # reaped, so no transport outlives the call
                return _responses.failure(
                    spec.runtime,
                    "FC.Unknown",
                    f"Function time out after {spec.timeout:g} seconds",
                    status=408,
                    started_at=started_at,
                    duration=loop.time() - t0,
                    body=KILLED,
                )
            except asyncio.CancelledError:
                _kill(proc)
                # Reaped before the cancellation goes on, as on a timeout: a loop that ends right
                # after (a server stopping, a test) would otherwise leave its transport unclosed.
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(proc.wait(), 2)
                raise
        finally:
            self._running.discard(proc)
            if scratch is not None:
                await asyncio.to_thread(shutil.rmtree, scratch, True)
        duration = loop.time() - t0
        for line in exchange.stderr.decode("utf-8", "replace").splitlines():
            lines.output(request_id, instance, "stderr", line)
        wrote = f"Wrote {len(exchange.stdout)} Bytes - Duration: {duration:f} seconds"
        lines.note(request_id, instance, wrote)
        if exchange.overflow:
            message = f"The function's output is larger than {_responses.MAX_BODY_BYTES} bytes"
            return _responses.failure(
                spec.runtime, "FC.Unknown", message, status=502, started_at=started_at, duration=duration
            )
        if returncode != 0:
            body = f"{_exit_error(returncode)}\n".encode() + exchange.stdout
            return _responses.response(
                500, (("Content-Type", _responses.TEXT),), body, started_at=started_at, duration=duration
            )
        content_type = settings.get("content_type") or request.header("Content-Type")
        headers: Headers = (("Content-Type", content_type),) if content_type else ()
        headers += (_responses.duration_header(duration),)
        return _responses.response(200, headers, exchange.stdout, started_at=started_at, duration=duration)

    def close(self) -> None:
        """Kill every running command (their calls end with 500 ``signal: killed``)."""
        for proc in list(self._running):
            _kill(proc)


class _Exchange:
    """Feed the body to stdin while stdout (and stderr) are read, each output bounded."""

    def __init__(self, proc: asyncio.subprocess.Process, body: bytes) -> None:
        self.stdout = self.stderr = b""
        self.overflow = False
        self._proc = proc
        self._body = body

    async def run(self) -> int:
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        async with asyncio.TaskGroup() as group:
            group.create_task(self._feed(proc.stdin))
            stdout = group.create_task(self._read(proc.stdout))
            stderr = group.create_task(self._read(proc.stderr)) if proc.stderr is not None else None
        self.stdout = stdout.result()
        self.stderr = stderr.result() if stderr is not None else b""
        return await proc.wait()

    async def _feed(self, stdin: asyncio.StreamWriter) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it need not read it all
            if self._body:
                stdin.write(self._body)
                await stdin.drain()
            stdin.close()
            await stdin.wait_closed()

    async def _read(self, stream: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := await stream.read(CHUNK):
            size += len(chunk)
            if size > _responses.MAX_BODY_BYTES:
                self.overflow = True
                _kill(self._proc)
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:  # not reaped yet, so its pid still names its process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def _exit_error(returncode: int) -> str:
    """Go's ``ExitError`` text, which the classic watchdog puts first in a 500's body."""
    if returncode >= 0:
        return f"exit status {returncode}"
    return f"signal: {(signal.strsignal(-returncode) or str(-returncode)).lower()}"
