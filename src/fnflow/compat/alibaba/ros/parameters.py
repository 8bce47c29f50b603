"""A template's ``Parameters``: the values given (``--parameter NAME=VALUE``), else the defaults,
typed and checked against the constraints the template declares."""

from __future__ import annotations

import json
import re
from typing import Any

from fnflow.compat.alibaba.ros.document import Document
from fnflow.compat.alibaba.ros.problems import TemplateError, TemplateProblem

TYPES = ("String", "Number", "CommaDelimitedList", "Json", "Boolean")


def _typed(kind: str, value: Any) -> Any:
    """``value`` (given as text, or a default as written) as a value of ``kind``; ValueError if not."""
    if kind == "Number":
        if isinstance(value, bool):
            raise ValueError("not a number")
        if isinstance(value, int | float):
            return value
        text = str(value).strip()
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() not in ("true", "false"):
            raise ValueError("not true or false")
        return str(value).lower() == "true"
    if kind == "CommaDelimitedList":
        if isinstance(value, list):
            return [str(v) for v in value]
        return [item.strip() for item in str(value).split(",")]
    if kind == "Json":
        return json.loads(value) if isinstance(value, str) else value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(name: str, spec: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` breaks one of the parameter's constraints, or None."""
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and value not in allowed and str(value) not in map(str, allowed):
        return f"must be one of {', '.join(map(str, allowed))}"
    if isinstance(value, str):
        pattern = spec.get("AllowedPattern")
        if isinstance(pattern, str) and not re.fullmatch(pattern, value):
            return str(spec.get("ConstraintDescription") or f"must match {pattern}")
        if isinstance(spec.get("MinLength"), int) and len(value) < spec["MinLength"]:
            return f"must be at least {spec['MinLength']} characters"
        if isinstance(spec.get("MaxLength"), int) and len(value) > spec["MaxLength"]:
            return f"must be at most {spec['MaxLength']} characters"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(spec.get("MinValue"), int | float) and value < spec["MinValue"]:
            return f"must be at least {spec['MinValue']}"
        if isinstance(spec.get("MaxValue"), int | float) and value > spec["MaxValue"]:
            return f"must be at most {spec['MaxValue']}"
    return None


def values(doc: Document, given: dict[str, str]) -> dict[str, Any]:
    """Each parameter's value; TemplateError says every one that is missing, unknown or wrong."""
    declared = doc.value.get("Parameters") or {}
    problems: list[TemplateProblem] = []
    if not isinstance(declared, dict):
        raise TemplateError([doc.problem(("Parameters",), "Parameters must be a mapping")])
    for name in sorted(set(given) - set(declared)):
        known = ", ".join(declared) or "none"
        problems.append(
            TemplateProblem(f"unknown parameter {name} (the template's parameters: {known})", doc.file)
        )
    result: dict[str, Any] = {}
    for name, spec in declared.items():
        loc = ("Parameters", name)
        if not isinstance(spec, dict):
            problems.append(doc.problem(loc, f"parameter {name} must be a mapping with a Type"))
            continue
        kind = spec.get("Type", "String")
        if kind not in TYPES:
            problems.append(
                doc.problem((*loc, "Type"), f"parameter {name}: Type must be one of {', '.join(TYPES)}")
            )
            continue
        if name in given:
            raw: Any = given[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            problems.append(doc.problem(loc, f"parameter {name} has no default: pass --parameter {name}=…"))
            continue
        try:
            value = _typed(kind, raw)
        except ValueError:
            problems.append(doc.problem(loc, f"parameter {name}: {raw!r} is not a {kind}"))
            continue
        why = _check(name, spec, value)
        if why is not None:
            problems.append(doc.problem(loc, f"parameter {name}: {raw!r} {why}"))
            continue
        result[name] = value
    if problems:
        raise TemplateError(problems)
    return result
