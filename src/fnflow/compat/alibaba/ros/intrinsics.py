"""ROS's intrinsic functions, conditions and pseudo-parameters, evaluated (pure).

``Ref`` names a parameter, a pseudo-parameter (``ALIYUN::StackName``, ``ALIYUN::Region``,
``ALIYUN::AccountId``, ``ALIYUN::TenantId``, ``ALIYUN::StackId``, ``ALIYUN::NoValue``) or a
resource (its ``Ref`` value; Funcraft's ``Service/Function`` path too). The functions:
``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Replace`` (applied until none of its keys is
left), ``Fn::Select``, ``Fn::Split``, ``Fn::If``, ``Fn::Equals``, ``Fn::Not``, ``Fn::And``,
``Fn::Or``, ``Fn::Base64``, ``Fn::FindInMap``. ``ALIYUN::NoValue`` removes the key or item that
holds it. Every mistake is a ``TemplateError`` at the line of the function that has it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fnflow.compat.alibaba.ros.document import Document
from fnflow.compat.alibaba.ros.problems import TemplateError
from fnflow.fdl.location import Location

PSEUDO = ("ALIYUN::StackName", "ALIYUN::StackId", "ALIYUN::Region", "ALIYUN::AccountId", "ALIYUN::TenantId")
NO_VALUE_NAME = "ALIYUN::NoValue"
_SUB = re.compile(r"\$\{([^}]*)\}")
MAX_REPLACE_ROUNDS = 100


class _NoValue:
    def __repr__(self) -> str:
        return NO_VALUE_NAME


NO_VALUE: Any = _NoValue()


@dataclass
class Resolved:
    """What a resource gives to the rest of the template once its properties are resolved."""

    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scope:
    """The names a template's functions can see."""

    pseudo: dict[str, Any]
    parameters: dict[str, Any]
    conditions: dict[str, Any]  # name → the condition function (evaluated on first use)
    mappings: dict[str, Any]
    resources: dict[str, Resolved | None] = field(default_factory=dict)  # None: not created
    aliases: dict[str, str] = field(default_factory=dict)  # "Service/Function" → logical id
    declared: set[str] = field(default_factory=set)  # every resource's logical id


