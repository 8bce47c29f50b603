"""A template turned into a draft plan (pure: files are read through ``read_text``).

The steps: the parameters' values; the resources as declared (Funcraft's nested functions
flattened), every unsupported type said at once; the order they depend on each other in (a cycle
is an error naming it); each resource resolved in that order (skipped when its ``Condition`` is
false) and handed to its type's handler; the services' roles as the scopes of their functions'
credentials; the outputs. Every problem is collected and raised together, so a template that
cannot be deployed whole deploys nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fnflow.compat.alibaba import fc
from fnflow.compat.alibaba.ros import document, parameters
from fnflow.compat.alibaba.ros.document import Document
from fnflow.compat.alibaba.ros.draft import Draft, Output
from fnflow.compat.alibaba.ros.intrinsics import NO_VALUE, Resolver, Scope, references
from fnflow.compat.alibaba.ros.problems import TemplateError, TemplateProblem
from fnflow.compat.alibaba.ros.resources import (
    HANDLERS,
    SERVERLESS_FUNCTION,
    SERVERLESS_SERVICE,
    Build,
    Declared,
    unsupported,
)
from fnflow.compat.alibaba.ros.roles import FLOOR, scope_of
from fnflow.fdl.location import Location

TRANSFORM = "Aliyun::Serverless-2018-04-03"
FORMAT_VERSION = "2015-09-01"
RESOURCE_KEYS = {"Type", "Properties", "DependsOn", "Condition", "Metadata", "DeletionPolicy", "Events"}


@dataclass(frozen=True)
class Options:
    stack_name: str
    region: str = "cn-hangzhou"
    account_id: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)
    endpoint: str = ""  # this server's URL: Function Compute URLs in the outputs are moved to it


def draft(doc: Document, options: Options, read_text: Callable[[str], str]) -> Draft:
    """The draft of ``doc``; TemplateError with every problem found."""
    root = doc.value
    if not isinstance(root, dict):
        raise TemplateError([doc.problem((), "a template is a mapping with Resources")])
    _check_header(doc, root)
    scope = Scope(
        pseudo={
            "ALIYUN::StackName": options.stack_name,
            "ALIYUN::StackId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"stack/{options.stack_name}")),
            "ALIYUN::Region": options.region,
            "ALIYUN::AccountId": options.account_id,
            "ALIYUN::TenantId": options.account_id,
        },
        parameters=parameters.values(doc, dict(options.parameters)),
        conditions=_section(doc, root, "Conditions"),
        mappings=_section(doc, root, "Mappings"),
    )
    declared = [_with_definition_file(res, read_text) for res in _declare(doc, root)]
    scope.declared = {res.logical_id for res in declared}
    scope.aliases = {f"{res.parent}/{res.key}": res.logical_id for res in declared if res.parent}
    build = Build(doc, options.region, options.account_id, read_text)
    build.draft.description = str(root.get("Description") or "")
    problems = _resolve(build, scope, _order(doc, declared, scope))
    if problems:
        raise TemplateError(problems)
    _depends_on(build, declared, scope)
    _roles(build)
    problems = _outputs(build, scope, root, options.endpoint)
    if problems:
        raise TemplateError(problems)
    return build.draft


def _check_header(doc: Document, root: dict[str, Any]) -> None:
    problems = []
    version = root.get("ROSTemplateFormatVersion")
    if version is not None and str(version) != FORMAT_VERSION:
        problems.append(
            doc.problem(("ROSTemplateFormatVersion",), f"ROSTemplateFormatVersion must be '{FORMAT_VERSION}'")
        )
    transform = root.get("Transform")
    if transform is not None and transform != TRANSFORM:
        problems.append(
            doc.problem(("Transform",), f"unknown Transform {transform!r} (fnflow reads {TRANSFORM})")
        )
    if not isinstance(root.get("Resources"), dict) or not root["Resources"]:
        problems.append(doc.problem(("Resources",), "the template has no Resources"))
    if problems:
        raise TemplateError(problems)


def _section(doc: Document, root: dict[str, Any], name: str) -> dict[str, Any]:
    value = root.get(name) or {}
    if not isinstance(value, dict):
        raise TemplateError([doc.problem((name,), f"{name} must be a mapping")])
    return value


def _declare(doc: Document, root: dict[str, Any]) -> list[Declared]:
    """Every resource, nested functions after their service; unsupported types are errors."""
    found: list[Declared] = []
    problems: list[TemplateProblem] = []
    for logical_id, body in root["Resources"].items():
        loc: Location = ("Resources", logical_id)
        if not isinstance(body, dict) or not isinstance(body.get("Type"), str):
            problems.append(doc.problem(loc, "a resource needs a Type", logical_id))
            continue
        res = Declared(logical_id, body["Type"], body, loc)
        if res.type == SERVERLESS_FUNCTION:
            problems.append(
                doc.problem(
                    (*loc, "Type"), f"a function must be nested in an {SERVERLESS_SERVICE}", logical_id
                )
            )
        elif res.type not in HANDLERS:
            problems.append(unsupported(res, doc))
        found.append(res)
        if res.type != SERVERLESS_SERVICE:
            continue
        for key, nested in body.items():
            if key in RESOURCE_KEYS:
                continue
            where: Location = (*loc, key)
            if not isinstance(nested, dict) or nested.get("Type") != SERVERLESS_FUNCTION:
                kind = nested.get("Type") if isinstance(nested, dict) else None
                message = f"a service holds {SERVERLESS_FUNCTION} resources, not {kind or 'this'}"
                problems.append(doc.problem(where, message, f"{logical_id}{key}"))
                continue
            found.append(Declared(f"{logical_id}{key}", SERVERLESS_FUNCTION, nested, where, logical_id, key))
    if problems:
        raise TemplateError(problems)
    return found


def _with_definition_file(res: Declared, read_text: Callable[[str], str]) -> Declared:
    """``res`` knowing what its DefinitionUri file refers to, if it has one that can be read (if
    not, resolving it says why)."""
    uri = (res.body.get("Properties") or {}).get("DefinitionUri")
    if not isinstance(uri, str):
        return res
    try:
        flow = document.read(read_text(uri), uri)
    except (OSError, TemplateError):
        return res
    loc = (*res.loc, "Properties", "DefinitionUri")
    return replace(res, file_references=tuple((name, loc) for name, _ in references(flow.value, ())))


def _edges(res: Declared, scope: Scope) -> list[tuple[str, Location]]:
    """The resources ``res`` depends on: those its properties refer to, and its DependsOn."""
    edges = [
        (scope.aliases.get(name, name), loc)
        for name, loc in res.dependencies()
        if scope.aliases.get(name, name) in scope.declared
    ]
    for name, loc in _depends(res):
        if name in scope.declared:
            edges.append((name, loc))
    return edges


def _depends(res: Declared) -> list[tuple[str, Location]]:
    value = res.body.get("DependsOn")
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [(n, (*res.loc, "DependsOn")) for n in names if isinstance(n, str)]


def _order(doc: Document, declared: list[Declared], scope: Scope) -> list[Declared]:
    """The resources, each after those it depends on; a cycle is an error naming it."""
    by_id = {res.logical_id: res for res in declared}
    state: dict[str, str] = {}  # visiting | done
    order: list[Declared] = []
    stack: list[str] = []

    def visit(logical_id: str) -> None:
        state[logical_id] = "visiting"
        stack.append(logical_id)
        for target, loc in _edges(by_id[logical_id], scope):
            if state.get(target) == "visiting":
                cycle = [*stack[stack.index(target) :], target]
                message = f"a cycle of references: {' → '.join(cycle)}"
                raise TemplateError([doc.problem(loc, message, logical_id)])
            if target not in state:
                visit(target)
        stack.pop()
        state[logical_id] = "done"
        order.append(by_id[logical_id])

    for res in declared:
        if res.logical_id not in state:
            visit(res.logical_id)
    return order


def _resolve(build: Build, scope: Scope, order: list[Declared]) -> list[TemplateProblem]:
    problems: list[TemplateProblem] = []
    failed: set[str] = set()
    resolver = Resolver(build.doc, scope)
    for res in order:
        if any(target in failed for target, _ in _edges(res, scope)):
            failed.add(res.logical_id)  # what it depends on is wrong: said already
            continue
        r = resolver.at(res.logical_id)
        try:
            condition = res.body.get("Condition")
            if condition is not None and not r.condition(condition, (*res.loc, "Condition")):
                scope.resources[res.logical_id] = None
                continue
            scope.resources[res.logical_id] = HANDLERS[res.type](build, res, r)
        except TemplateError as e:
            problems += e.problems
            failed.add(res.logical_id)
    return problems


def _depends_on(build: Build, declared: list[Declared], scope: Scope) -> None:
    for res in declared:
        for name, loc in _depends(res):
            if name not in scope.declared:
                message = f"DependsOn names {name}, which is not a resource of the template (ignored)"
                build.warn(loc, message, res.logical_id)


def _roles(build: Build) -> None:
    """Each function's credentials scope, from its service's role (the floor when it has none)."""
    for function in list(build.draft.functions):
        service = build.services.get(function.service)
        policies: list[Any] | None = None
        source = ""
        if service is not None and service.role_arn:
            role = service.role_arn.rsplit("/", 1)[-1].lower()
            policies = build.roles.get(role)
            source = f"role {role}"
            if policies is None:
                message = (
                    f"role {service.role_arn} is not defined in the template: the credentials of"
                    f" function {function.config.name} may only {FLOOR.replace('-', ' ')}s"
                )
                build.draft.warnings.append(_with_message(function.at, message))
        elif service is not None and service.policies is not None:
            policies, source = service.policies, f"the policies of service {service.name}"
        found = scope_of(policies or [])
        build.draft.with_role(function.logical_id, found.scope)
        if found.refused:
            actions = ", ".join(f"fnf:{a}" for a in found.refused)
            message = (
                f"{source} allows {actions}, which scope {found.scope} does not: the credentials of"
                f" function {function.config.name} (scope {found.scope}) are refused those"
            )
            build.draft.warnings.append(_with_message(function.at, message))


def _with_message(at: TemplateProblem, message: str) -> TemplateProblem:
    return TemplateProblem(message, at.file, at.line, at.column, at.resource)


def _outputs(build: Build, scope: Scope, root: dict[str, Any], endpoint: str) -> list[TemplateProblem]:
    outputs = root.get("Outputs") or {}
    if not isinstance(outputs, dict):
        return [build.doc.problem(("Outputs",), "Outputs must be a mapping")]
    problems: list[TemplateProblem] = []
    resolver = Resolver(build.doc, scope)
    for name, body in outputs.items():
        loc: Location = ("Outputs", name)
        if not isinstance(body, dict) or "Value" not in body:
            problems.append(build.doc.problem(loc, f"output {name} needs a Value"))
            continue
        try:
            condition = body.get("Condition")
            if condition is not None and not resolver.condition(condition, (*loc, "Condition")):
                continue
            value = resolver.resolve(body["Value"], (*loc, "Value"))
        except TemplateError as e:
            problems += e.problems
            continue
        if value is not NO_VALUE:
            value = _localized(value, endpoint) if endpoint else value
            build.draft.outputs.append(Output(name, value, str(body.get("Description") or "")))
    return problems


def _localized(value: Any, endpoint: str) -> Any:
    if isinstance(value, str):
        return fc.localize(value, endpoint)
    if isinstance(value, list):
        return [_localized(v, endpoint) for v in value]
    if isinstance(value, dict):
        return {k: _localized(v, endpoint) for k, v in value.items()}
    return value
