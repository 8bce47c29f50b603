"""Example directories: a ``fnflow.yaml`` listing functions (with their code), flows and schedules.

    functions:
      - {service: fnf-demo, name: StartJob, handler: index.handler, code: functions/StartJob}
    flows:
      - {name: poll-job, definition: flow.yaml, description: Poll a job until it is done}
    schedules:   # optional; fields as in PUT /api/v1/flows/{flow}/schedules/{name}
      - {flow: poll-job, name: hourly, cronExpression: "0 0 * * * *", payload: {delay: 5}}
    queues:      # optional; attributes as in PUT /api/v1/queues/{queue}
      - {name: jobs, visibilityTimeout: 60}
    topics:      # optional; subscriptions as in PUT /api/v1/topics/{topic}/subscriptions/{name}
      - name: approvals
        subscriptions:
          - {name: reviewer, endpoint: "acs:fc:::services/fnf-demo/functions/review"}

Queues and topics are made before the flows that send to them, after the functions they push to.
A directory with an Alibaba app's ``template.yml`` (and no ``fnflow.yaml``) is deployed as a stack,
as ``fnflow deploy -t`` does.

Paths are relative to the manifest. A directory without ``fnflow.yaml`` stands for every
subdirectory that has one (so ``examples/`` deploys all examples).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fnflow.functions import codepkg
from fnflow.functions.config import DEFAULT_SERVICE, FunctionConfig
from fnflow.queues.attributes import QueueAttributes
from fnflow.schedules.spec import ScheduleSpec

MANIFEST = "fnflow.yaml"


@dataclass(frozen=True)
class FlowSpec:
    name: str
    definition: str
    description: str = ""


@dataclass(frozen=True)
class FlowSchedule:
    flow: str
    name: str
    spec: ScheduleSpec


@dataclass(frozen=True)
class QueueSpec:
    name: str
    attributes: QueueAttributes


@dataclass(frozen=True)
class SubscriptionSpec:
    name: str
    endpoint: str
    filter_tag: str | None = None


@dataclass(frozen=True)
class TopicSpec:
    name: str
    subscriptions: list[SubscriptionSpec]


@dataclass(frozen=True)
class Manifest:
    path: Path
    functions: list[tuple[FunctionConfig, bytes]]
    flows: list[FlowSpec]
    schedules: list[FlowSchedule] = field(default_factory=list)
    queues: list[QueueSpec] = field(default_factory=list)
    topics: list[TopicSpec] = field(default_factory=list)


#: a queue's attributes as the API names them, and as QueueAttributes does
QUEUE_FIELDS = {
    "visibilityTimeout": "visibility_timeout",
    "delaySeconds": "delay_seconds",
    "maximumMessageSize": "maximum_message_size",
    "messageRetentionPeriod": "message_retention_period",
    "pollingWaitSeconds": "polling_wait_seconds",
    "maxReceiveCount": "max_receive_count",
    "deadLetterQueue": "dead_letter_queue",
}


def _function(base: Path, item: dict[str, Any]) -> tuple[FunctionConfig, bytes]:
    config = FunctionConfig(
        service=str(item.get("service", DEFAULT_SERVICE)),
        name=str(item["name"]),
        runtime=str(item.get("runtime", "python3")),
        handler=str(item.get("handler", "index.handler")),
        timeout=float(item.get("timeout", 60)),
        memory_mb=int(item.get("memoryMB", 128)),
        max_instances=int(item.get("maxInstances", 4)),
        environment={str(k): str(v) for k, v in (item.get("environment") or {}).items()},
        description=str(item.get("description", "")),
    )
    return config, codepkg.pack_directory(base / str(item["code"]))


def _flow(base: Path, item: dict[str, Any]) -> FlowSpec:
    definition = (base / str(item["definition"])).read_text()
    return FlowSpec(str(item["name"]), definition, str(item.get("description", "")))


def _schedule(item: dict[str, Any]) -> FlowSchedule:
    spec = ScheduleSpec(
        cron_expression=str(item["cronExpression"]),
        time_zone=str(item.get("timeZone", "")),
        payload=dict(item.get("payload") or {}),
        enabled=bool(item.get("enable", True)),
        description=str(item.get("description", "")),
    )
    return FlowSchedule(str(item["flow"]), str(item["name"]), spec)


def _queue(item: dict[str, Any]) -> QueueSpec:
    unknown = set(item) - {"name", *QUEUE_FIELDS}
    if unknown:
        raise ValueError(f"queue {item.get('name')!r}: unknown fields {sorted(unknown)}")
    attributes = QueueAttributes(**{QUEUE_FIELDS[k]: v for k, v in item.items() if k != "name"})
    return QueueSpec(str(item["name"]), attributes)


def _topic(item: dict[str, Any]) -> TopicSpec:
    subscriptions = [
        SubscriptionSpec(str(s["name"]), str(s["endpoint"]), s.get("filterTag"))
        for s in item.get("subscriptions") or []
    ]
    return TopicSpec(str(item["name"]), subscriptions)


def load_manifest(path: Path) -> Manifest:
    """Read one manifest (``path`` is the file or its directory); ValueError says what is wrong."""
    file = path / MANIFEST if path.is_dir() else path
    base = file.parent
    try:
        doc = yaml.safe_load(file.read_text()) or {}
        functions = [_function(base, item) for item in doc.get("functions") or []]
        flows = [_flow(base, item) for item in doc.get("flows") or []]
        schedules = [_schedule(item) for item in doc.get("schedules") or []]
        queues = [_queue(item) for item in doc.get("queues") or []]
        topics = [_topic(item) for item in doc.get("topics") or []]
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as e:
        raise ValueError(f"{file}: {e}") from None
    return Manifest(file, functions, flows, schedules, queues, topics)


TEMPLATE = "template.yml"  # an Alibaba app (``fnflow deploy -t``)


@dataclass(frozen=True)
class Apps:
    """What a directory holds to deploy: fnflow manifests, and Alibaba app templates."""

    manifests: list[Manifest]
    templates: list[Path]


def find_apps(path: Path) -> Apps:
    """The manifests and templates at ``path``: the file itself, the directory's own, or else those
    of its subdirectories (a subdirectory with both uses its manifest); ValueError if none."""
    if path.is_file():
        return Apps([], [path]) if path.name == TEMPLATE else Apps([load_manifest(path)], [])
    if (path / MANIFEST).is_file():
        return Apps([load_manifest(path)], [])
    if (path / TEMPLATE).is_file():
        return Apps([], [path / TEMPLATE])
    manifests = sorted(p.parent for p in path.glob(f"*/{MANIFEST}"))
    templates = sorted(p for p in path.glob(f"*/{TEMPLATE}") if not (p.parent / MANIFEST).is_file())
    if not manifests and not templates:
        raise ValueError(f"{path}: no {MANIFEST} or {TEMPLATE} here or in its subdirectories")
    return Apps([load_manifest(p) for p in manifests], templates)


def find_manifests(path: Path) -> list[Manifest]:
    """The manifests at ``path`` (see ``find_apps``)."""
    return find_apps(path).manifests
