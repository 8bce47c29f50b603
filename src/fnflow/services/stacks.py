"""Stacks: a plan deployed whole, through the same services the native API uses.

A deploy first checks everything — each item on its own, what items need of each other or of
what is deployed already (a trigger's function, a subscription's topic and endpoint, a queue or
topic task's target, a schedule's flow), that no name belongs to something this stack did not
deploy, and that what it would remove can go — and changes nothing if anything is wrong. Then
it records the stack as owning both what it had and what it will have (so a deploy that dies
half-way is finished by the next one), applies each item that differs from what is deployed
(functions, triggers, queues, topics, subscriptions, flows, schedules, in that order), removes
what the plan no longer has (in the reverse order), and records what the stack now has. The same
plan again changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from fnflow.asyncq.targets import check_target
from fnflow.compat.alibaba.fc import local_url
from fnflow.errors import Conflict, FnflowError, InvalidArgument, NotFound
from fnflow.fdl import parse_flow, task_targets
from fnflow.fdl.arn import QueueTarget, TopicTarget
from fnflow.functions import codepkg
from fnflow.functions.config import config_of
from fnflow.functions.service import FunctionService
from fnflow.integrations.messages import PATTERNS
from fnflow.names import check_name
from fnflow.queues.attributes import QueueAttributes, check_tag
from fnflow.queues.endpoints import FunctionEndpoint, HttpEndpoint, QueueEndpoint, parse_endpoint
from fnflow.queues.notify import NotifyFormat, NotifyStrategy
from fnflow.schedules.cron import parse
from fnflow.schedules.service import ScheduleService, spec_of
from fnflow.services.executions import check_size
from fnflow.services.flows import FlowService
from fnflow.services.queues import QueueService
from fnflow.services.stackplan import (
    KINDS,
    Planned,
    PlannedFlow,
    PlannedFunction,
    PlannedQueue,
    PlannedSchedule,
    PlannedSubscription,
    PlannedTopic,
    PlannedTrigger,
    Resource,
    StackPlan,
)
from fnflow.services.topics import TopicService
from fnflow.services.triggers import TriggerService
from fnflow.services.triggers import spec_of as trigger_spec
from fnflow.store import StackRecord, Store, Tx

ACTIONS = ("created", "updated", "unchanged", "deleted")


@dataclass(frozen=True)
class Change:
    resource: Resource
    action: str  # one of ACTIONS (what would be done, for a dry run)


@dataclass(frozen=True)
class StackReport:
    name: str
    changes: list[Change]
    dry_run: bool = False


def _about(resource: Resource, error: FnflowError) -> FnflowError:
    """``error`` saying which resource (and logical id) it is about."""
    what = f"{resource.kind} {resource.name}" + (
        f" (resource {resource.logical_id})" if resource.logical_id else ""
    )
    kind = next((k for k in (NotFound, Conflict) if isinstance(error, k)), InvalidArgument)
    return kind(f"{what}: {error.message}")


def _record(
    name: str, description: str, resources: list[Resource], created: datetime, now: datetime
) -> StackRecord:
    rows = [{"kind": r.kind, "name": r.name, "logicalId": r.logical_id} for r in resources]
    return StackRecord(name, description, rows, created, now)


def resources_of(record: StackRecord) -> list[Resource]:
    return [Resource(r["kind"], r["name"], r.get("logicalId", "")) for r in record.resources]


def _in_order(resources: list[Resource], reverse: bool = False) -> list[Resource]:
    ordered = sorted(resources, key=lambda r: KINDS.index(r.kind))
    return ordered[::-1] if reverse else ordered


def _exists(tx: Tx, resource: Resource) -> bool:
    first, _, last = resource.name.partition("/")
    getters: dict[str, Callable[[], object]] = {
        "function": lambda: tx.get_function(first, last),
        "trigger": lambda: tx.get_trigger(first, *last.split("/", 1)) if last.count("/") == 1 else None,
        "queue": lambda: tx.get_queue(resource.name),
        "topic": lambda: tx.get_topic(resource.name),
        "subscription": lambda: tx.get_subscription(first, last),
        "flow": lambda: tx.get_flow(resource.name),
        "schedule": lambda: tx.get_schedule(first, last),
    }
    return getters[resource.kind]() is not None


@dataclass
class _Snapshot:
    """What the checks read of the store, in one transaction."""

    current: StackRecord | None
    owners: dict[tuple[str, str], str]  # (kind, name) → the stack that deployed it
    existing: set[tuple[str, str]]  # planned resources that exist
    functions: set[tuple[str, str]]  # of those the plan refers to, the ones that exist
    queues: set[str]
    topics: set[str]
    flows: set[str]
    running: set[str]  # flows of the stack with running executions


@dataclass
class _Needs:
    """What the items of a plan refer to."""

    functions: set[tuple[str, str]]
    queues: set[str]
    topics: set[str]
    flows: set[str]

    @classmethod
    def of(cls, plan: StackPlan) -> _Needs:
        needs = cls(
            functions={(t.spec.service, t.spec.function) for t in plan.triggers},
            queues={q.attributes.dead_letter_queue for q in plan.queues if q.attributes.dead_letter_queue},
            topics={s.topic for s in plan.subscriptions},
            flows={s.flow for s in plan.schedules},
        )
        for subscription in plan.subscriptions:
            try:
                target = parse_endpoint(subscription.endpoint)
            except FnflowError:
                continue  # said by the checks
            if isinstance(target, FunctionEndpoint):
                needs.functions.add((target.service, target.function))
            elif isinstance(target, QueueEndpoint):
                needs.queues.add(target.queue)
        for flow in plan.flows:
            try:
                placed = task_targets(flow.definition)
            except (FnflowError, ValueError):
                continue  # said by the checks
            needs.queues |= {p.target.queue for p in placed if isinstance(p.target, QueueTarget)}
            needs.topics |= {p.target.topic for p in placed if isinstance(p.target, TopicTarget)}
        return needs


class StackService:
    def __init__(
        self,
        store: Store,
        *,
        functions: FunctionService,
        triggers: TriggerService,
        queues: QueueService,
        topics: TopicService,
        flows: FlowService,
        schedules: ScheduleService,
        endpoint: str = "",
    ) -> None:
        self.store = store
        self.functions = functions
        self.triggers = triggers
        self.queues = queues
        self.topics = topics
        self.flows = flows
        self.schedules = schedules
        self.endpoint = endpoint

    async def get(self, name: str) -> StackRecord:
        found = await self.store.read(lambda tx: tx.get_stack(name))
        if found is None:
            raise NotFound(f"stack {name!r} does not exist")
        return found

    async def list_stacks(self) -> list[StackRecord]:
        return await self.store.read(lambda tx: tx.list_stacks())

    async def deploy(
        self, name: str, plan: StackPlan, *, description: str = "", dry_run: bool = False
    ) -> StackReport:
        """Deploy ``plan`` as stack ``name`` (see the module); ``dry_run`` checks and says what
        would change, changing nothing."""
        check_name("stack", name)
        wanted = plan.resources()
        snapshot = await self._snapshot(name, plan)
        kept = {w.key for w in wanted}
        removed = [r for r in resources_of(snapshot.current) if r.key not in kept] if snapshot.current else []
        await self._check(name, plan, snapshot, removed)
        if dry_run:
            changes = [Change(i.resource, await self._action(i, apply=False)) for i in plan.items()]
            return StackReport(name, changes + [Change(r, "deleted") for r in _in_order(removed, True)], True)
        now = datetime.now(UTC)
        created = snapshot.current.created_at if snapshot.current else now
        keep = [*wanted, *removed]
        await self.store.write(lambda tx: tx.put_stack(_record(name, description, keep, created, now)))
        changes = [Change(item.resource, await self._action(item, apply=True)) for item in plan.items()]
        for resource in _in_order(removed, reverse=True):
            await self._remove(resource)
            changes.append(Change(resource, "deleted"))
        final = _record(name, description, wanted, created, datetime.now(UTC))
        await self.store.write(lambda tx: tx.put_stack(final))
        return StackReport(name, changes)

    async def delete(self, name: str) -> StackReport:
        """Remove everything the stack deployed (refused while its flows run), then its record."""
        record = await self.get(name)
        resources = resources_of(record)
        flows = [r.name for r in resources if r.kind == "flow"]
        running = await self.store.read(lambda tx: [f for f in flows if tx.has_running_executions(f)])
        if running:
            raise Conflict(f"stack {name}: flow {running[0]!r} has running executions; stop them first")
        changes = []
        for resource in _in_order(resources, reverse=True):
            await self._remove(resource)
            changes.append(Change(resource, "deleted"))
        await self.store.write(lambda tx: tx.delete_stack(name))
        return StackReport(name, changes)

    # --- checks ------------------------------------------------------------------------------

    async def _snapshot(self, name: str, plan: StackPlan) -> _Snapshot:
        wanted = plan.resources()
        needs = _Needs.of(plan)

        def read(tx: Tx) -> _Snapshot:
            current = tx.get_stack(name)
            owners = {(r.kind, r.name): s.name for s in tx.list_stacks() for r in resources_of(s)}
            previous = resources_of(current) if current else []
            return _Snapshot(
                current=current,
                owners=owners,
                existing={r.key for r in wanted if _exists(tx, r)},
                functions={f for f in needs.functions if tx.get_function(*f) is not None},
                queues={q for q in needs.queues if tx.get_queue(q) is not None},
                topics={t for t in needs.topics if tx.get_topic(t) is not None},
                flows={f for f in needs.flows if tx.get_flow(f) is not None},
                running={r.name for r in previous if r.kind == "flow" and tx.has_running_executions(r.name)},
            )

        return await self.store.read(read)

    async def _check(self, name: str, plan: StackPlan, snapshot: _Snapshot, removed: list[Resource]) -> None:
        seen: set[tuple[str, str]] = set()
        for item in plan.items():
            resource = item.resource
            if resource.key in seen:
                raise InvalidArgument(f"the stack has {resource.kind} {resource.name} twice")
            seen.add(resource.key)
            owner = snapshot.owners.get(resource.key)
            if resource.key in snapshot.existing and owner != name:
                by = f"stack {owner!r}" if owner else "no stack (it was deployed by itself)"
                raise _about(
                    resource,
                    Conflict(
                        f"it exists and belongs to {by}: delete it, or give the stack's one another name"
                    ),
                )
        for resource in removed:
            if resource.kind == "flow" and resource.name in snapshot.running:
                raise _about(resource, Conflict("the stack no longer has it, but it has running executions"))
        for item in plan.items():
            try:
                await self._check_item(item, plan, snapshot)
            except FnflowError as e:
                raise _about(item.resource, e) from None

    async def _check_item(self, item: Planned, plan: StackPlan, snapshot: _Snapshot) -> None:
        functions = snapshot.functions | {(f.config.service, f.config.name) for f in plan.functions}
        queues = snapshot.queues | {q.name for q in plan.queues}
        topics = snapshot.topics | {t.name for t in plan.topics}
        if isinstance(item, PlannedFunction):
            item.config.validate()
            try:
                codepkg.check(item.code)
            except ValueError as e:
                raise InvalidArgument(f"code package: {e}") from None
        elif isinstance(item, PlannedTrigger):
            self.triggers.check(item.spec)
            if (item.spec.service, item.spec.function) not in functions:
                raise NotFound(f"function {item.spec.service}/{item.spec.function} does not exist")
        elif isinstance(item, PlannedQueue):
            check_name("queue", item.name)
            item.attributes.check(item.name)
            dead = item.attributes.dead_letter_queue
            if dead is not None and dead not in queues:
                raise NotFound(f"dead-letter queue {dead!r} does not exist")
        elif isinstance(item, PlannedTopic):
            check_name("topic", item.name)
            item.attributes.check()
        elif isinstance(item, PlannedSubscription):
            await self._check_subscription(item, functions, queues, topics)
        elif isinstance(item, PlannedFlow):
            self._check_flow(item, queues, topics)
        else:
            check_name("schedule", item.name)
            if item.flow not in snapshot.flows | {f.name for f in plan.flows}:
                raise NotFound(f"flow {item.flow!r} does not exist")
            parse(item.spec.cron_expression, item.spec.time_zone, min_interval=self.schedules.min_interval)
            check_size(item.spec.payload, "payload", self.schedules.max_input_bytes)

    async def _check_subscription(
        self, item: PlannedSubscription, functions: set[tuple[str, str]], queues: set[str], topics: set[str]
    ) -> None:
        check_name("subscription", item.name)
        check_tag("filterTag", item.filter_tag)
        for value, kind in (
            (item.notify_strategy, NotifyStrategy),
            (item.notify_content_format, NotifyFormat),
        ):
            if value not in {k.value for k in kind}:
                raise InvalidArgument(f"{value!r} is not one of {', '.join(k.value for k in kind)}")
        if item.topic not in topics:
            raise NotFound(f"topic {item.topic!r} does not exist")
        target = parse_endpoint(item.endpoint)
        if isinstance(target, FunctionEndpoint) and (target.service, target.function) not in functions:
            raise NotFound(f"function {target.service}/{target.function} does not exist")
        if isinstance(target, QueueEndpoint) and target.queue not in queues:
            raise NotFound(f"queue {target.queue!r} does not exist")
        if isinstance(target, HttpEndpoint) and local_url(target.url, self.endpoint) is None:
            await check_target(target.url, self.topics.targets)

    def _check_flow(self, item: PlannedFlow, queues: set[str], topics: set[str]) -> None:
        check_name("flow", item.name)
        parse_flow(item.definition, expected_name=item.name)
        for placed in task_targets(item.definition):
            target = placed.target
            if not isinstance(target, QueueTarget | TopicTarget):
                continue
            missing = (
                f"queue {target.queue!r}"
                if isinstance(target, QueueTarget) and target.queue not in queues
                else f"topic {target.topic!r}"
                if isinstance(target, TopicTarget) and target.topic not in topics
                else None
            )
            if missing is not None:
                raise NotFound(f"a task sends to {missing}, which does not exist")
            if placed.pattern not in PATTERNS:
                raise InvalidArgument("a message task's pattern must be requestResponse or waitForCallback")

    # --- applying ----------------------------------------------------------------------------

    async def _action(self, item: Planned, *, apply: bool) -> str:
        """What the item needs (created, updated, unchanged); done unless only asked."""
        current, same = await self.store.read(lambda tx: _compare(tx, item))
        if same:
            return "unchanged"
        if apply:
            try:
                await self._put(item)
            except FnflowError as e:
                raise _about(item.resource, e) from None
        return "updated" if current else "created"

    async def _put(self, item: Planned) -> None:
        if isinstance(item, PlannedFunction):
            await self.functions.deploy(item.config, item.code)
        elif isinstance(item, PlannedTrigger):
            await self.triggers.put(item.spec)
        elif isinstance(item, PlannedQueue):
            await self.queues.create(item.name, item.attributes)
        elif isinstance(item, PlannedTopic):
            await self.topics.create(item.name, item.attributes)
        elif isinstance(item, PlannedSubscription):
            await self.topics.subscribe(
                item.topic,
                item.name,
                item.endpoint,
                filter_tag=item.filter_tag,
                notify_strategy=item.notify_strategy,
                notify_content_format=item.notify_content_format,
            )
        elif isinstance(item, PlannedFlow):
            await self.flows.put(item.name, item.definition, item.description, role_arn=item.role_arn)
        else:
            await self.schedules.put(item.flow, item.name, item.spec)

    async def _remove(self, resource: Resource) -> None:
        parts = resource.name.split("/")
        removers: dict[str, Callable[[], Awaitable[None]]] = {
            "function": lambda: self.functions.delete(parts[0], parts[-1]),
            "trigger": lambda: self.triggers.delete(parts[0], parts[1], parts[-1]),
            "queue": lambda: self.queues.delete(resource.name),
            "topic": lambda: self.topics.delete(resource.name),
            "subscription": lambda: self.topics.unsubscribe(parts[0], parts[-1]),
            "flow": lambda: self.flows.delete(resource.name),
            "schedule": lambda: self.schedules.delete(parts[0], parts[-1]),
        }
        with contextlib.suppress(NotFound):  # gone already (with its function, flow or topic, or by hand)
            await removers[resource.kind]()


def _compare(tx: Tx, item: Planned) -> tuple[bool, bool]:
    """(it exists, it is deployed exactly as planned)."""
    if isinstance(item, PlannedFunction):
        f = tx.get_function(item.config.service, item.config.name)
        return f is not None, f is not None and (config_of(f), f.code_checksum) == (
            item.config,
            codepkg.checksum(item.code),
        )
    if isinstance(item, PlannedTrigger):
        t = tx.get_trigger(item.spec.service, item.spec.function, item.spec.name)
        return t is not None, t is not None and trigger_spec(t) == item.spec
    if isinstance(item, PlannedQueue):
        q = tx.get_queue(item.name)
        attributes = (
            None
            if q is None
            else QueueAttributes(**{f.name: getattr(q, f.name) for f in fields(QueueAttributes)})
        )
        return q is not None, attributes == item.attributes
    if isinstance(item, PlannedTopic):
        topic = tx.get_topic(item.name)
        size = item.attributes.maximum_message_size
        return topic is not None, topic is not None and topic.maximum_message_size == size
    if isinstance(item, PlannedSubscription):
        s = tx.get_subscription(item.topic, item.name)
        planned = (item.endpoint, item.filter_tag, item.notify_strategy, item.notify_content_format)
        return s is not None, s is not None and (
            s.endpoint,
            s.filter_tag,
            s.notify_strategy,
            s.notify_content_format,
        ) == planned
    if isinstance(item, PlannedFlow):
        flow = tx.get_flow(item.name)
        planned_flow = (item.definition, item.description, item.role_arn)
        return flow is not None, flow is not None and (
            flow.definition,
            flow.description,
            flow.role_arn,
        ) == planned_flow
    assert isinstance(item, PlannedSchedule)
    schedule = tx.get_schedule(item.flow, item.name)
    return schedule is not None, schedule is not None and spec_of(schedule) == item.spec
