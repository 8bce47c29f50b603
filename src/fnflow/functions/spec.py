"""The values that cross the boundary of the function execution layer.

``FunctionSpec`` says what to run, ``InvocationContext`` who asked and how (Function Compute's
``context``), ``InvocationResult`` what came back. They are plain frozen dataclasses so the
registry, the flow runtime and the gateway can build and read them without knowing about workers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed function, as the pool needs it to start and call a worker."""

    service: str
    name: str
    runtime: str  # "python3"
    handler: str  # "index.handler": module index, function handler
    code_dir: Path
    checksum: str  # of the code package; a new one means new workers
    timeout: float = 60.0
    memory_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict, hash=False)  # dicts are unhashable
    max_instances: int = 4

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.max_instances < 1:
            raise ValueError(f"max_instances must be at least 1, got {self.max_instances}")


@dataclass(frozen=True)
class InvocationContext:
    """Per-call facts handed to the handler as Function Compute's ``context``."""

    request_id: str
    region: str = "local"
    account_id: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""
    endpoint: str = ""  # fnflow's URL, so code can call back
    access_key_id: str = ""
    access_key_secret: str = ""
    security_token: str = ""


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation: the handler's bytes, or an error in FC's terms."""

    ok: bool
    body: bytes
    error_type: str | None
    error_message: str | None
    stack_trace: list[list[str]] | None
    started_at: float  # time.time() when the handler started
    duration: float  # seconds

    @classmethod
    def failure(
        cls,
        error_type: str,
        message: str,
        *,
        started_at: float,
        duration: float,
        stack_trace: list[list[str]] | None = None,
    ) -> InvocationResult:
        return cls(False, b"", error_type, message, stack_trace, started_at, duration)

    def error_body(self) -> bytes:
        """FC's body for an ``UnhandledInvocationError``: ``{"errorMessage","errorType","stackTrace"}``."""
        doc: dict[str, object] = {"errorMessage": self.error_message or "", "errorType": self.error_type}
        if self.stack_trace is not None:
            doc["stackTrace"] = self.stack_trace
        return json.dumps(doc).encode()
