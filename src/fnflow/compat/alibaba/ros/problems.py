"""What is wrong with a template, said with the file, the line and the resource it is about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fnflow.errors import InvalidArgument


@dataclass(frozen=True)
class TemplateProblem:
    message: str
    file: str = ""
    line: int | None = None
    column: int | None = None
    resource: str | None = None  # the logical id of the resource it is about

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        what = f"resource {self.resource}: " if self.resource else ""
        return f"{where}: {what}{self.message}" if where else f"{what}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


class TemplateError(InvalidArgument):
    """The template cannot be deployed; ``problems`` says every reason found, each where it is."""

    code = "InvalidTemplate"

    def __init__(self, problems: list[TemplateProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "errors": [p.to_dict() for p in self.problems]}
