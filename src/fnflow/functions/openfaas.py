"""What an OpenFaaS function's settings mean for fnflow: a ``FunctionConfig``, and what has no effect.

An OpenFaaS function is described by its language (template), ``fprocess``, environment, labels,
annotations and limits — in a stack.yml (``fnflow.stack``) or a faas-cli deployment. Without
containers fnflow runs the Python templates in its warm workers, anything with an ``fprocess`` as
a command, and anything annotated ``fnflow.upstream`` as a proxy. Settings that have no effect
here are returned as ``Ignored`` notes so the user is told, never silently dropped.

Precedence: an upstream (annotation ``fnflow.upstream`` or environment ``upstream``) makes an
http function; otherwise an ``fprocess`` makes a command function; otherwise the language picks
the Python runtime. The timeout is the smaller of the watchdog's ``exec_timeout`` and
``write_timeout``; ``max_inflight`` (the watchdog's concurrency limit) sets the maximum of
instances, and the label ``com.openfaas.scale.max`` does only when ``max_inflight`` is not set;
``com.openfaas.scale.min`` is the number of warm instances. The image, limits, requests,
constraints and secrets are kept as deployed, so tools read them back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fnflow.functions.config import RETRY_CODES, AsyncPolicy, FunctionConfig

# OpenFaaS language (template) -> fnflow runtime, for the templates fnflow runs without a container
LANGUAGES = {
    "python3": "python3-classic",
    "python3-debian": "python3-classic",
    "python3-http": "python3-http",
    "python3-http-debian": "python3-http",
    "python3-flask": "python3-flask",
    "python3-flask-debian": "python3-flask",
    "python3-fc": "python3",  # fnflow's own: Function Compute's handler(event, context)
    "dockerfile": "command",  # its Dockerfile's fprocess runs as a command
}
Ignore = Callable[[str, str], None]  # (field, reason): note a setting that has no effect
MIN_MEMORY_MB = 64
UPSTREAM_ANNOTATION = "fnflow.upstream"
SCALE_LABELS = ("com.openfaas.scale.min", "com.openfaas.scale.max")
HANDLER_ANNOTATION = "fnflow.handler"
# Watchdog settings fnflow does not act on (they stay in the environment).
WATCHDOG_IGNORED = {
    "read_timeout": "fnflow reads a request before it calls the function",
    "healthcheck_interval": "fnflow checks no health: it watches its own processes",
    "marshal_request": "the body always reaches stdin as it came",
    "suppress_lock": "there is no lock file",
    "mode": "the runtime says how the function is called",
    "upstream_url": "the of-watchdog's own upstream; use the annotation fnflow.upstream to proxy",
    "http_upstream_url": "the of-watchdog's own upstream; use the annotation fnflow.upstream to proxy",
}
DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
QUANTITY = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)([A-Za-z]*)$")
# Kubernetes quantities (K, M, G decimal; Ki, Mi, Gi binary), and Docker's m, g, mb… (binary)
MEMORY_UNITS = {
    "": 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "kb": 1024,
    "KB": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "MB": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "GB": 1024**3,
}


@dataclass(frozen=True)
class Ignored:
    """A setting that has no effect in fnflow, and why."""

    function: str
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.function}: " if self.function else ""
        return f"{where}{self.field} ignored: {self.reason}"


@dataclass(frozen=True)
class Deployment:
    """The settings of one OpenFaaS function that fnflow reads (stack.yml or faas-cli deploy)."""

    name: str
    lang: str = ""
    fprocess: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)
    image: str = ""
    requests: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    read_only_root_filesystem: bool = False


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``5m1s``, ``1.5h``, ``300ms``) or a number of seconds, as watchdogs read."""
    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    parts = DURATION_PART.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        raise ValueError(f"{text!r} is not a duration (like 30s, 5m1s or 1h)")
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)


def parse_memory(text: str) -> int:
    """MiB (rounded up) in a memory quantity: ``128Mi``, ``1Gi``, ``500M``, ``128m``."""
    match = QUANTITY.match(text.strip())
    if match is None or match.group(2) not in MEMORY_UNITS:
        raise ValueError(f"{text!r} is not a memory size (like 128Mi, 1Gi or 500M)")
    size = float(match.group(1)) * MEMORY_UNITS[match.group(2)]
    return max(1, math.ceil(size / 1024**2))


