"""Prometheus metrics of one fnflow process (``GET /metrics``).

Each ``Metrics`` has its own registry, so several servers in one test process never clash.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, UnknownMetricFamily
from prometheus_client.registry import Collector

from fnflow.functions.naming import metric_name

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Family = CounterMetricFamily | GaugeMetricFamily | UnknownMetricFamily


class _Callback(Collector):
    """Values read when scraped (store batches, worker pools) rather than counted as they happen."""

    def __init__(self, read: Callable[[], Iterator[Family]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Family]:
        yield from self.read()


class _Children(dict[tuple[Any, ...], Any]):
    """A metric's children by their labels, each made once by ``make(*labels)``."""

    def __init__(self, make: Callable[..., Any]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, labels: tuple[Any, ...]) -> Any:
        child = self[labels] = self._make(*labels)
        return child


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.executions_started = Counter(
            "fnflow_executions_started_total", "Executions started.", ["flow"], registry=self.registry
        )
        self.executions_finished = Counter(
            "fnflow_executions_finished_total",
            "Executions that ended, by final status.",
            ["flow", "status"],
            registry=self.registry,
        )
        self.task_attempts = Counter(
            "fnflow_task_attempts_total",
            "Task attempts run by this process, by outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.timer_lateness = Histogram(
            "fnflow_timer_lateness_seconds",
            "How late timers (waits, retries, timeouts) fired.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=self.registry,
        )

        # OpenFaaS gateway names and labels, so its dashboards and alert rules work unchanged.
        self.invocations = Counter(
            "gateway_function_invocation",
            "Function calls completed through /function/ (asynchronous calls included), by status code.",
            ["function_name", "code"],
            registry=self.registry,
        )
        self.invocation_seconds = Histogram(
            "gateway_functions_seconds",
            "Duration of function calls through /function/.",
            ["function_name", "code"],
            registry=self.registry,
        )
        # OpenFaaS exports this counter without the _total suffix Python's client would add.
        self.invocations_started: collections.Counter[str] = collections.Counter()
        self.watch(self._started)
        self.calls_submitted = Counter(
            "queue_worker_messages_submitted",
            "Asynchronous calls accepted.",
            ["queue_name"],
            registry=self.registry,
        )
        self.calls_processed = Counter(
            "queue_worker_messages_processed",
            "Attempts of asynchronous calls finished, by outcome.",
            ["queue_name", "status"],
            registry=self.registry,
        )

        self.version_invocations = Counter(
            "fnflow_function_version_invocations",
            "Function calls by the service version that ran them (LATEST or a number), every caller.",
            ["function_name", "version"],
            registry=self.registry,
        )
        # The children of the metrics counted on every call, by their labels: ``labels()`` takes a
        # lock and checks the labels each time (1.8 µs; a child's ``inc`` alone 0.5).
        self._served = _Children(lambda s, f, v: self.version_invocations.labels(metric_name(s, f), v))
        self._finished = _Children(
            lambda f, code: (
                self.invocations.labels(f, str(code)),
                self.invocation_seconds.labels(f, str(code)),
            )
        )
        self._submitted = _Children(lambda queue: self.calls_submitted.labels(queue or "default"))
        self._processed = _Children(
            lambda queue, status: self.calls_processed.labels(queue or "default", status)
        )

    def version_served(self, service: str, function: str, version: str) -> None:
        self._served[service, function, version].inc()

    def invocation_started(self, function: str) -> None:
        self.invocations_started[function] += 1

    def invocation_finished(self, function: str, status: int, seconds: float) -> None:
        calls, durations = self._finished[function, status]
        calls.inc()
        durations.observe(seconds)

    def call_submitted(self, queue: str) -> None:
        """An asynchronous call of ``queue`` ("" the default) was accepted."""
        self._submitted[(queue,)].inc()

    def call_processed(self, queue: str, status: str) -> None:
        """An attempt of an asynchronous call of ``queue`` ("" the default) ended with ``status``."""
        self._processed[queue, status].inc()

    def _started(self) -> Iterator[UnknownMetricFamily]:
        family = UnknownMetricFamily(
            "gateway_function_invocation_started",
            "Function calls started through /function/.",
            labels=["function_name"],
        )
        for name, count in self.invocations_started.items():
            family.add_metric([name], count)
        yield family

    def watch(self, read: Callable[[], Iterator[Family]]) -> None:
        self.registry.register(_Callback(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)
