"""The composition root: one store, one function pool, the runtime, and the services over them."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from fnflow.asyncq.deliver import Deliverer
from fnflow.asyncq.dispatcher import Dispatcher
from fnflow.asyncq.service import CallService
from fnflow.asyncq.targets import TargetPolicy
from fnflow.clock import RANDOM_IDS, SYSTEM_CLOCK, Clock, Ids
from fnflow.compat.alibaba.fc import local_url
from fnflow.config import Settings
from fnflow.fdl.arn import FlowTarget, FunctionTarget, QueueTarget, TopicTarget
from fnflow.functions.fc import InstanceCredentials
from fnflow.functions.housekeeping import prune_every
from fnflow.functions.logs import LogWriter
from fnflow.functions.naming import metric_name
from fnflow.functions.pool import FunctionPool
from fnflow.functions.service import Caller, FunctionService
from fnflow.functions.versions import VersionService
from fnflow.functions.warm import Warmer
from fnflow.integrations import Integrations
from fnflow.integrations.flow import FlowIntegration
from fnflow.integrations.function import FunctionIntegration
from fnflow.integrations.messages import MessageIntegration
from fnflow.leasing import LeaseKeeper
from fnflow.manifest import Manifest, find_apps
from fnflow.metrics import Metrics
from fnflow.queues.arrivals import Arrivals
from fnflow.retention import Purge, Sweeper
from fnflow.runtime import Runtime
from fnflow.schedules.scheduler import Scheduler
from fnflow.schedules.service import ScheduleService
from fnflow.secretbox import KEY_FILE, SecretBox
from fnflow.services.bins import BinService
from fnflow.services.executions import ExecutionService
from fnflow.services.flows import FlowService
from fnflow.services.keys import KeyService
from fnflow.services.logs import LogService
from fnflow.services.queues import QueueService
from fnflow.services.secrets import SecretService
from fnflow.services.stacks import StackService
from fnflow.services.topics import TopicService
from fnflow.services.triggers import TriggerService
from fnflow.store import Store, open_store
from fnflow.store.owner import OwnerLock, claim_database

log = logging.getLogger(__name__)


class Fnflow:
    def __init__(
        self,
        settings: Settings,
        *,
        apply: list[Path] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        ids: Ids = RANDOM_IDS,
    ) -> None:
        self.settings = settings
        #: the one clock and id source of every adapter (see ``fnflow.clock``)
        self.clock = clock
        self.ids = ids
        self._apply = apply or []
        self._store: Store | None = None
        self._owner: OwnerLock | None = None
        #: what runs beside this fnflow and must stop before it does (the accept fronts)
        self.before_close: list[Callable[[], Awaitable[None]]] = []
        self._pending_calls: list[tuple[str, str, str, int]] = []  # as ``read_gauges`` last read them

    def claim(self, role: str = "fnflow server") -> None:
        """Become the one process that runs on a SQLite database (see ``fnflow.store.owner``), before
        anything touches it; raises ``DatabaseInUse`` if a live process already does."""
        if self._owner is None:
            started = self.clock.now().isoformat(timespec="seconds")
            holder = {"command": role, "url": self.settings.endpoint, "started": started, "argv": sys.argv}
            self._owner = claim_database(self.settings.db, holder)

    async def open(self) -> None:
        s = self.settings
        self.claim()
        self._store = store = await asyncio.to_thread(open_store, s.db, **s.store_options())
        # One process on SQLite makes its key on first start; processes sharing PostgreSQL are given one.
        box = SecretBox.load(s.secret_key_file or s.data_dir / KEY_FILE, create=not store.shared)
        self.keys = KeyService(store, box, ttl=s.key_cache_seconds)
        sealed = await self.keys.seal_stored()
        if sealed:
            log.info("sealed the secrets of %d API key(s) with the server key %s", sealed, box.key_id)
        if unreadable := await self.keys.unreadable():
            log.error(
                "%d API key(s) are sealed with another secret key than this process's (%s, %s): requests"
                " made with them get 503 here; give every process the same --secret-key-file",
                unreadable,
                box.key_id or "none",
                box.path,
            )
        internal = await self.keys.internal()
        caller = Caller(s.endpoint, internal.id, internal.secret, s.region, s.account_id)
        self._slots = store.cluster_slots()
        if self._slots is not None:
            self._slots.open()
        self.log_writer = LogWriter(store, max_age=s.function_log_age, max_bytes=s.function_log_bytes)
        self.log_writer.open()
        self.pool = FunctionPool(
            environment={"FNFLOW_URL": s.endpoint, "FNFLOW_API_KEY": f"{internal.id}:{internal.secret}"},
            cluster=self._slots,
            logs=self.log_writer,
            provided_root=s.data_dir / "provided",
            instance_environment=InstanceCredentials(await self.keys.temporary_keys()),
            batch=s.function_scheduling == "batch",
        )
        self.secrets = SecretService(store, box)
        await self.secrets.check_key()
        self.functions = FunctionService(store, self.pool, s.data_dir, caller, secrets=self.secrets)
        self.versions = VersionService(store, changed=lambda: self.functions.changed())
        self.logs = LogService(store, self.functions, self.log_writer)
        self.metrics = Metrics()
        self.functions.served = self.metrics.version_served
        self.metrics.watch(self._gauges)
        clock = self.clock
        owner = self.ids.uuid().replace("-", "")
        self.keeper = keeper = LeaseKeeper(store, owner, s.lease_seconds, clock=clock)
        self.integrations = Integrations()
        self.runtime = Runtime(
            store,
            keeper,
            self.integrations,
            parallelism=s.parallelism,
            max_data_bytes=s.max_input_bytes,
            max_events=s.max_events,
            metrics=self.metrics,
            clock=clock,
            ids=self.ids,
        )
        signing_key = await store.write(
            lambda tx: tx.setting_or_create("callback_signing_key", lambda: secrets.token_hex(32))
        )
        targets = TargetPolicy(
            allow_private=s.callback_allow_private,
            allowed_networks=tuple(ipaddress.ip_network(n.strip()) for n in s.callback_allow_networks),
        )
        self.signing_key = signing_key
        self.deliverer = Deliverer(
            store, keeper, policy=targets, signing_key=lambda: signing_key, clock=clock
        )
        self.dispatcher = Dispatcher(
            store,
            self.functions,
            keeper,
            parallelism=s.async_parallelism,
            queue_parallelism=s.queue_parallelism,
            # Sharing a store, hold only what this process can start soon; peers claim the rest.
            max_held=2 * (s.async_parallelism + sum(s.queue_parallelism.values()))
            if store.shared
            else 10_000,
            on_deliveries=self.deliverer.submit,
            metrics=self.metrics,
            clock=clock,
        )
        self.calls = CallService(
            store,
            self.functions,
            self.dispatcher,
            targets=targets,
            max_body=s.async_max_bytes,
            clock=clock,
            ids=self.ids,
        )
        self.arrivals = Arrivals(store)
        self.arrivals.open()
        self.queues = QueueService(store, self.arrivals)
        self.topics = TopicService(
            store,
            self.arrivals,
            keeper,
            targets=targets,
            on_deliveries=self.deliverer.submit,
            on_calls=self.dispatcher.take,
            local=functools.partial(local_url, endpoint=s.endpoint),
        )
        self.integrations.add(FunctionTarget, FunctionIntegration(self.functions, self.calls, self.runtime))
        self.integrations.add(FlowTarget, FlowIntegration(self.runtime))
        self.integrations.add(QueueTarget, MessageIntegration(self.queues, self.topics, "queue"))
        self.integrations.add(TopicTarget, MessageIntegration(self.queues, self.topics, "topic"))
        await self.runtime.open()
        await self.dispatcher.open(recover=not store.shared)
        await self.deliverer.open(recover=not store.shared)
        self.flows = FlowService(store, self.integrations, clock=clock)
        self.executions = ExecutionService(
            store, self.runtime, max_input_bytes=s.max_input_bytes, ids=self.ids
        )
        self.bins = BinService(store)
        self.scheduler = Scheduler(store, self.runtime, on_calls=self.dispatcher.unclaimed, clock=clock)
        self.schedules = ScheduleService(
            store,
            changed=self.scheduler.wake,
            min_interval=s.schedule_min_interval,
            max_input_bytes=s.max_input_bytes,
            clock=clock,
            ids=self.ids,
        )
        self.triggers = TriggerService(
            store, changed=self.scheduler.wake, min_interval=s.trigger_min_interval
        )
        self.stacks = StackService(
            store,
            functions=self.functions,
            triggers=self.triggers,
            queues=self.queues,
            topics=self.topics,
            flows=self.flows,
            schedules=self.schedules,
            endpoint=s.endpoint,
        )
        await self.scheduler.open()
        self._keeping = asyncio.create_task(keeper.run(), name="leases")
        self.warmer = Warmer(self.functions)
        self.warmer.open()
        self._sweeping = asyncio.create_task(
            Sweeper(store, self._purges(), clock=self.clock).run(), name="retention"
        )
        self._pruning = asyncio.create_task(prune_every(self.functions), name="function-housekeeping")
        for path in self._apply:
            await self.apply(path)

    def _purges(self) -> dict[str, Purge]:
        """What the retention sweeper removes (``fnflow.retention``)."""
        purges: dict[str, Purge] = {
            "expired queue messages": lambda tx, now, limit: tx.purge_expired_messages(now, limit),
            "expired topic message ids": lambda tx, now, limit: tx.purge_expired_topic_messages(now, limit),
        }
        if keep_calls := self.settings.call_retention:
            purges["finished asynchronous calls"] = lambda tx, now, limit: tx.purge_finished_calls(
                now - timedelta(seconds=keep_calls), limit
            )
        if keep_executions := self.settings.execution_retention:
            purges["finished executions"] = lambda tx, now, limit: tx.purge_finished_executions(
                now - timedelta(seconds=keep_executions), limit
            )
        return purges

    async def apply(self, path: Path) -> None:
        """Deploy the examples at ``path``: fnflow manifests (see ``fnflow.manifest``) and Alibaba app
        templates (each a stack named after its folder, as ``fnflow deploy -t`` makes it)."""
        apps = await asyncio.to_thread(find_apps, path)
        for manifest in apps.manifests:
            await self._apply_manifest(manifest)
        for template in apps.templates:
            await self._deploy_template(template)

    async def _apply_manifest(self, manifest: Manifest) -> None:
        for config, code in manifest.functions:
            await self.functions.deploy(config, code)
        for queue in manifest.queues:
            await self.queues.create(queue.name, queue.attributes)
        for topic in manifest.topics:
            await self.topics.create(topic.name)
            for s in topic.subscriptions:
                await self.topics.subscribe(topic.name, s.name, s.endpoint, filter_tag=s.filter_tag)
        for flow in manifest.flows:
            await self.flows.put(flow.name, flow.definition, flow.description)
        for schedule in manifest.schedules:
            await self.schedules.put(schedule.flow, schedule.name, schedule.spec)
        log.info(
            "applied %s: %d function(s), %d queue(s), %d topic(s), %d flow(s), %d schedule(s)",
            manifest.path,
            len(manifest.functions),
            len(manifest.queues),
            len(manifest.topics),
            len(manifest.flows),
            len(manifest.schedules),
        )

    async def _deploy_template(self, template: Path) -> None:
        from fnflow.compat.alibaba import ros  # the template reader loads only when a template is there

        s = self.settings
        name = ros.stack_name(template)  # the stack `fnflow deploy -t` would make
        options = ros.Options(name, s.region, s.account_id, {}, endpoint=s.endpoint)
        loaded = await asyncio.to_thread(ros.load, template, options)
        report = await self.stacks.deploy(name, loaded.plan, description=loaded.draft.description)
        log.info("deployed %s as stack %s: %d resource(s)", template, report.name, len(report.changes))

    def _gauges(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.store.write_stats
        yield CounterMetricFamily(
            "fnflow_store_write_batches", "Write transactions committed.", stats["batches"]
        )
        yield CounterMetricFamily(
            "fnflow_store_write_jobs", "Units of work in those transactions.", stats["jobs"]
        )
        yield GaugeMetricFamily(
            "fnflow_tasks_running", "Task steps this process runs now.", len(self.runtime.tasks.held)
        )
        workers = GaugeMetricFamily(
            "fnflow_function_workers", "Warm worker processes by state.", labels=["function", "state"]
        )
        for function, counts in self.pool.stats()["functions"].items():
            for state in ("busy", "idle", "waiting"):
                workers.add_metric([function, state], counts[state])
        yield workers
        yield from self._queue_gauges()

    async def read_gauges(self) -> None:
        """Read from the store what the metrics' gauges show, before ``Metrics.render`` — which runs
        on the event loop and must not wait for the database there: counting 100,000 waiting
        calls takes 60 ms, a stall of every request, step and timer at each scrape."""
        self._pending_calls = await self.store.read(lambda tx: tx.pending_calls())

    def _queue_gauges(self) -> Iterator[GaugeMetricFamily]:
        """OpenFaaS Pro's queue-worker gauges: calls waiting (store-wide, as ``read_gauges`` read
        them) and running (here)."""
        pending = GaugeMetricFamily(
            "queue_worker_pending_messages",
            "Asynchronous calls waiting to run.",
            labels=["queue_name", "function_name"],
        )
        for queue, service, function, count in self._pending_calls:
            pending.add_metric([queue or "default", metric_name(service, function)], count)
        yield pending
        inflight = GaugeMetricFamily(
            "queue_worker_function_invocation_inflight",
            "Asynchronous calls running in this process.",
            labels=["function_name"],
        )
        for (service, function), count in self.dispatcher.running_by_function().items():
            inflight.add_metric([metric_name(service, function)], count)
        yield inflight

    @property
    def store(self) -> Store:
        assert self._store is not None, "fnflow is not open"
        return self._store

    async def close(self) -> None:
        if self._store is None:
            return
        for stop in self.before_close:
            try:
                await stop()
            except Exception:
                log.exception("stopping %s failed", stop)
        self.before_close = []
        self.arrivals.close()
        self._keeping.cancel()
        self._sweeping.cancel()
        self._pruning.cancel()
        await asyncio.gather(self._keeping, self._sweeping, self._pruning, return_exceptions=True)
        for part in (self.scheduler, self.warmer, self.dispatcher, self.deliverer, self.runtime):
            try:  # what a part holds it gives back; if the database cannot take it now, leases expire
                await part.close()
            except Exception as e:
                log.warning("%s did not close cleanly: %s", type(part).__name__, e)
        await self.pool.close()
        self.functions.close()
        await self.log_writer.close()
        if self._slots is not None:
            await self._slots.close()
        await asyncio.to_thread(self._store.close)
        self._store = None
        if self._owner is not None:
            self._owner.release()
            self._owner = None
