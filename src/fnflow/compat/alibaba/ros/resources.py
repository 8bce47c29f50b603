"""Each resource type fnflow deploys: its properties (resolved) into plan items, and what the rest
of the template may read of it (its ``Ref`` value and its ``Fn::GetAtt`` attributes).

Names are the cloud's: a name property when the template sets one (``FunctionName``, ``Name``,
``TopicName``…), else the logical id (Funcraft: a service's, and a nested function's key).
Properties that mean nothing on one machine (``LogConfig``, ``VpcConfig``, ``NasConfig``…) are
accepted and reported as ignored; unknown ones too.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from fnflow.compat.alibaba.ros import document
from fnflow.compat.alibaba.ros.document import Document
from fnflow.compat.alibaba.ros.draft import CodeSource, Draft, FunctionDraft
from fnflow.compat.alibaba.ros.intrinsics import Resolved, Resolver, references
from fnflow.compat.alibaba.ros.problems import TemplateError, TemplateProblem
from fnflow.errors import FnflowError
from fnflow.fdl.location import Location
from fnflow.functions.config import FC_RUNTIME, FunctionConfig
from fnflow.functions.triggers import TriggerSpec
from fnflow.queues.attributes import QueueAttributes, TopicAttributes
from fnflow.schedules.spec import ScheduleSpec
from fnflow.services.stackplan import (
    PlannedFlow,
    PlannedQueue,
    PlannedSchedule,
    PlannedSubscription,
    PlannedTopic,
    PlannedTrigger,
)

SERVERLESS_SERVICE = "Aliyun::Serverless::Service"
SERVERLESS_FUNCTION = "Aliyun::Serverless::Function"
#: what a Funcraft function's Runtime may be: all run on fnflow's Python
PYTHON = ("python2.7", "python3")
NOT_LOCAL = {  # accepted and ignored: they mean nothing on one machine
    "LogConfig",
    "VpcConfig",
    "NasConfig",
    "InternetAccess",
    "TracingConfig",
    "Tags",
    "DeletionForce",
    "VpcBindings",
    "OssMountConfig",
    "VendorConfig",
    "InstanceConcurrency",
    "InstanceType",
    "Layers",
    "CAPort",
    "CustomContainerConfig",
    "InstanceLifecycleConfig",
    "GpuMemorySize",
    "DiskSize",
    "Cpu",
    "LoggingEnabled",
    "EnableLogging",
    "InvocationRole",
    "Region",
    "SourceArn",
    "AssumeRolePolicyDocument",
    "MaxSessionDuration",
    "Path",
    "DeletionProtection",
    "ExecutionMode",
}


@dataclass(frozen=True)
class Declared:
    """A resource as written (Funcraft's nested functions flattened, as ``{Service}{Function}``)."""

    logical_id: str
    type: str
    body: dict[str, Any]
    loc: Location
    parent: str | None = None  # the service of a nested function
    key: str = ""  # a nested function's key under its service
    file_references: tuple[tuple[str, Location], ...] = ()  # in its DefinitionUri file

    def dependencies(self) -> list[tuple[str, Location]]:
        found = references(self.body.get("Properties"), (*self.loc, "Properties"))
        found += self.file_references
        found += references(self.body.get("Events"), (*self.loc, "Events"))
        if self.parent:
            found.append((self.parent, self.loc))
        return found


@dataclass
class ServiceInfo:
    name: str
    role_arn: str = ""
    policies: list[Any] | None = None  # Funcraft's Policies (None: not given)


@dataclass
class Build:
    """What handlers share while a template is turned into a draft."""

    doc: Document
    region: str
    account: str
    read_text: Callable[[str], str]  # a file relative to the template's folder (DefinitionUri)
    draft: Draft = field(default_factory=Draft)
    services: dict[str, ServiceInfo] = field(default_factory=dict)  # by logical id
    roles: dict[str, list[Any]] = field(default_factory=dict)  # role name (lower case) → policies

    def function_arn(self, service: str, function: str) -> str:
        return f"acs:fc:{self.region}:{self.account}:services/{service}/functions/{function}"

    def warn(self, loc: Location, message: str, resource: str | None) -> None:
        self.draft.warnings.append(self.doc.problem(loc, message, resource))


class Props:
    """A resource's resolved properties, read with the checks their type needs."""

    def __init__(
        self,
        build: Build,
        res: Declared,
        values: Any,
        loc: Location,
        known: set[str] | None,
        resolver: Resolver,
    ) -> None:
        """``known``: the property names of the type (others are reported); None: any."""
        self.build, self.res, self.loc, self.resolver = build, res, loc, resolver
        if not isinstance(values, dict):
            raise self.fail(loc, "Properties must be a mapping")
        self.values: dict[str, Any] = values
        for key in values if known is not None else ():
            assert known is not None
            if key in NOT_LOCAL:
                build.warn((*loc, key), f"{key} is ignored: it means nothing on one machine", res.logical_id)
            elif key not in known:
                build.warn((*loc, key), f"unknown property {key} of {res.type} is ignored", res.logical_id)

    def fail(self, loc: Location, message: str) -> TemplateError:
        return TemplateError([self.build.doc.problem(loc, message, self.res.logical_id)])

    def at(self, key: str) -> Location:
        return (*self.loc, key)

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def text(self, key: str, default: str | None = None) -> str:
        value = self.values.get(key, default)
        if value is None:
            raise self.fail(self.loc, f"{self.res.type} needs {key}")
        return self.resolver.string(value, self.at(key), key)

    def number(self, key: str, default: float) -> float:
        value = self.values.get(key, default)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.fail(self.at(key), f"{key} must be a number")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.values.get(key, default)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise self.fail(self.at(key), f"{key} must be true or false")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.values.get(key) or {}
        if not isinstance(value, dict):
            raise self.fail(self.at(key), f"{key} must be a mapping")
        return value


Handler = Callable[[Build, Declared, Resolver], Resolved]


def properties(build: Build, res: Declared, resolver: Resolver, known: set[str]) -> Props:
    loc = (*res.loc, "Properties")
    return Props(build, res, resolver.resolve(res.body.get("Properties") or {}, loc), loc, known, resolver)


def _service_attributes(build: Build, name: str, role: str) -> Resolved:
    arn = f"acs:fc:{build.region}:{build.account}:services/{name}"
    service_id = str(uuid.uuid5(uuid.NAMESPACE_URL, arn))
    return Resolved(arn, {"ServiceName": name, "ServiceId": service_id, "ARN": arn, "Role": role})


def serverless_service(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    p = properties(build, res, resolver, {"Description", "Role", "Policies", "ServiceName"})
    name = p.text("ServiceName", res.logical_id)
    policies = p.get("Policies")
    if policies is not None and not isinstance(policies, list):
        policies = [policies]
    build.services[res.logical_id] = ServiceInfo(name, p.text("Role", ""), policies)
    return _service_attributes(build, name, p.text("Role", ""))


def fc_service(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    p = properties(build, res, resolver, {"ServiceName", "Description", "Role"})
    name = p.text("ServiceName")
    build.services[res.logical_id] = ServiceInfo(name, p.text("Role", ""))
    return _service_attributes(build, name, p.text("Role", ""))


def _runtime(p: Props) -> str:
    runtime = p.text("Runtime")
    if not runtime.startswith(PYTHON):
        raise p.fail(
            p.at("Runtime"),
            f"runtime {runtime} is not supported: fnflow runs Python functions (python2.7, python3.x)",
        )
    return FC_RUNTIME


def _environment(p: Props) -> dict[str, str]:
    variables = p.mapping("EnvironmentVariables")
    return {str(k): p.resolver.string(v, p.at("EnvironmentVariables"), k) for k, v in variables.items()}


FUNCTION_KNOWN = {
    "Handler",
    "Runtime",
    "Description",
    "MemorySize",
    "Timeout",
    "EnvironmentVariables",
    "Initializer",
    "InitializationTimeout",
    "FunctionName",
    "AsyncConfiguration",
}


def _config(build: Build, p: Props, service: str, name: str) -> FunctionConfig:
    runtime = _runtime(p)
    retries = p.mapping("AsyncConfiguration").get("MaxAsyncRetryAttempts")
    config = FunctionConfig(
        service=service,
        name=name,
        runtime=runtime,
        handler=p.text("Handler"),
        timeout=p.number("Timeout", 3),
        memory_mb=int(p.number("MemorySize", 128)),
        environment=_environment(p),
        description=p.text("Description", ""),
        initializer=p.text("Initializer", ""),
        initialization_timeout=p.number("InitializationTimeout", 0),
    )
    if isinstance(retries, int) and not isinstance(retries, bool):
        config = replace(config, async_policy=replace(config.async_policy, retries=retries))
    return config


def _function_draft(
    build: Build, res: Declared, p: Props, config: FunctionConfig, code: CodeSource, service: str
) -> None:
    at = build.doc.problem(res.loc, "", res.logical_id)
    handler_at = build.doc.problem(p.at("Handler"), "", res.logical_id)
    build.draft.functions.append(FunctionDraft(config, code, res.logical_id, at, handler_at, service))


def _function_attributes(build: Build, service: Resolved, config: FunctionConfig) -> Resolved:
    arn = build.function_arn(config.service, config.name)
    return Resolved(
        arn,
        {
            "FunctionName": config.name,
            "ServiceName": config.service,
            "ARN": arn,
            "FunctionId": str(uuid.uuid5(uuid.NAMESPACE_URL, arn)),
            "ServiceId": service.attributes.get("ServiceId", ""),
        },
    )


def serverless_function(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    assert res.parent is not None
    service = resolver.resource_of(res.parent, res.loc)
    p = properties(build, res, resolver, FUNCTION_KNOWN | {"CodeUri"})
    name = p.text("FunctionName", res.key)
    config = _config(build, p, service.attributes["ServiceName"], name)
    code_uri = p.text("CodeUri")
    if code_uri.startswith("oss://"):
        raise p.fail(p.at("CodeUri"), f"CodeUri {code_uri}: code in OSS cannot be read here; use a folder")
    _function_draft(build, res, p, config, CodeSource(uri=code_uri), res.parent)
    events = res.body.get("Events") or {}
    if not isinstance(events, dict):
        raise p.fail((*res.loc, "Events"), "Events must be a mapping of event names to events")
    for event, body in events.items():
        _event(build, res, resolver, config, event, body, (*res.loc, "Events", event))
    return _function_attributes(build, service, config)


def _qualifier(p: Props) -> None:
    qualifier = p.get("Qualifier")
    if qualifier not in (None, "", "LATEST"):
        raise p.fail(p.at("Qualifier"), f"Qualifier {qualifier}: versions and aliases are not supported")


def _http_trigger(p: Props, config: FunctionConfig, name: str) -> TriggerSpec:
    methods = p.get("Methods") or p.get("methods") or []
    if not isinstance(methods, list):
        raise p.fail(p.at("Methods"), "Methods must be a list")
    auth = str(p.get("AuthType") or p.get("authType") or "ANONYMOUS").upper()
    spec = TriggerSpec(
        config.service, config.name, name, "http", auth, tuple(str(m).upper() for m in methods)
    )
    _check(p, spec)
    return spec


def _timer_trigger(p: Props, config: FunctionConfig, name: str) -> TriggerSpec:
    cron = p.get("CronExpression") or p.get("cronExpression")
    if not isinstance(cron, str):
        raise p.fail(p.loc, "a Timer trigger needs a CronExpression")
    payload = p.get("Payload") if "Payload" in p.values else p.get("payload")
    enable = p.get("Enable") if "Enable" in p.values else p.get("enable")
    spec = TriggerSpec(
        config.service,
        config.name,
        name,
        "timer",
        cron_expression=cron,
        payload="" if payload is None else p.resolver.string(payload, p.at("Payload"), "Payload"),
        enabled=enable is not False and str(enable).lower() != "false",
    )
    _check(p, spec)
    return spec


def _check(p: Props, spec: TriggerSpec) -> None:
    try:
        spec.validate()
    except FnflowError as e:
        raise p.fail(p.loc, e.message) from None


def _topic_subscription(
    build: Build, p: Props, config: FunctionConfig, name: str, logical_id: str
) -> PlannedSubscription:
    topic = p.text("TopicName")
    content = str(p.get("NotifyContentFormat") or "STREAM").upper()
    return PlannedSubscription(
        topic=topic,
        name=f"{config.service}-{config.name}-{name}",
        endpoint=build.function_arn(config.service, config.name),
        filter_tag=p.get("FilterTag"),
        notify_strategy=str(p.get("NotifyStrategy") or "BACKOFF_RETRY"),
        notify_content_format="SIMPLIFIED" if content == "STREAM" else content,
        logical_id=logical_id,
    )


def _event(
    build: Build,
    res: Declared,
    resolver: Resolver,
    config: FunctionConfig,
    name: str,
    body: Any,
    loc: Location,
) -> None:
    if not isinstance(body, dict) or "Type" not in body:
        raise resolver.fail(loc, f"event {name} needs a Type")
    kind = resolver.resolve(body["Type"], (*loc, "Type"))
    fake = Declared(res.logical_id, f"{kind} event", body, loc)
    p = Props(
        build,
        fake,
        resolver.resolve(body.get("Properties") or {}, (*loc, "Properties")),
        (*loc, "Properties"),
        {
            "AuthType",
            "Methods",
            "CronExpression",
            "Payload",
            "Enable",
            "Qualifier",
            "TopicName",
            "NotifyContentFormat",
            "NotifyStrategy",
            "FilterTag",
        },
        resolver,
    )
    _qualifier(p)
    logical_id = f"{res.logical_id}{name}"
    if kind == "HTTP":
        build.draft.triggers.append(PlannedTrigger(_http_trigger(p, config, name), logical_id))
    elif kind == "Timer":
        build.draft.triggers.append(PlannedTrigger(_timer_trigger(p, config, name), logical_id))
    elif kind == "MNSTopic":
        build.draft.subscriptions.append(_topic_subscription(build, p, config, name, logical_id))
    else:
        raise resolver.fail(
            (*loc, "Type"), f"unsupported event type {kind}: fnflow runs HTTP, Timer and MNSTopic events"
        )


def fc_function(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    p = properties(build, res, resolver, FUNCTION_KNOWN | {"ServiceName", "Code"})
    service = p.text("ServiceName")
    config = _config(build, p, service, p.text("FunctionName"))
    code = p.mapping("Code")
    if "SourceCode" in code:
        source = CodeSource(source=resolver.string(code["SourceCode"], p.at("Code"), "SourceCode"))
    elif "ZipFile" in code:
        source = CodeSource(zip_file=resolver.string(code["ZipFile"], p.at("Code"), "ZipFile"))
    else:
        raise p.fail(p.at("Code"), "Code needs SourceCode or ZipFile (code in OSS cannot be read here)")
    owner = next((k for k, s in build.services.items() if s.name == service), "")
    _function_draft(build, res, p, config, source, owner)
    attributes = _service_attributes(build, service, "")
    return _function_attributes(build, attributes, config)


def fc_trigger(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    p = properties(
        build,
        res,
        resolver,
        {"ServiceName", "FunctionName", "TriggerName", "TriggerType", "TriggerConfig", "Qualifier"},
    )
    _qualifier(p)
    config = FunctionConfig(p.text("ServiceName"), p.text("FunctionName"))
    name = p.text("TriggerName")
    kind = p.text("TriggerType").lower()
    settings = Props(build, res, p.mapping("TriggerConfig"), p.at("TriggerConfig"), None, resolver)
    if kind == "http":
        build.draft.triggers.append(PlannedTrigger(_http_trigger(settings, config, name), res.logical_id))
    elif kind == "timer":
        build.draft.triggers.append(PlannedTrigger(_timer_trigger(settings, config, name), res.logical_id))
    elif kind in ("mns_topic", "mnstopic"):
        build.draft.subscriptions.append(_topic_subscription(build, settings, config, name, res.logical_id))
    else:
        raise p.fail(
            p.at("TriggerType"), f"unsupported trigger type {kind}: fnflow runs http, timer and mns_topic"
        )
    url = f"/2016-08-15/proxy/{config.service}/{config.name}/"
    return Resolved(
        name,
        {
            "TriggerName": name,
            "TriggerId": str(uuid.uuid5(uuid.NAMESPACE_URL, url + name)),
            "FunctionName": config.name,
            "ServiceName": config.service,
            "UrlInternet": f"https://{build.account}.{build.region}.fc.aliyuncs.com{url}",
            "UrlIntranet": f"https://{build.account}.{build.region}-internal.fc.aliyuncs.com{url}",
        },
    )


def _definition_file(build: Build, p: Props, resolver: Resolver, uri: str) -> str:
    try:
        text = build.read_text(uri)
    except OSError as e:
        raise p.fail(
            p.at("DefinitionUri"), f"DefinitionUri {uri} cannot be read: {e.strerror or e}"
        ) from None
    flow = document.read(text, uri)
    if not _has_functions(flow.value):
        return text  # as written: the lines of the definition's problems are the file's
    value = Resolver(flow, resolver.scope, resolver.resource).resolve(flow.value, ())
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


def _has_functions(value: Any) -> bool:
    if isinstance(value, dict):
        if len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
            return True
        return any(_has_functions(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_functions(v) for v in value)
    return False


def _definition(build: Build, p: Props, resolver: Resolver) -> str:
    if "Definition" in p.values:
        definition = p.values["Definition"]
        if isinstance(definition, dict | list):
            return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)
        return p.text("Definition")
    if "DefinitionUri" in p.values:
        return _definition_file(build, p, resolver, p.text("DefinitionUri"))
    raise p.fail(p.loc, f"{p.res.type} needs Definition or DefinitionUri")


def _flow(build: Build, res: Declared, resolver: Resolver, role: str, default_name: str | None) -> Resolved:
    known = {"Name", "Description", "Definition", "DefinitionUri", role} | (
        {"Policies"} if role == "Role" else set()
    )
    p = properties(build, res, resolver, known)
    name = p.text("Name", default_name)
    definition = _definition(build, p, resolver)
    build.draft.flows.append(
        PlannedFlow(name, definition, p.text("Description", ""), p.text(role, ""), res.logical_id)
    )
    return Resolved(
        name,
        {
            "Name": name,
            "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fnf:flow/{name}")),
            "CreatedTime": "",
            "LastModifiedTime": "",
        },
    )


def serverless_flow(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    """Funcraft's flow: named by its logical id unless ``Name`` says otherwise."""
    return _flow(build, res, resolver, "Role", res.logical_id)


def fnf_flow(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    return _flow(build, res, resolver, "RoleArn", None)


def fnf_schedule(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    p = properties(
        build,
        res,
        resolver,
        {"FlowName", "ScheduleName", "CronExpression", "Payload", "Enable", "Description"},
    )
    flow, name = p.text("FlowName"), p.text("ScheduleName")
    payload: Any = p.get("Payload") or {}
    if isinstance(payload, str):
        try:
            payload = json.loads(payload) if payload.strip() else {}
        except ValueError:
            raise p.fail(p.at("Payload"), "Payload must be a JSON object") from None
    if not isinstance(payload, dict):
        raise p.fail(p.at("Payload"), "Payload must be a JSON object")
    spec = ScheduleSpec(
        p.text("CronExpression"), "", payload, p.flag("Enable", True), p.text("Description", "")
    )
    build.draft.schedules.append(PlannedSchedule(flow, name, spec, res.logical_id))
    return Resolved(
        name,
        {
            "ScheduleName": name,
            "FlowName": flow,
            "ScheduleId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{flow}/{name}")),
        },
    )


def _mns(build: Build, kind: str, name: str) -> Resolved:
    arn = f"acs:mns:{build.region}:{build.account}:/{kind}s/{name}"
    url = f"http://{build.account}.mns.{build.region}.aliyuncs.com/{kind}s/{name}"
    title = kind.capitalize()
    return Resolved(name, {f"{title}Name": name, "ARN": arn, f"{title}Url": url})


def mns_topic(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    p = properties(build, res, resolver, {"TopicName", "MaximumMessageSize"})
    name = p.text("TopicName", res.logical_id if res.type.startswith("Aliyun::") else None)
    attributes = TopicAttributes(int(p.number("MaximumMessageSize", 65_536)))
    build.draft.topics.append(PlannedTopic(name, attributes, res.logical_id))
    return _mns(build, "topic", name)


QUEUE_FIELDS = {
    "DelaySeconds": "delay_seconds",
    "MaximumMessageSize": "maximum_message_size",
    "MessageRetentionPeriod": "message_retention_period",
    "VisibilityTimeout": "visibility_timeout",
    "PollingWaitSeconds": "polling_wait_seconds",
}


def mns_queue(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    p = properties(build, res, resolver, {"QueueName", *QUEUE_FIELDS})
    name = p.text("QueueName")
    defaults = QueueAttributes()
    fields = {attr: p.number(key, getattr(defaults, attr)) for key, attr in QUEUE_FIELDS.items()}
    fields["maximum_message_size"] = int(fields["maximum_message_size"])
    build.draft.queues.append(PlannedQueue(name, QueueAttributes(**fields), res.logical_id))  # type: ignore[arg-type]
    return _mns(build, "queue", name)


def mns_subscription(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    p = properties(
        build,
        res,
        resolver,
        {"TopicName", "SubscriptionName", "Endpoint", "NotifyStrategy", "NotifyContentFormat", "FilterTag"},
    )
    topic, name = p.text("TopicName"), p.text("SubscriptionName")
    filter_tag = p.get("FilterTag")
    subscription = PlannedSubscription(
        topic=topic,
        name=name,
        endpoint=p.text("Endpoint"),
        filter_tag=None if filter_tag is None else str(filter_tag),
        notify_strategy=p.text("NotifyStrategy", "BACKOFF_RETRY"),
        notify_content_format=p.text("NotifyContentFormat", "XML"),
        logical_id=res.logical_id,
    )
    build.draft.subscriptions.append(subscription)
    return Resolved(name, {"SubscriptionName": name, "TopicName": topic})


def ram_role(build: Build, res: Declared, resolver: Resolver) -> Resolved:
    p = properties(build, res, resolver, {"RoleName", "Policies", "Description"})
    name = p.text("RoleName")
    policies = p.get("Policies") or []
    if not isinstance(policies, list):
        raise p.fail(p.at("Policies"), "Policies must be a list of {PolicyName, PolicyDocument}")
    build.roles[name.lower()] = [x.get("PolicyDocument") for x in policies if isinstance(x, dict)]
    arn = f"acs:ram::{build.account}:role/{name.lower()}"
    return Resolved(name, {"RoleName": name, "Arn": arn, "RoleId": str(uuid.uuid5(uuid.NAMESPACE_URL, arn))})


HANDLERS: dict[str, Handler] = {
    SERVERLESS_SERVICE: serverless_service,
    SERVERLESS_FUNCTION: serverless_function,
    "Aliyun::Serverless::Flow": serverless_flow,
    "Aliyun::Serverless::MNSTopic": mns_topic,
    "ALIYUN::FC::Service": fc_service,
    "ALIYUN::FC::Function": fc_function,
    "ALIYUN::FC::Trigger": fc_trigger,
    "ALIYUN::FNF::Flow": fnf_flow,
    "ALIYUN::FNF::Schedule": fnf_schedule,
    "ALIYUN::MNS::Topic": mns_topic,
    "ALIYUN::MNS::Queue": mns_queue,
    "ALIYUN::MNS::Subscription": mns_subscription,
    "ALIYUN::RAM::Role": ram_role,
}


def unsupported(res: Declared, doc: Document) -> TemplateProblem:
    known = ", ".join(sorted(HANDLERS))
    return doc.problem(
        (*res.loc, "Type"), f"unsupported resource type {res.type} (fnflow deploys: {known})", res.logical_id
    )
