"""``fnflow.Client``: a typed, synchronous client for the native API (``/api/v1``) and the gateway."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from fnflow.client.errors import ApiError
from fnflow.client.gateway import GatewayMethods
from fnflow.client.http import api_path, items
from fnflow.client.logs import LogMethods
from fnflow.client.models import (
    Alias,
    Execution,
    Flow,
    FlowVersion,
    Function,
    HistoryEvent,
    Invocation,
    Page,
    Progress,
    ServiceVersion,
)
from fnflow.client.queues import Queue, QueueMethods
from fnflow.client.schedules import Schedule, ScheduleMethods
from fnflow.client.secrets import SecretMethods
from fnflow.client.stacks import StackMethods
from fnflow.client.topics import Subscription, Topic, TopicMethods
from fnflow.functions import codepkg
from fnflow.functions.config import DEFAULT_SERVICE, AsyncPolicy, FunctionConfig

__all__ = ["DEFAULT_SERVICE", "Client", "function_body"]

#: what ``Client.apply`` deploys
Applied = Function | Queue | Topic | Subscription | Flow | Schedule

MAX_WAIT = 60.0  # the longest long-poll the server grants at once
POLL_FLOOR = 0.2  # never ask again sooner than this when the server answers a long-poll early


class Client(
    GatewayMethods, ScheduleMethods, LogMethods, SecretMethods, QueueMethods, TopicMethods, StackMethods
):
    """A connection to one fnflow server.

    ``url`` defaults to ``$FNFLOW_URL`` (else ``http://127.0.0.1:8080``), ``api_key`` to
    ``$FNFLOW_API_KEY`` (``<key id>:<secret>``, as ``fnflow keys create`` prints it; needed when the
    server runs with auth on; ``""`` sends none). ``timeout`` bounds each request, plus the time a
    long-poll asks for. Errors the server reports raise :class:`ApiError` (``NotFoundError``,
    ``ConflictError``…); an unreachable server raises :class:`ConnectionError`. Use it as a context
    manager, or ``close()`` it.

        with Client() as fnf:
            run = fnf.start_execution("poll-job", {"delay": 1})
            print(fnf.wait_execution("poll-job", run.name, timeout=60).output)

    The gateway methods (``invoke``, ``invoke_async``, ``get_call``, ``wait_call``,
    ``bin_requests``…) come from :class:`~fnflow.client.gateway.GatewayMethods`, the schedule
    methods (``put_schedule``, ``list_schedules``…) from :class:`~fnflow.client.schedules.ScheduleMethods`,
    the function logs (``function_logs``, ``follow_function_logs``) from
    :class:`~fnflow.client.logs.LogMethods`, the secrets (``create_secret``, ``update_secret``,
    ``delete_secret``, ``list_secrets``) from :class:`~fnflow.client.secrets.SecretMethods`,
    the queue methods (``put_queue``, ``send_message``, ``receive_messages``, ``delete_message``…) from
    :class:`~fnflow.client.queues.QueueMethods`, the topic methods (``put_topic``, ``subscribe``,
    ``publish``…) from :class:`~fnflow.client.topics.TopicMethods` and the stack methods
    (``deploy_stack``, ``list_stacks``, ``delete_stack``…) from :class:`~fnflow.client.stacks.StackMethods`.
    """

    # --- flows ------------------------------------------------------------------------------------

    def put_flow(self, name: str, definition: str, description: str = "") -> Flow:
        """Create a flow, or make ``definition`` (FDL, YAML or JSON text) its current one.

        Running executions keep the definition they started with. An invalid definition raises
        ``InvalidArgumentError`` whose ``errors`` locate every problem (line, column, step).
        """
        body = {"definition": definition, "description": description}
        return Flow.from_json(self._json("PUT", api_path("flows", name), json=body))

    def get_flow(self, name: str) -> Flow:
        """One flow with its current definition."""
        return Flow.from_json(self._json("GET", api_path("flows", name)))

    def list_flows(self, limit: int = 60, next_token: str | None = None) -> Page[Flow]:
        """One page of flows, by name."""
        params = {"limit": limit, "nextToken": next_token}
        return Page.from_json(self._json("GET", api_path("flows"), params=params), "flows", Flow.from_json)

    def iter_flows(self, page_size: int = 100) -> Iterator[Flow]:
        """Every flow, fetching pages as the iteration needs them."""
        return items(lambda token: self.list_flows(page_size, token))

    def delete_flow(self, name: str) -> None:
        """Delete a flow and its finished executions (ConflictError while some still run)."""
        self._call("DELETE", api_path("flows", name))

    # --- executions -------------------------------------------------------------------------------

    def flow_versions(self, name: str, limit: int = 100, next_token: str | None = None) -> Page[FlowVersion]:
        """One page of a flow's versions, newest first."""
        params = {"limit": limit, "nextToken": next_token}
        response = self._json("GET", api_path("flows", name, "versions"), params=params)
        return Page.from_json(response, "versions", FlowVersion.from_json)

    def get_flow_version(self, name: str, version: int) -> FlowVersion:
        """One version of a flow, with its definition."""
        return FlowVersion.from_json(self._json("GET", api_path("flows", name, "versions", str(version))))

    def rollback_flow(self, name: str, version: int, description: str = "") -> Flow:
        """Make an old version's definition current again (a new version; running executions keep theirs)."""
        body: dict[str, Any] = {"version": version, "description": description}
        return Flow.from_json(self._json("PUT", api_path("flows", name), json=body))

    def start_execution(
        self,
        flow: str,
        input: Mapping[str, Any] | None = None,
        name: str | None = None,
        version: int | None = None,
    ) -> Execution:
        """Start an execution with a JSON object as input (on flow ``version``; default the current).

        Starting again with the same ``name`` and input returns the existing execution (safe to
        retry); the same name with a different input raises ``ConflictError``.
        """
        body: dict[str, Any] = {}
        if version is not None:
            body["version"] = version
        if name is not None:
            body["name"] = name
        if input is not None:
            body["input"] = dict(input)
        return Execution.from_json(self._json("POST", api_path("flows", flow, "executions"), json=body))

    def describe_execution(self, flow: str, name: str, wait: float = 0) -> Execution:
        """One execution; with ``wait`` > 0 (at most 60 s) the server holds the answer until it ends."""
        params = {"wait": wait} if wait > 0 else None
        response = self._json(
            "GET", api_path("flows", flow, "executions", name), params=params, extra_wait=wait
        )
        return Execution.from_json(response)

    def wait_execution(self, flow: str, name: str, timeout: float | None = None) -> Execution:
        """Long-poll until the execution finishes or ``timeout`` seconds pass (None: no limit).

        Returns the execution as last seen: check ``finished`` (still running at the timeout)
        and ``succeeded``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = MAX_WAIT if deadline is None else max(0.0, min(MAX_WAIT, deadline - time.monotonic()))
            asked = time.monotonic()
            execution = self.describe_execution(flow, name, wait)
            if execution.finished or wait <= 0:
                return execution
            time.sleep(max(0.0, min(POLL_FLOOR, wait) - (time.monotonic() - asked)))

    def list_executions(
        self,
        flow: str,
        status: str | None = None,
        name_prefix: str | None = None,
        limit: int = 60,
        next_token: str | None = None,
    ) -> Page[Execution]:
        """One page of a flow's executions, optionally only those with ``status`` or ``name_prefix``."""
        params = {"status": status, "namePrefix": name_prefix, "limit": limit, "nextToken": next_token}
        response = self._json("GET", api_path("flows", flow, "executions"), params=params)
        return Page.from_json(response, "executions", Execution.from_json)

    def iter_executions(
        self, flow: str, status: str | None = None, name_prefix: str | None = None, page_size: int = 100
    ) -> Iterator[Execution]:
        """Every matching execution, fetching pages as the iteration needs them."""
        return items(lambda token: self.list_executions(flow, status, name_prefix, page_size, token))

    def get_history(self, flow: str, name: str) -> list[HistoryEvent]:
        """The execution's whole history, oldest event first (all pages)."""

        def page(token: str | None) -> Page[HistoryEvent]:
            params = {"limit": 1000, "nextToken": token}
            response = self._json(
                "GET", api_path("flows", flow, "executions", name, "history"), params=params
            )
            return Page.from_json(response, "events", HistoryEvent.from_json)

        return list(items(page))

    def redrive_execution(self, flow: str, name: str) -> Execution:
        """Continue a Failed or TimedOut execution from the step where it ended (history kept)."""
        path = api_path("flows", flow, "executions", name, "redrive")
        return Execution.from_json(self._json("POST", path))

    def reset_execution(
        self,
        flow: str,
        name: str,
        to_step: str,
        *,
        new_name: str | None = None,
        input: Mapping[str, Any] | None = None,
    ) -> Execution:
        """A new execution from task step ``to_step`` of this one, with the state it had there."""
        body: dict[str, Any] = {"toStep": to_step}
        if new_name is not None:
            body["name"] = new_name
        if input is not None:
            body["input"] = dict(input)
        path = api_path("flows", flow, "executions", name, "reset")
        return Execution.from_json(self._json("POST", path, json=body))

    def execution_definition(self, flow: str, name: str) -> str:
        """The FDL text the execution runs: the definition it started with, whatever the flow's now."""
        path = api_path("flows", flow, "executions", name, "definition")
        return str(self._json("GET", path)["definition"])

    def watch_execution(self, flow: str, name: str, timeout: float | None = None) -> Iterator[Progress]:
        """Where the execution's steps stand now and at every change (with the new history events),
        until it ends — or ``timeout`` seconds pass without a change."""
        path = api_path("flows", flow, "executions", name, "watch")
        for line in self._lines(path, {}, read_timeout=timeout):
            if line.startswith("data: "):
                yield Progress.from_json(json.loads(line[len("data: ") :]))

    def flow_graph(self, name: str, format: str = "svg") -> str:
        """The flow's current definition drawn as ``svg``, ``mermaid`` or ``json`` (the layout)."""
        return self._send("GET", api_path("flows", name, "graph"), params={"format": format}).text

    def stop_execution(self, flow: str, name: str, error: str = "", cause: str = "") -> Execution:
        """Stop a running execution (status Stopped, with ``error`` and ``cause`` recorded)."""
        path = api_path("flows", flow, "executions", name, "stop")
        return Execution.from_json(self._json("POST", path, json={"error": error, "cause": cause}))

    # --- waitForCallback tasks --------------------------------------------------------------------

    def report_task_succeeded(self, token: str, output: Any) -> None:
        """ReportTaskSucceeded: the step waiting with ``token`` continues with ``output`` (a JSON value)."""
        self._call("POST", api_path("tasks", "succeed"), json={"taskToken": token, "output": output})

    def report_task_failed(self, token: str, error: str, cause: str = "") -> None:
        """ReportTaskFailed: the step waiting with ``token`` fails with ``error`` (retry and catch apply)."""
        self._call(
            "POST", api_path("tasks", "fail"), json={"taskToken": token, "error": error, "cause": cause}
        )

    # --- functions --------------------------------------------------------------------------------

    def deploy_function(
        self,
        name: str,
        code_dir: Path | None = None,
        *,
        service: str = DEFAULT_SERVICE,
        runtime: str = "python3",
        handler: str = "",
        command: str = "",
        upstream: str = "",
        timeout: float = 60,
        memory_mb: int = 128,
        max_instances: int = 4,
        min_instances: int = 0,
        secrets: Sequence[str] = (),
        secret_environment: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        description: str = "",
        async_policy: AsyncPolicy | None = None,
        code_zip: bytes | None = None,
        layers: Sequence[Path] = (),
        progress: Callable[[str], None] | None = None,
    ) -> Function:
        """Create or update a function with the code in ``code_dir`` (zipped here).

        ``code_zip`` passes an already packed zip instead; with neither, the deployed code stays
        and only the settings change (command and http functions need no code at all).
        ``handler`` defaults to the runtime's (``index.handler`` for python3, ``handler.handle``
        for the OpenFaaS templates). ``layers`` are folders put on its import path (zipped here,
        named by the folder). A ``requirements.txt`` in the code is installed by the server
        first; ``progress`` is called with each line it reports meanwhile.
        """
        if code_dir is not None and code_zip is not None:
            raise ValueError("pass code_dir or code_zip, not both")
        config = FunctionConfig(
            service=service,
            name=name,
            runtime=runtime,
            handler=handler,
            command=command,
            upstream=upstream,
            timeout=timeout,
            memory_mb=memory_mb,
            max_instances=max_instances,
            min_instances=min_instances,
            secrets=tuple(secrets),
            secret_environment=dict(secret_environment or {}),
            environment=dict(environment or {}),
            annotations=dict(annotations or {}),
            labels=dict(labels or {}),
            description=description,
            async_policy=async_policy or AsyncPolicy(),
        )
        zipped = [(folder.name, codepkg.pack_directory(folder)) for folder in layers]
        code = codepkg.pack_directory(code_dir) if code_dir is not None else code_zip
        return self.deploy(config, code, layers=zipped, progress=progress)

    def deploy(
        self,
        config: FunctionConfig,
        code_zip: bytes | None = None,
        *,
        layers: Sequence[tuple[str, bytes]] = (),
        progress: Callable[[str], None] | None = None,
    ) -> Function:
        """Create or update the function ``config`` describes; ``code_zip`` None keeps its code.

        ``layers`` are (name, zip) of the layers it names, in import order (their checksums in
        ``config.layers`` are ignored). With ``progress``, the server reports what it does (the
        install of a ``requirements.txt``) as it goes, one line at a time. An install can take
        minutes: the answer is waited for as long as the server works on it.
        """
        body = function_body(config)
        if code_zip is not None:
            body["code"] = base64.b64encode(code_zip).decode()
        body["layers"] = [
            {"name": name, "code": base64.b64encode(data).decode()} for name, data in layers
        ] or [{"name": layer.name, "checksum": layer.checksum} for layer in config.layers]
        path = api_path("functions", config.service, config.name)
        if progress is None:
            return Function.from_json(self._json("PUT", path, json=body, extra_wait=None))
        return Function.from_json(self._progress("PUT", path, body, progress)["function"])

    def prune_functions(self) -> dict[str, list[str]]:
        """Remove what no deployed function uses (``fnflow fn gc``): environments, layers and unpacked
        code in the answering server's data folder, and environments and layers in the store."""
        return dict(self._json("POST", api_path("functions", "gc"), extra_wait=None))

    def invoke_function(
        self, name: str, payload: bytes = b"", service: str = DEFAULT_SERVICE, qualifier: str = "LATEST"
    ) -> Invocation:
        """Invoke synchronously with ``payload`` as the event (``qualifier``: a service version or alias).

        A failing function is a result (``error_type`` set), not an exception. There is no read
        timeout: the server stops the function at its own ``timeout``.
        """
        params = {"qualifier": qualifier} if qualifier != "LATEST" else None
        response = self._call(
            "POST",
            api_path("functions", service, name, "invoke"),
            content=payload,
            params=params,
            extra_wait=None,
        )
        error_type, request_id = (
            response.headers.get("x-fc-error-type"),
            response.headers.get("x-fc-request-id"),
        )
        version = response.headers.get("x-fc-invocation-service-version") or "LATEST"
        return Invocation(response.content, error_type, request_id or "", version)

    def publish_version(self, service: str, description: str = "") -> ServiceVersion:
        """Publish the service's functions as they are now as its next version."""
        body = {"description": description}
        return ServiceVersion.from_json(
            self._json("POST", api_path("services", service, "versions"), json=body)
        )

    def list_versions(self, service: str) -> list[ServiceVersion]:
        """The service's versions, newest first."""
        response = self._json("GET", api_path("services", service, "versions"))
        return [ServiceVersion.from_json(v) for v in response["versions"]]

    def delete_version(self, service: str, version_id: str | int) -> None:
        """Delete a version (``ConflictError`` while an alias uses it)."""
        self._call("DELETE", api_path("services", service, "versions", str(version_id)))

    def set_alias(
        self,
        service: str,
        alias: str,
        version_id: str | int,
        additional_version_weight: Mapping[str, float] | None = None,
        description: str = "",
        reserved_instances: int = 0,
    ) -> Alias:
        """Create or change an alias: a version, and optionally one more with a share (0-1) of calls;
        ``reserved_instances`` of each function of its version are kept started in every process."""
        body: dict[str, Any] = {
            "versionId": str(version_id),
            "description": description,
            "reservedInstances": reserved_instances,
        }
        if additional_version_weight:
            body["additionalVersionWeight"] = dict(additional_version_weight)
        return Alias.from_json(self._json("PUT", api_path("services", service, "aliases", alias), json=body))

    def get_alias(self, service: str, alias: str) -> Alias:
        return Alias.from_json(self._json("GET", api_path("services", service, "aliases", alias)))

    def list_aliases(self, service: str) -> list[Alias]:
        response = self._json("GET", api_path("services", service, "aliases"))
        return [Alias.from_json(a) for a in response["aliases"]]

    def delete_alias(self, service: str, alias: str) -> None:
        self._call("DELETE", api_path("services", service, "aliases", alias))

    def list_functions(self, service: str | None = None) -> list[Function]:
        """Every function, or those of one ``service``."""
        response = self._json("GET", api_path("functions"), params={"service": service})
        return [Function.from_json(f) for f in response["functions"]]

    def get_function(self, name: str, service: str = DEFAULT_SERVICE) -> Function:
        """One function's settings, code checksum, layers and environment (with what it installed)."""
        return Function.from_json(self._json("GET", api_path("functions", service, name)))

    def delete_function(self, name: str, service: str = DEFAULT_SERVICE) -> None:
        """Delete a function and stop its warm instances."""
        self._call("DELETE", api_path("functions", service, name))

    def set_timer(
        self,
        name: str,
        trigger: str,
        cron_expression: str,
        *,
        service: str = DEFAULT_SERVICE,
        payload: str = "",
        enable: bool = True,
    ) -> dict[str, Any]:
        """A timer trigger of the function: it is called asynchronously on ``cron_expression``
        (cron with seconds, or ``@every 30s``) with Function Compute's timer event."""
        body = {"kind": "timer", "cronExpression": cron_expression, "payload": payload, "enable": enable}
        return cast(
            dict[str, Any],
            self._json("PUT", api_path("functions", service, name, "triggers", trigger), json=body),
        )

    def list_triggers(self, name: str, service: str = DEFAULT_SERVICE) -> list[dict[str, Any]]:
        """The function's triggers (timers with their next fire time, HTTP triggers)."""
        return cast(
            list[dict[str, Any]],
            self._json("GET", api_path("functions", service, name, "triggers"))["triggers"],
        )

    def delete_trigger(self, name: str, trigger: str, service: str = DEFAULT_SERVICE) -> None:
        self._call("DELETE", api_path("functions", service, name, "triggers", trigger))

    # --- everything else --------------------------------------------------------------------------

    def health(self) -> bool:
        """True when the server and its database answer, False when the server reports it is not ready."""
        try:
            self._call("GET", "/healthz")
        except ApiError as e:
            if e.status == 503:
                return False
            raise
        return True

    def apply(self, path: Path, progress: Callable[[Applied], None] | None = None) -> list[Applied]:
        """Deploy what the ``fnflow.yaml`` manifests at ``path`` list (per manifest: functions, queues,
        topics with their subscriptions, flows, then schedules).

        ``progress`` is called with each item as it is deployed. A manifest that cannot be read
        raises ValueError before anything of it is deployed.
        """
        from fnflow.manifest import find_manifests  # imports server-side modules; only apply needs them

        done: list[Applied] = []

        def record(item: Applied) -> None:
            done.append(item)
            if progress is not None:
                progress(item)

        for manifest in find_manifests(Path(path)):
            for config, code in manifest.functions:
                record(self.deploy(config, code))
            for queue in manifest.queues:
                record(self.put_queue(queue.name, **vars(queue.attributes)))
            for topic in manifest.topics:
                record(self.put_topic(topic.name))
                for sub in topic.subscriptions:
                    record(self.subscribe(topic.name, sub.name, sub.endpoint, filter_tag=sub.filter_tag))
            for flow in manifest.flows:
                record(self.put_flow(flow.name, flow.definition, flow.description))
            for s in manifest.schedules:
                spec = s.spec
                record(
                    self.put_schedule(
                        s.flow,
                        s.name,
                        spec.cron_expression,
                        payload=spec.payload,
                        time_zone=spec.time_zone,
                        enabled=spec.enabled,
                        description=spec.description,
                    )
                )
        return done


def function_body(config: FunctionConfig) -> dict[str, Any]:
    """The JSON the deploy API takes for ``config`` (without the code)."""
    return {
        "runtime": config.runtime,
        "handler": config.handler,
        "command": config.command,
        "upstream": config.upstream,
        "timeout": config.timeout,
        "memoryMB": config.memory_mb,
        "maxInstances": config.max_instances,
        "environment": dict(config.environment),
        "annotations": dict(config.annotations),
        "labels": dict(config.labels),
        "description": config.description,
        "asyncPolicy": config.async_policy.to_api(),
        "minInstances": config.min_instances,
        "secrets": list(config.secrets),
        "secretEnvironment": dict(config.secret_environment),
        "openfaas": {
            "image": config.image,
            "limits": dict(config.limits),
            "requests": dict(config.requests),
            "constraints": list(config.constraints),
            "readOnlyRootFilesystem": config.read_only_root_filesystem,
        },
        "initializer": config.initializer,
        "initializationTimeout": config.initialization_timeout,
        "role": config.role,
    }
