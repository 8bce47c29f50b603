"""The values that cross the boundary of the function execution layer.

``FunctionSpec`` says what to run, ``HttpRequest`` what was asked, ``InvocationContext`` who asked
and how (Function Compute's ``context``), ``InvocationResult`` what came back. They are plain
frozen dataclasses so the registry, the flow runtime and the gateway can build and read them
without knowing about workers, processes or upstreams.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed function, as the pool needs it to run a call."""

    service: str
    name: str
    runtime: str  # see fnflow.functions.config.RUNTIMES
    handler: str  # python runtimes: "index.handler", module index, function handler
    code_dir: Path | None  # None: a command or http function deployed without code
    checksum: str  # of the code package; a new one means new workers
    timeout: float = 60.0
    memory_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict, hash=False)  # dicts are unhashable
    max_instances: int = 4
    command: str = ""  # command runtime: the process started per call
    upstream: str = ""  # http runtime: the URL calls are proxied to
    # python runtimes: folders imported after the standard library (vendored packages, layers, the
    # environment its requirements.txt made), in that order
    python_path: tuple[str, ...] = ()
    initializer: str = ""  # python3: module.function run once per instance, before its first call
    initialization_timeout: float = 0.0  # seconds the initializer may take (0: the timeout)
    role_key: str = ""  # the key each instance's temporary credentials come from ("": none)
    role: str = ""  # their scope
    version: str = ""  # a published service version ("" : LATEST); its workers are its own

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.max_instances < 1:
            raise ValueError(f"max_instances must be at least 1, got {self.max_instances}")


@dataclass(frozen=True)
class HttpRequest:
    """One call as HTTP: what the gateway received for a function, minus the function's own prefix.

    ``path`` is the sub-path after ``/function/<name>`` ("/" when there is none), ``query`` the raw
    query string without "?", ``headers`` in arrival order (names in any case). ``remote_addr`` is
    the caller's address, for ``X-Forwarded-For`` when a call is proxied ("" when unknown).
    """

    method: str = "POST"
    path: str = "/"
    query: str = ""
    headers: Headers = ()
    body: bytes = b""
    remote_addr: str = ""

    def header(self, name: str) -> str | None:
        """The first value of a header, matched case-insensitively."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def as_request(request: HttpRequest | bytes) -> HttpRequest:
    """Bytes are an event (flows, the native API): a POST to "/" with that body."""
    return HttpRequest(body=request) if isinstance(request, bytes) else request


@dataclass(frozen=True)
class InvocationContext:
    """Per-call facts handed to the handler as Function Compute's ``context``.

    Empty credentials: the instance's own (a function with a role). ``http``: the call came
    through an HTTP trigger, so a ``python3`` handler is called as a WSGI application, with
    ``request_uri`` (the path and query as sent) as ``environ["fc.request_uri"]``.
    """

    request_id: str
    region: str = "cn-hangzhou"
    account_id: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""
    endpoint: str = ""  # fnflow's URL, so code can call back
    access_key_id: str = ""
    access_key_secret: str = ""
    security_token: str = ""
    http: bool = False
    request_uri: str = ""


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation, both as an HTTP response and in Function Compute's terms.

    ``status``, ``headers`` and ``body`` are the response the gateway returns verbatim (never with
    ``Content-Length`` or hop-by-hop headers: the server that sends it sets those). ``ok`` is
    False when the call failed; ``error_type`` and ``error_message`` then say why, as a flow sees
    it (see docs/functions.md for the mapping per runtime).
    """

    ok: bool
    body: bytes
    error_type: str | None
    error_message: str | None
    stack_trace: list[list[str]] | None
    started_at: float  # time.time() when the handler started
    duration: float  # seconds
    status: int = 200
    headers: Headers = ()
    version: str = "LATEST"  # the service version that ran it ("LATEST" or a version number)

    def error_body(self) -> bytes:
        """FC's body for an ``UnhandledInvocationError``: ``{"errorMessage","errorType","stackTrace"}``."""
        doc: dict[str, object] = {"errorMessage": self.error_message or "", "errorType": self.error_type}
        if self.stack_trace is not None:
            doc["stackTrace"] = self.stack_trace
        return json.dumps(doc).encode()
