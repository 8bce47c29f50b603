"""Read an FDL document (YAML, or JSON) into plain JSON-like values and the position of each.

YAML is composed into a node tree with a safe loader and the values are built here, because
``yaml.safe_load`` forgets positions, silently keeps the last of duplicate keys and turns
``2019-05-02T15:04:05Z`` into a datetime. Scalars otherwise resolve as YAML 1.1 says (so ``on``
and ``yes`` are booleans); keys are kept as the text written. JSON text is read by a strict
JSON reader (see ``jsontext``) and falls back to YAML, which also accepts ``{a: 1}``.

Local tags (``!Ref X``) are refused unless the caller names them in ``tags``: then the value under
the tag is built as if untagged and handed to the tag's function, whose result stands in its place
(ROS templates read ``!Ref X`` as ``{"Ref": "X"}`` this way).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fnflow.errors import DefinitionProblem, InvalidDefinition
from fnflow.fdl.jsontext import MAX_DEPTH, JsonSyntaxError, read_json
from fnflow.fdl.location import LineIndex, Location, Mark, Positions, format_path

MAX_NODES = 200_000  # values built, aliases expanded: stops "billion laughs" documents

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + kind for kind in ("null", "bool", "int", "float", "str")}
_MERGE = _TAG + "merge"
_JSON_START = re.compile(r'\s*(\{\s*["}]|\[)')  # {"key" or [ : meant as JSON, not YAML flow style
_DEFAULT_TAGS = {"scalar": _TAG + "str", "sequence": _TAG + "seq", "mapping": _TAG + "map"}

#: what a local tag (``!Ref``) makes of the value written under it, built as if untagged
TagHandler = Callable[[Any], Any]


class _Loader(yaml.SafeLoader):
    """A SafeLoader that reads timestamps as the text written: FDL wants RFC 3339 strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TAG + "timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _SyntaxError(Exception):
    """Text that is not YAML; ``mark`` is where reading stopped."""

    def __init__(self, message: str, mark: Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Fatal(Exception):
    """A problem that stops building (too deep, too large, recursive)."""


def _mark(node: Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _kind(node: Node) -> str:
    return (
        "a list"
        if isinstance(node, SequenceNode)
        else "a mapping"
        if isinstance(node, MappingNode)
        else "a scalar"
    )


class _Builder:
    def __init__(self, loader: _Loader, tags: Mapping[str, TagHandler]) -> None:
        self.loader = loader
        self.tags = tags
        self.marks: dict[Location, Mark] = {}
        self.problems: list[DefinitionProblem] = []
        self.count = 0
        self.open: set[int] = set()  # ids of the collections being built, to catch recursive aliases
        self.reported: set[tuple[str, Mark]] = set()  # aliased nodes are built once per alias

    def problem(self, loc: Location, message: str, mark: Mark) -> None:
        if (message, mark) not in self.reported:
            self.reported.add((message, mark))
            field = loc[-1] if loc and isinstance(loc[-1], str) else None
            self.problems.append(DefinitionProblem(format_path(loc), message, None, field, *mark))

    def fatal(self, loc: Location, message: str, node: Node) -> _Fatal:
        self.problem(loc, message, _mark(node))
        return _Fatal(message)

    def build(self, node: Node, loc: Location) -> Any:
        self.marks.setdefault(loc, _mark(node))  # a mapping entry already has its key's mark
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fatal(
                loc, f"the document has more than {MAX_NODES} values (after expanding aliases)", node
            )
        if len(loc) > MAX_DEPTH:
            raise self.fatal(loc, f"nested more than {MAX_DEPTH} levels deep", node)
        handler = self.tags.get(node.tag)
        if handler is not None:
            return self.tagged(node, loc, handler)
        if isinstance(node, ScalarNode):
            return self.scalar(node, loc)
        if id(node) in self.open:
            raise self.fatal(loc, "an alias refers to a value that contains it", node)
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode) and node.tag == _TAG + "seq":
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode) and node.tag == _TAG + "map":
                return self.mapping(node, loc)
            self.problem(loc, f"unsupported YAML tag {node.tag!r} on {_kind(node)}", _mark(node))
            return None
        finally:
            self.open.discard(id(node))

    def tagged(self, node: Node, loc: Location, handler: TagHandler) -> Any:
        """The value under a local tag, built as if untagged (a scalar as its text), then handled."""
        kind = "scalar" if isinstance(node, ScalarNode) else "sequence"
        kind = "mapping" if isinstance(node, MappingNode) else kind
        plain = type(node)(_DEFAULT_TAGS[kind], node.value, node.start_mark, node.end_mark)
        return handler(self.build(plain, loc))

    def scalar(self, node: ScalarNode, loc: Location) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self.problem(loc, f"unsupported YAML tag {node.tag!r}", _mark(node))
            return None
        try:
            value = self.loader.yaml_constructors[node.tag](self.loader, node)
        except (ValueError, KeyError):  # an explicit tag that does not fit: !!int abc
            self.problem(loc, f"{node.value!r} is not a valid {node.tag.replace(_TAG, '!!')}", _mark(node))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(loc, f"{node.value!r} is not a finite number", _mark(node))
        return value

    def mapping(self, node: MappingNode, loc: Location) -> dict[str, Any]:
        entries = self.entries(node, loc)
        result: dict[str, Any] = {}
        for key, (key_node, value_node) in entries.items():
            self.marks[(*loc, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*loc, key))
        return result

    def entries(self, node: MappingNode, loc: Location) -> dict[str, tuple[Node, Node]]:
        """Key text → (key node, value node): explicit keys, then those merged with ``<<`` if not set."""
        explicit: dict[str, tuple[Node, Node]] = {}
        merged: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.merge(value_node, merged, loc)
            elif not isinstance(key_node, ScalarNode):
                self.problem(loc, f"a key must be a string, not {_kind(key_node)}", _mark(key_node))
            elif key_node.value in explicit:
                first = _mark(explicit[key_node.value][0])[0]
                message = f"duplicate key {key_node.value!r} (first written at line {first})"
                self.problem((*loc, key_node.value), message, _mark(key_node))
            else:
                explicit[key_node.value] = (key_node, value_node)
        return {**{k: v for k, v in merged.items() if k not in explicit}, **explicit}

    def merge(self, value: Node, into: dict[str, tuple[Node, Node]], loc: Location) -> None:
        """YAML 1.1 merge keys: ``<<: *base`` or ``<<: [*a, *b]`` (earlier sources win)."""
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.problem(loc, "a merge key (<<) takes a mapping or a list of mappings", _mark(source))
                continue
            if id(source) in self.open:
                raise self.fatal(loc, "an alias refers to a value that contains it", source)
            self.open.add(id(source))
            try:
                for key, entry in self.entries(source, loc).items():
                    into.setdefault(key, entry)
            finally:
                self.open.discard(id(source))


