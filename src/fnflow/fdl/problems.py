"""Pydantic validation errors rewritten as DefinitionProblems a person can act on.

Pydantic names places by its own schema (``steps.4.choice.choices``, with the step type it chose)
and says "Extra inputs are not permitted"; users need ``steps[4].choices``, the step's name, the
line, and "unknown field 'bogus' (allowed: …)". The model classes are walked along each error's
location to drop pydantic's own components and to know which fields were allowed there.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from fnflow.errors import DefinitionProblem
from fnflow.fdl.location import Location, Positions, problem_at
from fnflow.fdl.model import Flow, StepModel

STEP_TYPES = tuple(
    typing.get_args(cls.model_fields["type"].annotation)[0] for cls in typing.get_args(StepModel)
)
_STEP_CLASSES: dict[str, type[BaseModel]] = dict(zip(STEP_TYPES, typing.get_args(StepModel), strict=True))
_NAME_RULE = "1 to 128 letters, digits, '_' or '-', starting with a letter or '_'"


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``| None`` down to the type that matters for navigation."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _resolve(pydantic_loc: tuple[int | str, ...]) -> tuple[Location, type[BaseModel]]:
    """The document location of a pydantic error, and the model that holds its last field."""
    loc: list[str | int] = []
    owner: type[BaseModel] = Flow
    annotation: Any = Flow
    for part in pydantic_loc:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            owner = annotation
            field = annotation.model_fields.get(str(part))
            annotation = field.annotation if field else None
        elif origin in (list, dict):
            annotation = typing.get_args(annotation)[-1]
        elif origin in (typing.Union, types.UnionType):  # pydantic names the union member it tried
            annotation = _STEP_CLASSES.get(str(part))
            continue
        else:
            annotation = None
        loc.append(part)
    return tuple(loc), owner


def allowed_fields(model: type[BaseModel]) -> list[str]:
    """Field names in the order a reader expects: name and type, the model's own, then inherited."""
    own = list(vars(model).get("__annotations__", {}))
    first = [f for f in ("name", "type") if f in model.model_fields]
    rest = sorted(model.model_fields, key=lambda f: f not in own)  # stable: keeps declaration order
    return first + [f for f in rest if f not in first]


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _message(error: ErrorDetails, owner: type[BaseModel]) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    last = str(error["loc"][-1]) if error["loc"] else ""
    got = f" (got {_shown(value)})"
    if kind == "missing":
        return f"missing required field {last!r}"
    if kind == "extra_forbidden":
        allowed = allowed_fields(owner)
        close = difflib.get_close_matches(last, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown field {last!r} ({hint}allowed: {', '.join(allowed)})"
    if kind == "union_tag_invalid":
        return f"unknown step type {ctx['tag']!r} (expected one of {', '.join(STEP_TYPES)})"
    if kind == "union_tag_not_found":
        return f"missing required field 'type' (one of {', '.join(STEP_TYPES)})"
    if kind == "string_type" and isinstance(value, bool | int | float):  # YAML read `no`, `1.0` as non-text
        return f"must be a string{got}; quote it to keep it as text"
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "string_pattern_mismatch":
        return f"must be {_NAME_RULE}{got}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}{got}"
    if kind == "too_short":
        return (
            "must not be empty" if ctx["min_length"] == 1 else f"must have at least {ctx['min_length']} items"
        )
    if kind == "string_too_short":
        return (
            "must not be empty"
            if ctx["min_length"] == 1
            else f"must be at least {ctx['min_length']} characters"
        )
    comparisons = {
        "greater_than_equal": ("≥", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("≤", "le"),
    }
    if kind in comparisons:
        symbol, key = comparisons[kind]
        return f"must be {symbol} {_number(ctx[key])}{got}"
    simple = {
        "too_long": f"must have at most {ctx.get('max_length')} items",
        "string_too_long": f"must be at most {ctx.get('max_length')} characters",
        "string_type": f"must be a string{got}",
        "bool_type": f"must be true or false{got}",
        "bool_parsing": f"must be true or false{got}",
        "int_type": f"must be a whole number{got}",
        "int_parsing": f"must be a whole number{got}",
        "int_from_float": f"must be a whole number{got}",
        "float_type": f"must be a number{got}",
        "float_parsing": f"must be a number{got}",
        "list_type": f"must be a list{got}",
        "dict_type": f"must be a mapping{got}",
        "model_type": f"must be a mapping{got}",
        "model_attributes_type": f"must be a mapping{got}",
    }
    return simple.get(kind, error["msg"].replace("Input should be", "must be"))


def enclosing_step(data: Any, loc: Location) -> str | None:
    """The name of the innermost step around ``loc``, read from the document as written."""
    name: str | None = None
    value = data
    for i, part in enumerate(loc):
        if isinstance(value, dict) and isinstance(part, str):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            break
        if i > 0 and loc[i - 1] == "steps" and isinstance(value, dict) and isinstance(value.get("name"), str):
            name = value["name"]
    return name


def validation_problems(error: ValidationError, data: Any, positions: Positions) -> list[DefinitionProblem]:
    """One problem per pydantic error, located in the document."""
    problems = []
    for details in error.errors(include_url=False):
        loc, owner = _resolve(details["loc"])
        problems.append(problem_at(positions, loc, _message(details, owner), enclosing_step(data, loc)))
    return problems