def function_config(d: Deployment, *, service: str) -> tuple[FunctionConfig, list[Ignored]]:
    """The fnflow function for ``d``; ValueError when fnflow cannot run it without a container."""
    notes: list[Ignored] = []

    def ignore(what: str, reason: str) -> None:
        notes.append(Ignored(d.name, what, reason))

    env = dict(d.environment)
    annotations = dict(d.annotations)
    upstream = annotations.get(UPSTREAM_ANNOTATION) or env.get("upstream", "")
    fprocess = d.fprocess or env.get("fprocess", "")
    if upstream:
        runtime = "http"
    elif fprocess:
        runtime = "command"
    elif d.lang in LANGUAGES and LANGUAGES[d.lang] != "command":
        runtime = LANGUAGES[d.lang]
    elif d.lang == "dockerfile":
        raise ValueError("no fprocess: set ENV fprocess in its Dockerfile, or fprocess in stack.yml")
    else:
        raise ValueError(
            f"language {d.lang or '(none)'!r} needs a container; fnflow runs"
            f" {', '.join(sorted(LANGUAGES))}, any function with an fprocess (as a command),"
            f" and any with the annotation {UPSTREAM_ANNOTATION} (as a proxy)"
        )
    for name, reason in WATCHDOG_IGNORED.items():
        if name in env:
            ignore(f"environment.{name}", reason)
    config = FunctionConfig(
        service=service,
        name=d.name,
        runtime=runtime,
        handler=annotations.get(HANDLER_ANNOTATION, ""),
        command=fprocess if runtime == "command" else "",
        upstream=upstream,
        environment=env,
        annotations=annotations,
        labels=dict(d.labels),
        async_policy=async_policy(annotations, ignore),
        secrets=tuple(d.secrets),
        image=d.image,
        limits=dict(d.limits),
        requests=dict(d.requests),
        constraints=tuple(d.constraints),
        read_only_root_filesystem=d.read_only_root_filesystem,
    )
    timeout = _timeout(env, ignore)
    if timeout is not None:
        config = replace(config, timeout=timeout)
    instances = _max_instances(env, d.labels, ignore)
    if instances is not None:
        config = replace(config, max_instances=instances)
    memory = _memory(d.limits, ignore)
    if memory is not None:
        config = replace(config, memory_mb=memory)
    warm = _min_instances(d.labels, config.max_instances, ignore)
    if warm is not None:
        config = replace(config, min_instances=warm)
    for label in sorted(d.labels):
        if label.startswith("com.openfaas.scale.") and label not in SCALE_LABELS:
            ignore(
                f"labels.{label}", "fnflow does not autoscale: instances start on demand up to the maximum"
            )
    for annotation in sorted(annotations):
        if annotation.startswith("com.openfaas.health."):
            ignore(f"annotations.{annotation}", "fnflow checks no health: it watches its own processes")
    return config, notes


def async_policy(annotations: Mapping[str, str], ignore: Ignore) -> AsyncPolicy:
    """The async policy the ``com.openfaas.retry.*`` and ``com.openfaas.queue`` annotations ask for.

    ``com.openfaas.retry.attempts`` counts every attempt, so it is one more than the retries. An
    invalid value is ignored (the default applies), as OpenFaaS' queue-worker does.
    """
    readers: dict[str, tuple[str, Callable[[str], Any]]] = {
        "com.openfaas.retry.attempts": ("retries", lambda v: max(int(v) - 1, 0)),
        "com.openfaas.retry.codes": ("retry_codes", _codes),
        "com.openfaas.retry.min_wait": ("min_wait", parse_duration),
        "com.openfaas.retry.max_wait": ("max_wait", parse_duration),
        "fnflow.max_event_age": ("max_event_age", parse_duration),
        "fnflow.on_success": ("on_success", str),
        "fnflow.on_failure": ("on_failure", str),
    }
    settings: dict[str, Any] = {"queue": annotations.get("com.openfaas.queue", "")}
    for annotation, (attribute, read) in readers.items():
        if annotation in annotations:
            try:
                settings[attribute] = read(annotations[annotation])
            except ValueError as e:
                ignore(f"annotations.{annotation}", f"{e}; the default applies")
    return AsyncPolicy(**settings)


def _codes(text: str) -> tuple[int, ...]:
    codes = tuple(int(code) for code in re.split(r"[\s,]+", text.strip()) if code)
    if not codes or any(not 100 <= code <= 599 for code in codes):
        raise ValueError(f"{text!r} is not a list of HTTP statuses (like {','.join(map(str, RETRY_CODES))})")
    return codes


def _timeout(env: Mapping[str, str], ignore: Ignore) -> float | None:
    limits = []
    for name in ("exec_timeout", "write_timeout"):
        if name in env:
            try:
                seconds = parse_duration(env[name])
            except ValueError as e:
                ignore(f"environment.{name}", str(e))
                continue
            if seconds > 0:  # exec_timeout 0 means no limit
                limits.append(seconds)
    return min(limits, default=None)


def _max_instances(env: Mapping[str, str], labels: Mapping[str, str], ignore: Ignore) -> int | None:
    found = None
    for where, value in (
        ("environment.max_inflight", env.get("max_inflight")),
        ("labels.com.openfaas.scale.max", labels.get("com.openfaas.scale.max")),
    ):
        if value is None:
            continue
        try:
            number = int(value)
        except ValueError:
            ignore(where, f"{value!r} is not a whole number")
            continue
        if number <= 0:  # max_inflight 0 means no limit
            continue
        if found is None:
            found = number
        else:
            ignore(where, "environment.max_inflight sets the maximum of instances")
    return found


def _min_instances(labels: Mapping[str, str], maximum: int, ignore: Ignore) -> int | None:
    """Warm instances from ``com.openfaas.scale.min``, at most the maximum of instances."""
    value = labels.get("com.openfaas.scale.min")
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        ignore("labels.com.openfaas.scale.min", f"{value!r} is not a whole number of instances")
        return None
    if number > maximum:
        reason = f"{number} is above the maximum of {maximum} instances, which applies"
        ignore("labels.com.openfaas.scale.min", reason)
        return maximum
    return number


def _memory(limits: Mapping[str, str], ignore: Ignore) -> int | None:
    for name in sorted(limits):
        if name != "memory":
            ignore(f"limits.{name}", "fnflow limits memory, not CPU")
    if "memory" not in limits:
        return None
    try:
        memory = parse_memory(limits["memory"])
    except ValueError as e:
        ignore("limits.memory", str(e))
        return None
    if memory < MIN_MEMORY_MB:
        ignore(
            "limits.memory",
            f"{limits['memory']} is below fnflow's minimum of {MIN_MEMORY_MB} MB, which applies",
        )
        return MIN_MEMORY_MB
    return memory