def _read_yaml(text: str, tags: Mapping[str, TagHandler]) -> tuple[Any, Positions]:
    try:
        loader = _Loader(text)  # checks for unprintable characters at once
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = (mark.line + 1, mark.column + 1) if mark else None
        context = f" ({e.context})" if e.context else ""
        raise _SyntaxError(f"invalid YAML: {e.problem}{context}", where) from None
    except yaml.reader.ReaderError as e:
        message = f"invalid YAML: unacceptable character #x{e.character:04x} ({e.reason})"
        raise _SyntaxError(message, LineIndex(text).mark(e.position)) from None
    if root is None:
        return None, Positions({})
    builder = _Builder(loader, tags)
    try:
        value = builder.build(root, ())
    except _Fatal:
        raise InvalidDefinition(builder.problems) from None
    if builder.problems:
        raise InvalidDefinition(builder.problems)
    return value, Positions(builder.marks)


def _syntax_problem(message: str, mark: Mark | None) -> DefinitionProblem:
    return DefinitionProblem("", message, line=mark[0] if mark else None, column=mark[1] if mark else None)


def load_document(text: str, tags: Mapping[str, TagHandler] | None = None) -> tuple[Any, Positions]:
    """Parse FDL text into JSON-like values (``None`` for an empty document) and their positions.

    ``tags`` maps local tags (``"!Ref"``) to what they make of their value; others are refused.

    Raises InvalidDefinition for a syntax error (one problem with its line and column), duplicate
    keys, unsupported tags, non-finite numbers and documents nested too deep or too large.
    """
    if not _JSON_START.match(text):
        try:
            return _read_yaml(text, {} if tags is None else tags)
        except _SyntaxError as e:
            raise InvalidDefinition([_syntax_problem(e.message, e.mark)]) from None
    try:
        return read_json(text)
    except JsonSyntaxError as json_error:
        try:
            return _read_yaml(text, {} if tags is None else tags)  # valid YAML that is not JSON: {"a": 1,}
        except _SyntaxError:
            problem = _syntax_problem(f"invalid JSON: {json_error.message}", json_error.mark)
            raise InvalidDefinition([problem]) from None
