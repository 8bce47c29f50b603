"""A template's text read into plain values, with the line and column of each (YAML or JSON).

YAML's short tags are read as the functions they stand for: ``!Ref X`` as ``{"Ref": "X"}``,
``!GetAtt A.B`` as ``{"Fn::GetAtt": ["A", "B"]}``, ``!Condition C`` as ``{"Condition": "C"}`` and
any other ``!Name v`` as ``{"Fn::Name": v}`` (an unknown one is said later, with its line).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fnflow.compat.alibaba.ros.problems import TemplateError, TemplateProblem
from fnflow.errors import InvalidDefinition
from fnflow.fdl.loader import TagHandler, load_document
from fnflow.fdl.location import Location, Positions, format_path


def _get_att(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # !GetAtt Resource.Attribute
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {"Fn::GetAtt": value}


class _ShortTags(Mapping[str, TagHandler]):
    """Every ``!Name`` tag, as its function."""

    def __getitem__(self, tag: str) -> TagHandler:
        name = tag[1:]
        if not tag.startswith("!") or not name.replace(":", "").isalnum():
            raise KeyError(tag)
        if name == "Ref":
            return lambda value: {"Ref": value}
        if name == "Condition":
            return lambda value: {"Condition": value}
        if name == "GetAtt":
            return _get_att
        return lambda value: {f"Fn::{name}": value}

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


SHORT_TAGS = _ShortTags()


@dataclass(frozen=True)
class Document:
    """A template (or a flow definition file) as values, and where each was written."""

    file: str
    value: Any
    positions: Positions

    def problem(self, loc: Location, message: str, resource: str | None = None) -> TemplateProblem:
        mark = self.positions.locate(loc)
        line, column = mark or (None, None)
        return TemplateProblem(message, self.file, line, column, resource)

    def where(self, loc: Location) -> str:
        """``line N`` of ``loc`` (or its path when it has no line)."""
        mark = self.positions.locate(loc)
        return f"line {mark[0]}" if mark else format_path(loc)


def read(text: str, file: str) -> Document:
    """Read a template; TemplateError (with lines) if it is not YAML or JSON."""
    try:
        value, positions = load_document(text, tags=SHORT_TAGS)
    except InvalidDefinition as e:
        problems = [TemplateProblem(p.message, file, p.line, p.column) for p in e.problems]
        raise TemplateError(problems) from None
    return Document(file, value, positions)