class Resolver:
    def __init__(self, doc: Document, scope: Scope, resource: str | None = None) -> None:
        self.doc = doc
        self.scope = scope
        self.resource = resource  # whose properties are being resolved (for messages)
        self._conditions: dict[str, bool] = {}
        self._evaluating: list[str] = []

    def fail(self, loc: Location, message: str) -> TemplateError:
        return TemplateError([self.doc.problem(loc, message, self.resource)])

    def at(self, resource: str | None) -> Resolver:
        """This resolver, saying that what it resolves belongs to ``resource``."""
        other = Resolver(self.doc, self.scope, resource)
        other._conditions = self._conditions
        return other

    # --- values ------------------------------------------------------------------------------

    def resolve(self, value: Any, loc: Location) -> Any:
        """``value`` with every function in it evaluated (NO_VALUE if it is ALIYUN::NoValue)."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref":
                    return self.ref(self.resolve(argument, (*loc, key)), (*loc, key))
                if key.startswith("Fn::"):
                    function = FUNCTIONS.get(key)
                    if function is None:
                        known = ", ".join(sorted(FUNCTIONS))
                        raise self.fail(
                            (*loc, key), f"unknown intrinsic function {key} (fnflow knows: {known})"
                        )
                    return function(self, argument, (*loc, key))
            resolved = {k: self.resolve(v, (*loc, k)) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(v, (*loc, i)) for i, v in enumerate(value)]
            return [v for v in items if v is not NO_VALUE]
        return value

    def ref(self, name: Any, loc: Location) -> Any:
        if not isinstance(name, str):
            raise self.fail(loc, f"Ref takes a name, not {_kind(name)}")
        scope = self.scope
        if name == NO_VALUE_NAME:
            return NO_VALUE
        if name in scope.pseudo:
            return scope.pseudo[name]
        if name.startswith("ALIYUN::"):
            raise self.fail(loc, f"unknown pseudo-parameter {name} (fnflow knows: {', '.join(PSEUDO)})")
        if name in scope.parameters:
            return scope.parameters[name]
        return self.resource_of(name, loc).ref

    def resource_of(self, name: str, loc: Location) -> Resolved:
        scope = self.scope
        logical = scope.aliases.get(name, name)
        if logical not in scope.declared:
            raise self.fail(loc, f"{name!r} is not a parameter or a resource of the template")
        if logical not in scope.resources:
            raise self.fail(loc, f"{name!r} cannot be used here: it is being built (a cycle)")
        found = scope.resources[logical]
        if found is None:
            raise self.fail(
                loc, f"resource {name} is not created (its condition is false), so it has no value"
            )
        return found

    def attribute(self, name: str, attribute: str, loc: Location) -> Any:
        resolved = self.resource_of(name, loc)
        if attribute not in resolved.attributes:
            known = ", ".join(sorted(resolved.attributes)) or "none"
            raise self.fail(loc, f"resource {name} has no attribute {attribute!r} (it has: {known})")
        return resolved.attributes[attribute]

    def string(self, value: Any, loc: Location, what: str) -> str:
        """A resolved scalar as text (numbers and booleans as ROS writes them)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise self.fail(loc, f"{what} must be a string, not {_kind(value)}")

    def pair(self, argument: Any, loc: Location, name: str, shape: str) -> list[Any]:
        value = self.resolve(argument, loc)
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(loc, f"{name} takes {shape}")
        return value

    # --- conditions --------------------------------------------------------------------------

    def condition(self, name: Any, loc: Location) -> bool:
        if not isinstance(name, str) or name not in self.scope.conditions:
            known = ", ".join(sorted(self.scope.conditions)) or "none"
            raise self.fail(loc, f"{name!r} is not a condition of the template (it has: {known})")
        if name in self._conditions:
            return self._conditions[name]
        if name in self._evaluating:
            cycle = " → ".join([*self._evaluating[self._evaluating.index(name) :], name])
            raise self.fail(loc, f"the conditions refer to each other in a cycle: {cycle}")
        self._evaluating.append(name)
        try:
            value = self.truth(self.scope.conditions[name], ("Conditions", name))
        finally:
            self._evaluating.pop()
        self._conditions[name] = value
        return value

    def truth(self, value: Any, loc: Location) -> bool:
        """A condition function's value: Fn::Equals/Not/And/Or, {"Condition": name} or a boolean."""
        if isinstance(value, dict) and list(value) == ["Condition"]:
            return self.condition(value["Condition"], (*loc, "Condition"))
        result = self.resolve(value, loc)
        if isinstance(result, bool):
            return result
        if isinstance(result, str) and result.lower() in ("true", "false"):
            return result.lower() == "true"
        raise self.fail(loc, f"a condition must be true or false, not {_kind(result)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else "a number"


def _comparable(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


# --- the functions ----------------------------------------------------------------------------


def _get_att(r: Resolver, argument: Any, loc: Location) -> Any:
    value = r.resolve(argument, loc)
    if isinstance(value, str):
        value = value.split(".", 1)
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        raise r.fail(loc, "Fn::GetAtt takes [resource, attribute] (or resource.attribute)")
    return r.attribute(value[0], value[1], loc)


def _join(r: Resolver, argument: Any, loc: Location) -> str:
    delimiter, items = r.pair(argument, loc, "Fn::Join", "[delimiter, [values]]")
    if not isinstance(items, list):
        raise r.fail(loc, f"Fn::Join joins a list, not {_kind(items)}")
    text = r.string(delimiter, loc, "the delimiter of Fn::Join")
    return text.join(r.string(item, loc, "what Fn::Join joins") for item in items)


def _sub(r: Resolver, argument: Any, loc: Location) -> str:
    variables: dict[str, Any] = {}
    template = argument
    if isinstance(argument, list):
        if len(argument) != 2 or not isinstance(argument[1], dict):
            raise r.fail(loc, "Fn::Sub takes a string, or [string, {variable: value}]")
        template = argument[0]
        variables = r.resolve(argument[1], (*loc, 1))
    template = r.resolve(template, loc)
    if not isinstance(template, str):
        raise r.fail(loc, f"Fn::Sub substitutes into a string, not {_kind(template)}")

    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return r.string(variables[name], loc, f"variable {name}")
        target, dot, attribute = name.partition(".")
        found = r.attribute(target, attribute, loc) if dot else r.ref(name, loc)
        return r.string(found, loc, f"${{{name}}}")

    return _SUB.sub(value, template)


def _replace(r: Resolver, argument: Any, loc: Location) -> str:
    replacements, text = r.pair(argument, loc, "Fn::Replace", "[{old: new}, string]")
    if not isinstance(replacements, dict):
        raise r.fail(loc, f"Fn::Replace takes a mapping of replacements first, not {_kind(replacements)}")
    text = r.string(text, loc, "what Fn::Replace changes")
    pairs = [(old, r.string(new, loc, f"the replacement of {old!r}")) for old, new in replacements.items()]
    for _ in range(MAX_REPLACE_ROUNDS):
        if not any(old and old in text for old, _ in pairs):
            return text
        for old, new in pairs:
            if old:
                text = text.replace(old, new)
    raise r.fail(loc, "Fn::Replace does not end: a replacement brings back a key it replaces")


def _select(r: Resolver, argument: Any, loc: Location) -> Any:
    index, items = r.pair(argument, loc, "Fn::Select", "[index, list]")
    if isinstance(index, str) and index.lstrip("-").isdigit():
        index = int(index)
    if isinstance(items, dict) and isinstance(index, str):
        if index not in items:
            raise r.fail(loc, f"Fn::Select: the mapping has no key {index!r}")
        return items[index]
    if not isinstance(items, list) or not isinstance(index, int) or isinstance(index, bool):
        raise r.fail(loc, "Fn::Select takes [index, list]")
    if not 0 <= index < len(items):
        raise r.fail(loc, f"Fn::Select: index {index} is outside the list of {len(items)}")
    return items[index]


def _split(r: Resolver, argument: Any, loc: Location) -> list[str]:
    delimiter, text = r.pair(argument, loc, "Fn::Split", "[delimiter, string]")
    delimiter = r.string(delimiter, loc, "the delimiter of Fn::Split")
    if not delimiter:
        raise r.fail(loc, "Fn::Split needs a delimiter that is not empty")
    return r.string(text, loc, "what Fn::Split splits").split(delimiter)


def _if(r: Resolver, argument: Any, loc: Location) -> Any:
    if not isinstance(argument, list) or len(argument) != 3:
        raise r.fail(loc, "Fn::If takes [condition, value if true, value if false]")
    chosen = 1 if r.condition(r.resolve(argument[0], (*loc, 0)), (*loc, 0)) else 2
    return r.resolve(argument[chosen], (*loc, chosen))


def _equals(r: Resolver, argument: Any, loc: Location) -> bool:
    a, b = r.pair(argument, loc, "Fn::Equals", "[value, value]")
    return bool(_comparable(a) == _comparable(b))


def _conditions(r: Resolver, argument: Any, loc: Location, name: str) -> list[bool]:
    if not isinstance(argument, list) or not argument:
        raise r.fail(loc, f"{name} takes a list of conditions")
    return [r.truth(item, (*loc, i)) for i, item in enumerate(argument)]


def _not(r: Resolver, argument: Any, loc: Location) -> bool:
    values = _conditions(r, argument if isinstance(argument, list) else [argument], loc, "Fn::Not")
    if len(values) != 1:
        raise r.fail(loc, "Fn::Not takes one condition")
    return not values[0]


def _base64(r: Resolver, argument: Any, loc: Location) -> str:
    text = r.string(r.resolve(argument, loc), loc, "what Fn::Base64 encodes")
    return base64.b64encode(text.encode()).decode()


def _find_in_map(r: Resolver, argument: Any, loc: Location) -> Any:
    value = r.resolve(argument, loc)
    if not isinstance(value, list) or len(value) != 3:
        raise r.fail(loc, "Fn::FindInMap takes [map, key, second key]")
    found: Any = r.scope.mappings
    for key in value:
        if not isinstance(found, dict) or not isinstance(key, str) or key not in found:
            raise r.fail(loc, f"Fn::FindInMap: the Mappings have no {json.dumps(value)}")
        found = found[key]
    return found


FUNCTIONS: Mapping[str, Callable[[Resolver, Any, Location], Any]] = {
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Replace": _replace,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": _not,
    "Fn::And": lambda r, a, loc: all(_conditions(r, a, loc, "Fn::And")),
    "Fn::Or": lambda r, a, loc: any(_conditions(r, a, loc, "Fn::Or")),
    "Fn::Base64": _base64,
    "Fn::FindInMap": _find_in_map,
}


def references(value: Any, loc: Location) -> list[tuple[str, Location]]:
    """The names ``value`` refers to (Ref, Fn::GetAtt, Fn::Sub), each with where, without
    resolving anything: the edges of the dependency graph."""
    found: list[tuple[str, Location]] = []
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            here = (*loc, key)
            if key == "Ref" and isinstance(argument, str):
                return [(argument, here)]
            if key == "Fn::GetAtt":
                target = argument.split(".", 1)[0] if isinstance(argument, str) else None
                if isinstance(argument, list) and argument and isinstance(argument[0], str):
                    target = argument[0]
                if target:
                    return [(target, here)]
            if key == "Fn::Sub":
                text = argument[0] if isinstance(argument, list) and argument else argument
                variables = argument[1] if isinstance(argument, list) and len(argument) > 1 else {}
                names = set(variables) if isinstance(variables, dict) else set()
                if isinstance(text, str):
                    for match in _SUB.finditer(text):
                        name = match.group(1).strip()
                        if not name.startswith("!") and name not in names:
                            found.append((name.split(".", 1)[0], here))
        for key, item in value.items():
            found += references(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += references(item, (*loc, i))
    return found
