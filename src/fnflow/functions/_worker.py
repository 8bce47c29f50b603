"""A warm worker, started by the pool as ``python -S -P -c BOOT PROVIDED FD CONFIG_JSON`` (see ``boot``).

It imports the handler once, says READY, then serves one invocation at a time over the frame
socket ``FD`` until the pool closes it. Frames never touch stdout/stderr, which belong to user
code (the pool forwards them to logging). Stdlib only, and imported before user code, so a user
module named like one of ours (``json.py``) cannot break it.

``-S`` leaves the server's site-packages out: the function imports its code folder, the standard
library, then the folders the pool names (vendored packages, layers, its environment), then what
fnflow provides (the ``PROVIDED`` folder: ``fnflow.provided``), in that order. ``-P`` keeps the cwd
off ``sys.path`` until we put the code directory there ourselves.

It calls the handler in the style of its runtime: Function Compute's ``handler(event, context)``
(``python3``; ``handler(environ, start_response)``, a WSGI application, for a call through an HTTP
trigger; its ``initializer(context)`` once, before READY), or one of the OpenFaaS Python templates
(``python3-http``, ``python3-flask``, ``python3-classic``), whose handlers answer HTTP requests;
those import the code directory as the package ``function``, as the templates do, so relative
imports work.
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.machinery
import importlib.util
import io
import json
import logging
import os
import resource
import socket
import struct
import sys
import termios
import time
import traceback
import uuid
from collections.abc import Mapping
from types import SimpleNamespace

from fnflow import scheduling
from fnflow.functions import _cgi, _protocol

TYPE_CHECKING = False  # typing costs ~20 ms of every worker start; mypy still reads this block
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, NoReturn

    Handler = Callable[..., object]
    Frame = tuple[int, dict[str, Any], bytes]
    Response = tuple[int, list[tuple[str, str]], bytes]

LOG_FORMAT = "[%(levelname)s] %(name)s: %(message)s"
CREDENTIALS = (
    "FNFLOW_INSTANCE_CREDENTIALS"  # this instance's credentials (JSON), taken out of the environment
)
JSON_TYPES = (dict, list, tuple, int, float, bool)
PACKAGE = "function"  # what the OpenFaaS templates import the handler folder as
HTML = "text/html; charset=utf-8"  # Flask's default for a text body
TEXT = "text/plain; charset=utf-8"
# Frames left out of stack traces: ours, and the import machinery's.
NOT_USER_CODE = (__file__, os.path.dirname(importlib.__file__) + os.sep, "<frozen ")


class _Failure(Exception):
    """An invocation (or the import) failed in a way the pool reports as FC.Unknown."""

    def __init__(
        self, message: str, stack: list[list[str]] | None = None, error_type: str = "FC.Unknown"
    ) -> None:
        super().__init__(message)
        self.stack = stack
        self.error_type = error_type


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
        if kind != _protocol.READY and _unread_output():
            meta = {**meta, _protocol.UNREAD: True}
        for buffer in _protocol.frame(kind, json.dumps(meta).encode(), body):
            self._sock.sendall(buffer)


def _unread_output() -> bool:
    """Whether what we wrote to stdout or stderr still waits in the pipe for the pool to read:
    then the pool reads it before it takes the answer, so that the lines go out as this call's.
    (Asking costs us two system calls; two reads that find nothing cost the pool's event loop more.)"""
    for fd in (1, 2):
        try:
            (waiting,) = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))
        except OSError:  # not a pipe: say so, and the pool reads
            return True
        if waiting:
            return True
    return False


def _stack(tb: Any) -> list[list[str]]:
    """The user's frames in FC's shape: ``[['File "/code/index.py"', "line 2", "in handler", "raise …"]]``."""
    return [
        [f'File "{f.filename}"', f"line {f.lineno}", f"in {f.name}", f.line or ""]
        for f in traceback.extract_tb(tb)
        if not f.filename.startswith(NOT_USER_CODE)
    ]


def _load(handler: str, package: bool) -> Handler:
    module_name, _, attr = handler.rpartition(".")
    if not module_name or not attr:
        raise _Failure(f"Invalid handler '{handler}': expected 'module.function'")
    try:
        if package:
            _install_package(os.getcwd())
        prefix = PACKAGE + "." if package else ""
        module = importlib.import_module(prefix + module_name.replace("/", "."))
    except BaseException as exc:  # SystemExit or a SyntaxError at import time is still an import failure
        message = f"Unable to import module '{module_name}': {type(exc).__name__}: {_text(exc)}"
        raise _Failure(message, _stack(exc.__traceback__)) from None
    function = getattr(module, attr, None)
    if function is None:
        raise _Failure(f"Handler '{attr}' is missing on module '{module_name}'")
    if not callable(function):
        raise _Failure(f"Handler '{attr}' on module '{module_name}' is not callable")
    return function  # type: ignore[no-any-return]


