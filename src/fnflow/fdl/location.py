"""Where something is in a flow definition: a location path, how it is shown, and its line and column.

A location is a tuple of keys and indexes into the document, ``("steps", 2, "retry", 0)``; it is
shown as ``steps[2].retry[0]``. Problems found anywhere (YAML, pydantic, semantic checks) are built
here so that they all name places the same way.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass

from fnflow.errors import DefinitionProblem

Location = tuple[str | int, ...]
Mark = tuple[int, int]  # 1-based (line, column)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def format_path(loc: Location) -> str:
    """``("steps", 4, "choices", 1, "condition")`` → ``steps[4].choices[1].condition``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


@dataclass(frozen=True)
class Positions:
    """The mark of every location in a document: the key of a mapping entry, else the value."""

    marks: Mapping[Location, Mark]

    def locate(self, loc: Location) -> Mark | None:
        """The mark of ``loc``, or of its nearest ancestor that has one (a missing field has none)."""
        for n in range(len(loc), -1, -1):
            mark = self.marks.get(loc[:n])
            if mark is not None:
                return mark
        return None


class LineIndex:
    """Turns character offsets in a text into 1-based (line, column) marks."""

    def __init__(self, text: str) -> None:
        self._starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def mark(self, offset: int) -> Mark:
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def _field(loc: Location) -> str | None:
    """The field a problem is about: the last key, or the list holding the element (not for steps)."""
    if not loc:
        return None
    last = loc[-1]
    if isinstance(last, str):
        return last
    parent = loc[-2] if len(loc) > 1 else None
    return parent if isinstance(parent, str) and parent != "steps" else None


def problem_at(
    positions: Positions, loc: Location, message: str, step: str | None = None
) -> DefinitionProblem:
    """A problem at ``loc``, with the line and column of the nearest place that was written."""
    mark = positions.locate(loc)
    return DefinitionProblem(
        path=format_path(loc),
        message=message,
        step=step,
        field=_field(loc),
        line=mark[0] if mark else None,
        column=mark[1] if mark else None,
    )


def sorted_by_line(problems: list[DefinitionProblem]) -> list[DefinitionProblem]:
    """Problems in the order they appear in the text (those without a line first)."""
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))
