"""A strict JSON reader that remembers where every value was written.

PyYAML reads some valid JSON wrongly (tab indentation is an error, ``1e5`` becomes a string,
``"\\ud83d\\ude00"`` two lone surrogates) and ``json.loads`` forgets positions and keeps the last
of duplicate keys, so JSON definitions get this small reader instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fnflow.errors import DefinitionProblem, InvalidDefinition
from fnflow.fdl.location import LineIndex, Location, Mark, Positions, format_path

MAX_DEPTH = 100

_SPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WORDS = {"true": True, "false": False, "null": None}


class JsonSyntaxError(Exception):
    """Text that is not JSON; ``mark`` is where reading stopped."""

    def __init__(self, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = LineIndex(text)
        self.marks: dict[Location, Mark] = {}
        self.duplicates: list[DefinitionProblem] = []

    def error(self, message: str, offset: int) -> JsonSyntaxError:
        return JsonSyntaxError(message, self.lines.mark(offset))

    def skip(self, offset: int) -> int:
        match = _SPACE.match(self.text, offset)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def value(self, offset: int, loc: Location, depth: int) -> tuple[Any, int]:
        offset = self.skip(offset)
        self.marks.setdefault(loc, self.lines.mark(offset))  # an object entry already has its key's mark
        if depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep", offset)
        char = self.text[offset : offset + 1]
        if char == "{":
            return self.object(offset + 1, loc, depth)
        if char == "[":
            return self.array(offset + 1, loc, depth)
        if char == '"':
            return self.string(offset)
        number = _NUMBER.match(self.text, offset)
        if number:
            is_float = number.group(1) or number.group(2)
            return (float if is_float else int)(number.group()), number.end()
        for word, word_value in _WORDS.items():
            if self.text.startswith(word, offset):
                return word_value, offset + len(word)
        raise self.error("expected a JSON value" if char else "unexpected end of text", offset)

    def string(self, offset: int) -> tuple[str, int]:
        match = _STRING.match(self.text, offset)
        if match is None:
            raise self.error("unterminated string, or a control character in a string", offset)
        try:
            value = json.loads(match.group())  # exact JSON escapes, surrogate pairs included
        except json.JSONDecodeError as e:
            raise self.error(e.msg[:1].lower() + e.msg[1:], offset + e.pos) from None
        assert isinstance(value, str)
        return value, match.end()

    def object(self, offset: int, loc: Location, depth: int) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        offset = self.skip(offset)
        if self.text.startswith("}", offset):
            return result, offset + 1
        while True:
            if not self.text.startswith('"', offset):
                raise self.error("expected a key in double quotes", offset)
            key_mark = self.lines.mark(offset)
            key, offset = self.string(offset)
            if key in first_seen:
                self.duplicates.append(_duplicate((*loc, key), key, first_seen[key], key_mark))
            else:
                first_seen[key] = key_mark[0]
                self.marks[(*loc, key)] = key_mark
            offset = self.skip(offset)
            if not self.text.startswith(":", offset):
                raise self.error("expected ':' after the key", offset)
            result[key], offset = self.value(offset + 1, (*loc, key), depth + 1)
            offset = self.skip(offset)
            if self.text.startswith("}", offset):
                return result, offset + 1
            if not self.text.startswith(",", offset):
                raise self.error("expected ',' or '}'", offset)
            offset = self.skip(offset + 1)

    def array(self, offset: int, loc: Location, depth: int) -> tuple[list[Any], int]:
        result: list[Any] = []
        offset = self.skip(offset)
        if self.text.startswith("]", offset):
            return result, offset + 1
        while True:
            item, offset = self.value(offset, (*loc, len(result)), depth + 1)
            result.append(item)
            offset = self.skip(offset)
            if self.text.startswith("]", offset):
                return result, offset + 1
            if not self.text.startswith(",", offset):
                raise self.error("expected ',' or ']'", offset)
            offset += 1


def _duplicate(loc: Location, key: str, first_line: int, mark: Mark) -> DefinitionProblem:
    return DefinitionProblem(
        path=format_path(loc),
        message=f"duplicate key {key!r} (first written at line {first_line})",
        field=key,
        line=mark[0],
        column=mark[1],
    )


def read_json(text: str) -> tuple[Any, Positions]:
    """Parse JSON text; raises JsonSyntaxError, or InvalidDefinition for duplicate keys."""
    reader = _Reader(text)
    value, offset = reader.value(0, (), 0)
    offset = reader.skip(offset)
    if offset < len(text):
        raise reader.error("unexpected text after the end of the JSON document", offset)
    if reader.duplicates:
        raise InvalidDefinition(reader.duplicates)
    return value, Positions(reader.marks)