def _install_package(path: str) -> None:
    """Make ``path`` the package ``function`` (running its ``__init__.py`` if it has one)."""
    init = os.path.join(path, "__init__.py")
    if os.path.isfile(init):
        spec = importlib.util.spec_from_file_location(PACKAGE, init, submodule_search_locations=[path])
    else:
        spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
    assert spec is not None and spec.submodule_search_locations is not None
    spec.submodule_search_locations[:] = [path]
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    if spec.loader is not None:
        spec.loader.exec_module(module)


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


_instance: dict[str, str] = {}  # the instance's credentials, when its function has a role


def _context(meta: dict[str, Any], config: dict[str, Any]) -> SimpleNamespace:
    """FC's ``context``, with FC's attribute names so code written for FC runs unchanged.

    The credentials are the call's, or (none given) the instance's. ``endpoint`` (fnflow's URL,
    to call it back) is fnflow's own addition.
    """
    credentials = meta if meta["access_key_id"] else _instance
    return SimpleNamespace(
        request_id=meta["request_id"],
        credentials=SimpleNamespace(
            access_key_id=credentials.get("access_key_id", ""),
            access_key_secret=credentials.get("access_key_secret", ""),
            security_token=credentials.get("security_token", ""),
        ),
        function=SimpleNamespace(
            name=config["name"],
            handler=config["handler"],
            memory=config["memory_mb"],
            timeout=config["timeout"],
            initializer=config.get("initializer", ""),
            initialization_timeout=config.get("initialization_timeout", 0),
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


def _environ(meta: dict[str, Any], body: bytes, context: SimpleNamespace) -> dict[str, Any]:
    """A WSGI ``environ`` as Function Compute's HTTP triggers give it: the process's variables, the
    request (``PATH_INFO`` is the path after the function's), ``fc.context`` and ``fc.request_uri``."""
    request = meta["request"]
    host, _, port = next((v for k, v in request["headers"] if k.lower() == "host"), "localhost").partition(
        ":"
    )
    environ: dict[str, Any] = {
        **os.environ,
        "REQUEST_METHOD": request["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": request["path"],
        "QUERY_STRING": request["query"],
        "CONTENT_TYPE": "application/octet-stream",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": host,
        "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": request["remote"],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "fc.context": context,
        "fc.request_uri": meta["request_uri"],
    }
    headers: dict[str, str] = {}
    for name, value in request["headers"]:
        key = name.upper().replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.pop("HTTP_PROXY", None)  # httpoxy: a request never sets the process's proxy
    return {**environ, **headers}


def _wsgi(handler: Handler, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Call a WSGI application; its status, headers and body."""
    started: list[tuple[int, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if started and exc_info is None:
            raise AssertionError("start_response was called twice without exc_info")
        started[:] = [(_status(status), [(str(k), str(v)) for k, v in headers])]
        return written.append

    result = handler(environ, start_response)
    try:
        chunks = [bytes(chunk) for chunk in result]  # type: ignore[attr-defined]
    finally:
        close = getattr(result, "close", None)
        if callable(close):
            close()
    if not started:
        raise TypeError("the WSGI application returned without calling start_response")
    status, headers = started[0]
    return status, headers, b"".join(written + chunks)


def _call_fc(handler: Handler, meta: dict[str, Any], event: bytes, config: dict[str, Any]) -> Frame:
    """Function Compute: the return value is the body; an exception is an error with its class name.
    A call through an HTTP trigger is a WSGI call: its status and headers come back too."""
    context = _context(meta, config)
    started_at, t0 = time.time(), time.perf_counter()
    try:
        if "request" in meta:
            status, headers, body = _wsgi(handler, _environ(meta, event, context))
            answer = {"status": status, "headers": headers}
            return (
                _protocol.RESULT,
                {**answer, "started_at": started_at, "duration": time.perf_counter() - t0},
                body,
            )
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


class _Headers(Mapping[str, str]):
    """Request headers looked up in any case, like Flask's ``request.headers`` (first value wins)."""

    def __init__(self, pairs: list[list[str]]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            self._items.setdefault(name.lower(), (_cgi.canonical(name), value))

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


def _event(meta: dict[str, Any], body: bytes) -> SimpleNamespace:
    """The python3-http template's ``event``; ``query`` has each parameter's first value."""
    from urllib.parse import parse_qsl

    query: dict[str, str] = {}
    for key, value in parse_qsl(meta["query"], keep_blank_values=True):
        query.setdefault(key, value)
    return SimpleNamespace(
        body=body, headers=_Headers(meta["headers"]), method=meta["method"], query=query, path=meta["path"]
    )


def _flask(value: object) -> Response:
    """What Flask makes of a view's return value: a body, or a tuple with a status and/or headers."""
    status: object = 200
    headers: object = ()
    if isinstance(value, tuple):
        if len(value) == 3:
            value, status, headers = value
        elif len(value) == 2:
            value, second = value
            if isinstance(second, dict | list | tuple):
                headers = second
            else:
                status = second
        else:
            raise TypeError(
                "a returned tuple must be (body, status, headers), (body, status) or (body, headers)"
            )
    if isinstance(value, dict | list):
        content_type, body = "application/json", _jsonify(value)
    elif isinstance(value, str):
        content_type, body = HTML, value.encode()
    elif isinstance(value, bytes | bytearray):
        content_type, body = HTML, bytes(value)
    else:
        raise TypeError(
            f"the handler returned {type(value).__name__}: return str, bytes, dict, list or a tuple"
        )
    if isinstance(headers, dict):
        headers = list(headers.items())
    if not isinstance(headers, list | tuple):
        raise TypeError(
            f"headers must be a dict or a list of (name, value) pairs, not {type(headers).__name__}"
        )
    pairs = [(str(k), str(v)) for k, v in headers]
    for k, v in pairs:
        if "\n" in k or "\r" in k or "\n" in v or "\r" in v:
            raise ValueError(f"header {k!r} has a line break")
    if not any(k.lower() == "content-type" for k, _ in pairs):
        pairs.insert(0, ("Content-Type", content_type))
    return _status(status), pairs, body


def _jsonify(value: object) -> bytes:
    """Flask's ``jsonify`` outside debug mode: compact, sorted keys, ASCII, a final newline."""
    return (json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _status(status: object) -> int:
    code = int(status.split()[0]) if isinstance(status, str) and status.strip() else status
    if not isinstance(code, int) or isinstance(code, bool) or not 200 <= code <= 599:
        raise ValueError(f"status {status!r} is not the status of a final HTTP response (200-599)")
    return code


def _handle_http(handler: Handler, meta: dict[str, Any], body: bytes) -> Response:
    """python3-http: ``handle(event, context)`` returning ``{"statusCode", "body", "headers"}``."""
    value = handler(_event(meta, body), SimpleNamespace(hostname=os.getenv("HOSTNAME", "localhost")))
    if value is None:
        return _flask("")
    if not isinstance(value, dict):
        return _flask(value)
    content = value.get("body", "")
    return _flask(
        (
            content if isinstance(content, dict) else str(content),
            value.get("statusCode", 200),
            value.get("headers", ()),
        )
    )


def _handle_flask(handler: Handler, meta: dict[str, Any], body: bytes) -> Response:
    """python3-flask: ``handle(req)`` with the body as text (bytes if ``RAW_BODY=true``), Flask returns."""
    raw = os.getenv("RAW_BODY", "").lower() == "true"
    return _flask(handler(body if raw else body.decode("utf-8", "replace")))


def _handle_classic(handler: Handler, meta: dict[str, Any], body: bytes) -> Response:
    """Classic python3: ``handle(req)``, ``Http_*`` in the environment, the printed return value as the body.

    What the handler prints to stdout is part of the response, as with the classic watchdog; an
    exception is the process failing: 500 with ``exit status 1`` and the traceback.
    """
    variables = _cgi.environ(meta["method"], meta["path"], meta["query"], meta["headers"], len(body))
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    stdout, sys.stdout = sys.stdout, io.StringIO()
    try:
        value = handler(body.decode("utf-8", "surrogateescape"))
        if value is not None:
            print(value)
        status, headers = 200, _content_type(meta)
    except Exception:
        failure = traceback.format_exc()
        sys.stderr.write(failure)
        print(f"exit status 1\n{failure}", end="")
        status, headers = 500, [("Content-Type", TEXT)]
    finally:
        output, sys.stdout = sys.stdout.getvalue(), stdout
        for key, previous in saved.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous
    return status, headers, _bytes(output)


def _content_type(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """The classic watchdog's: ``$content_type`` if set, else the request's."""
    forced = os.getenv("content_type")  # noqa: SIM112 - the watchdog's own lowercase name
    if forced:
        return [("Content-Type", forced)]
    return [("Content-Type", v) for k, v in meta["headers"] if k.lower() == "content-type"][:1]


def _bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")  # the request's undecodable bytes, back as they came
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _call_openfaas(
    handle: Callable[[Handler, dict[str, Any], bytes], Response],
) -> Callable[[Handler, dict[str, Any], bytes, dict[str, Any]], Frame]:
    """A call in an OpenFaaS style: always a response; an exception is a 500, its traceback logged."""

    def call(handler: Handler, meta: dict[str, Any], body: bytes, config: dict[str, Any]) -> Frame:
        started_at, t0 = time.time(), time.perf_counter()
        try:
            status, headers, out = handle(handler, meta, body)
        except Exception as exc:
            traceback.print_exc()
            status, headers = 500, [("Content-Type", TEXT)]
            out = f"{type(exc).__name__}: {_text(exc)}\n".encode("utf-8", "replace")
        duration = time.perf_counter() - t0
        headers.append(("X-Duration-Seconds", f"{duration:f}"))
        return (
            _protocol.RESULT,
            {"status": status, "headers": headers, "started_at": started_at, "duration": duration},
            out,
        )

    return call


CALLS = {
    "python3": _call_fc,
    "python3-http": _call_openfaas(_handle_http),
    "python3-flask": _call_openfaas(_handle_flask),
    "python3-classic": _call_openfaas(_handle_classic),
}


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


def _initialize(config: dict[str, Any]) -> None:
    """Run the function's initializer once; raises _Failure (the instance does not start) if it fails."""
    initializer = _load(config["initializer"], package=False)
    meta = {
        "request_id": str(uuid.uuid4()),
        "access_key_id": "",
        "qualifier": "LATEST",
        "version_id": "",
        "region": os.environ.get("FC_REGION", ""),
        "account_id": os.environ.get("FC_ACCOUNT_ID", ""),
        "endpoint": os.environ.get("FNFLOW_URL", ""),
    }
    try:
        initializer(_context(meta, config))
    except Exception as exc:
        raise _Failure(
            f"{type(exc).__name__}: {_text(exc)}", _stack(exc.__traceback__), type(exc).__name__
        ) from None


def _import_path(code_dir: str, folders: list[str], provided: str) -> None:
    """The code first, the standard library, the function's folders, then what fnflow provides."""
    standard = [p for p in sys.path if p != provided]  # and the function's own PYTHONPATH, first
    sys.path[:] = [code_dir, *standard, *folders, provided]


def _as_with_site() -> None:
    """What ``site`` adds to builtins besides the import path: ``exit``, ``quit``, ``help``…"""
    import site

    site.setquit()
    site.setcopyright()
    site.sethelper()


def main(fd: int, config: dict[str, Any], provided: str = "") -> None:
    channel = _Channel(fd)
    if config.get("batch"):
        scheduling.run_as_batch()  # before user code: what the handler starts inherits it
    if CREDENTIALS in os.environ:
        _instance.update(json.loads(os.environ.pop(CREDENTIALS)))
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)  # FC users log with logging.getLogger()
    _as_with_site()
    _import_path(os.getcwd(), config.get("path", []), provided)  # the pool starts us in the code directory
    _limit_memory(config["memory_mb"])
    call = CALLS[config["runtime"]]
    try:
        handler = _load(config["handler"], package=config["runtime"] != "python3")
        if config.get("initializer"):
            _initialize(config)
    except _Failure as exc:
        channel.send(
            _protocol.ERROR, {"errorType": exc.error_type, "errorMessage": str(exc), "stackTrace": exc.stack}
        )
        return
    channel.send(_protocol.READY, {})
    while (frame := channel.receive()) is not None:
        _, meta, body = frame
        try:
            kind, result_meta, body = call(handler, json.loads(meta), body, config)
        except SystemExit as exc:
            _exit_now(exc.code)
        except BaseException:
            traceback.print_exc()
            _exit_now(1)
        channel.send(kind, result_meta, body)


def boot() -> None:
    """The entry point: ``sys.argv`` is ``["-c", PROVIDED, FD, CONFIG_JSON]``."""
    try:
        main(int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[1])
    except BrokenPipeError:  # the pool went away mid-reply
        _exit_now(0)
