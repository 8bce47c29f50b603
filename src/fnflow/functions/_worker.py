"""A warm worker: ``python -P -m fnflow.functions._worker FD CONFIG_JSON``, started by the pool.

It imports the handler once, says READY, then serves one invocation at a time over the frame
socket ``FD`` until the pool closes it. Frames never touch stdout/stderr, which belong to user
code (the pool forwards them to logging). Stdlib only, and imported before user code, so a user
module named like one of ours (``json.py``) cannot break it; ``-P`` keeps the cwd off ``sys.path``
until we put the code directory there ourselves.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import socket
import sys
import time
import traceback
from types import SimpleNamespace

from fnflow.functions import _protocol

TYPE_CHECKING = False  # typing costs ~20 ms of every worker start; mypy still reads this block
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    Handler = Callable[[bytes, SimpleNamespace], object]

LOG_FORMAT = "[%(levelname)s] %(name)s: %(message)s"
JSON_TYPES = (dict, list, tuple, int, float, bool)
# Frames left out of stack traces: ours, and the import machinery's.
NOT_USER_CODE = (__file__, os.path.dirname(importlib.__file__) + os.sep, "<frozen ")


class _Failure(Exception):
    """An invocation (or the import) failed in a way the pool reports as FC.Unknown."""

    def __init__(self, message: str, stack: list[list[str]] | None = None) -> None:
        super().__init__(message)
        self.stack = stack


class _Channel:
    def __init__(self, fd: int) -> None:
        os.set_inheritable(fd, False)  # a handler's subprocess must not hold it open after we die
        self._sock = socket.socket(fileno=fd)
        self._in = self._sock.makefile("rb")

    def receive(self) -> tuple[int, bytes, bytes] | None:
        head = self._in.read(_protocol.HEADER.size)
        if len(head) < _protocol.HEADER.size:
            return None
        kind, meta_len, body_len = _protocol.HEADER.unpack(head)
        meta, body = self._in.read(meta_len), self._in.read(body_len)
        if len(meta) < meta_len or len(body) < body_len:
            return None
        return kind, meta, body

    def send(self, kind: int, meta: dict[str, Any], body: bytes = b"") -> None:
        for buffer in _protocol.frame(kind, json.dumps(meta).encode(), body):
            self._sock.sendall(buffer)


def _stack(tb: Any) -> list[list[str]]:
    """The user's frames in FC's shape: ``[['File "/code/index.py"', "line 2", "in handler", "raise …"]]``."""
    return [
        [f'File "{f.filename}"', f"line {f.lineno}", f"in {f.name}", f.line or ""]
        for f in traceback.extract_tb(tb)
        if not f.filename.startswith(NOT_USER_CODE)
    ]


def _load(handler: str) -> Handler:
    module_name, _, attr = handler.rpartition(".")
    if not module_name or not attr:
        raise _Failure(f"Invalid handler '{handler}': expected 'module.function'")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except BaseException as exc:  # SystemExit or a SyntaxError at import time is still an import failure
        message = f"Unable to import module '{module_name}': {type(exc).__name__}: {_text(exc)}"
        raise _Failure(message, _stack(exc.__traceback__)) from None
    function = getattr(module, attr, None)
    if function is None:
        raise _Failure(f"Handler '{attr}' is missing on module '{module_name}'")
    if not callable(function):
        raise _Failure(f"Handler '{attr}' on module '{module_name}' is not callable")
    return function  # type: ignore[no-any-return]


def _encode(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if value is None:
        return b""
    if isinstance(value, JSON_TYPES):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    raise TypeError(f"{type(value).__name__} is not bytes, str, None or JSON (dict, list, number, bool)")


def _context(meta: dict[str, Any], config: dict[str, Any]) -> SimpleNamespace:
    """FC's ``context``, with FC's attribute names so code written for FC runs unchanged.

    ``endpoint`` (fnflow's URL, to call it back) is fnflow's own addition.
    """
    return SimpleNamespace(
        request_id=meta["request_id"],
        credentials=SimpleNamespace(
            access_key_id=meta["access_key_id"],
            access_key_secret=meta["access_key_secret"],
            security_token=meta["security_token"],
        ),
        function=SimpleNamespace(
            name=config["name"],
            handler=config["handler"],
            memory=config["memory_mb"],
            timeout=config["timeout"],
        ),
        service=SimpleNamespace(
            name=config["service"],
            qualifier=meta["qualifier"],
            version_id=meta["version_id"],
            log_project="",
            log_store="",
        ),
        region=meta["region"],
        account_id=meta["account_id"],
        endpoint=meta["endpoint"],
    )


def _call(handler: Handler, event: bytes, context: SimpleNamespace) -> tuple[int, dict[str, Any], bytes]:
    started_at, t0 = time.time(), time.perf_counter()
    try:
        value = handler(event, context)
    except Exception as exc:
        meta = {
            "errorType": type(exc).__name__,
            "errorMessage": _text(exc),
            "stackTrace": _stack(exc.__traceback__),
        }
        return _protocol.ERROR, {**meta, "started_at": started_at, "duration": time.perf_counter() - t0}, b""
    try:
        body = _encode(value)
    except Exception as exc:  # a set, NaN, a cycle, lone surrogates, nesting too deep…
        meta = {"errorType": "FC.Unknown", "errorMessage": f"Function result cannot be encoded: {exc}"}
        return _protocol.ERROR, {**meta, "started_at": started_at, "duration": time.perf_counter() - t0}, b""
    return _protocol.RESULT, {"started_at": started_at, "duration": time.perf_counter() - t0}, body


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return repr(exc)


def _limit_memory(memory_mb: int) -> None:
    """Cap what the handler can allocate to about ``memory_mb`` on top of the bare interpreter.

    RLIMIT_DATA rather than RLIMIT_AS: since Linux 4.7 it counts private writable memory (heap,
    anonymous mmap, thread stacks) but not address space that is only reserved or mapped read-only
    (shared libraries, glibc's 64 MiB per-thread malloc arenas, V8 or the JVM in a subprocess), so
    it tracks what a handler really allocates. Not RSS: an untouched thread stack still counts 8 MiB.
    """
    if memory_mb <= 0 or not sys.platform.startswith("linux"):
        return
    with open("/proc/self/statm") as f:
        data_pages = int(f.read().split()[5])
    limit = data_pages * resource.getpagesize() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _exit_now(code: object) -> NoReturn:
    """Leave at once, even if the handler left non-daemon threads running; the pool sees EOF."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def main(fd: int, config: dict[str, Any]) -> None:
    channel = _Channel(fd)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)  # FC users log with logging.getLogger()
    sys.path.insert(0, os.getcwd())  # the pool starts us in the code directory
    _limit_memory(config["memory_mb"])
    try:
        handler = _load(config["handler"])
    except _Failure as exc:
        channel.send(
            _protocol.ERROR, {"errorType": "FC.Unknown", "errorMessage": str(exc), "stackTrace": exc.stack}
        )
        return
    channel.send(_protocol.READY, {})
    while (frame := channel.receive()) is not None:
        _, meta, event = frame
        context = _context(json.loads(meta), config)
        try:
            kind, result_meta, body = _call(handler, event, context)
        except SystemExit as exc:
            _exit_now(exc.code)
        except BaseException:
            traceback.print_exc()
            _exit_now(1)
        channel.send(kind, result_meta, body)


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]), json.loads(sys.argv[2]))
    except BrokenPipeError:  # the pool went away mid-reply
        _exit_now(0)
