"""Reading test files: YAML with the line of every value (the FDL loader's), checked against the
models of ``spec``, then against the flows they name (a mock for a step that does not exist is a
mistake, not something to ignore). Every problem names the file, line and field."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fnflow.errors import DefinitionProblem, InvalidDefinition
from fnflow.fdl import Flow, TaskStep, load_document, validate_flow
from fnflow.fdl.checks import step_lists
from fnflow.fdl.location import Location, Positions, problem_at, sorted_by_line
from fnflow.fdl.problems import allowed_fields
from fnflow.flowtest.harness import FlowSource
from fnflow.flowtest.spec import Case, Mock, TestFile


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a test file (or a flow it names), with where it is."""

    file: Path
    problem: DefinitionProblem

    def __str__(self) -> str:
        p = self.problem
        where = f"{self.file}:{p.line}:{p.column}" if p.line else str(self.file)
        path = f"{p.path}: " if p.path else ""
        return f"{where}: {path}{p.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": str(self.file), **self.problem.to_dict()}


class TestFileError(Exception):
    """A test file that cannot be run; ``problems`` says everything wrong with it."""

    __test__ = False

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class LoadedFlow:
    source: FlowSource
    flow: Flow
    positions: Positions


@dataclass
class Loaded:
    """A test file, read and checked, with the flows it runs."""

    path: Path
    spec: TestFile
    flows: dict[str, LoadedFlow]  # by name: the one under test and its children
    main: str  # the name of the flow under test
    case_flows: dict[int, str] = field(default_factory=dict)  # case index -> its own flow's name


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _owner(loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The model that holds the last field of a pydantic error location."""
    owner: type[BaseModel] = TestFile
    annotation: Any = TestFile
    for part in loc[:-1]:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            owner = annotation
            found = annotation.model_fields.get(str(part))
            annotation = found.annotation if found else None
        elif typing.get_origin(annotation) in (list, dict):
            annotation = typing.get_args(annotation)[-1]
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        owner = annotation
    return owner


def _message(error: Any) -> str:
    kind, loc = error["type"], error["loc"]
    last = str(loc[-1]) if loc else ""
    if kind == "missing":
        return f"missing required field {last!r}"
    if kind == "extra_forbidden":
        allowed = allowed_fields(_owner(loc))
        close = difflib.get_close_matches(last, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown field {last!r} ({hint}allowed: {', '.join(allowed)})"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "too_short":
        return f"must have at least {error['ctx']['min_length']} item(s)"
    message: str = error["msg"]
    return message.replace("Input should be", "must be").replace("Value error, ", "")


def _validation_problems(error: ValidationError, positions: Positions) -> list[DefinitionProblem]:
    problems = []
    for details in error.errors(include_url=False):
        loc: Location = tuple(details["loc"])
        problems.append(problem_at(positions, loc, _message(details)))
    return problems


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise TestFileError(
            [Problem(path, DefinitionProblem("", f"cannot read the file: {reason}"))]
        ) from None


def _load_flow(path: Path, name: str, where: DefinitionProblem, test_file: Path) -> LoadedFlow:
    if not path.is_file():
        message = f"{where.message}: no such file {path}"
        raise TestFileError([Problem(test_file, DefinitionProblem(where.path, message, None, where.field,
                                                                  where.line, where.column))])  # fmt: skip
    text = _read(path)
    try:
        data, positions = load_document(text)
        flow = validate_flow(data, positions)
    except InvalidDefinition as e:
        raise TestFileError([Problem(path, p) for p in e.problems]) from None
    return LoadedFlow(FlowSource(name, path, text), flow, positions)


def _task_steps(flow: Flow) -> dict[str, TaskStep]:
    return {p.step.name: p.step for steps in step_lists(flow) for p in steps if isinstance(p.step, TaskStep)}


def _all_steps(flow: Flow) -> set[str]:
    return {p.step.name for steps in step_lists(flow) for p in steps}


def load_test_file(path: Path) -> Loaded:
    """Read and check a test file; raises TestFileError listing every problem, by line."""
    text = _read(path)
    try:
        data, positions = load_document(text)
    except InvalidDefinition as e:
        raise TestFileError([Problem(path, p) for p in e.problems]) from None
    if not isinstance(data, dict):
        message = "a test file is a mapping with flow and cases (see fnflow test --schema)"
        raise TestFileError([Problem(path, problem_at(positions, (), message))])
    try:
        spec = TestFile.model_validate(data)
    except ValidationError as e:
        invalid = sorted_by_line(_validation_problems(e, positions))
        raise TestFileError([Problem(path, p) for p in invalid]) from None
    return build(spec, path, positions, path.parent)


def build(spec: TestFile, path: Path, positions: Positions, base: Path) -> Loaded:
    """Check a test file's content against the flows it names (read relative to ``base``); ``path``
    and ``positions`` say where problems are."""

    def place(loc: Location, message: str) -> DefinitionProblem:
        return problem_at(positions, loc, message)

    main_path = base / spec.flow
    main = spec.flowName or main_path.name.split(".")[0]
    flows = {main: _load_flow(main_path, main, place(("flow",), "flow"), path)}
    for name, file in spec.flows.items():
        if name != main:
            flows[name] = _load_flow(base / file, name, place(("flows", name), f"flow {name!r}"), path)
    loaded = Loaded(path, spec, flows, main)
    problems: list[DefinitionProblem] = []
    for i, case in enumerate(spec.cases):
        if case.flow is not None:
            case_path = base / case.flow
            name = case_path.name.split(".")[0]
            if name not in flows:
                flows[name] = _load_flow(case_path, name, place(("cases", i, "flow"), "flow"), path)
            loaded.case_flows[i] = name
    known_steps = set().union(*(_all_steps(f.flow) for f in flows.values()))
    tasks = {n: s for f in flows.values() for n, s in _task_steps(f.flow).items()}
    arns = {s.resourceArn for s in tasks.values()}
    mock_sets: list[tuple[Location, dict[str, list[Mock]]]] = [(("mocks",), spec.mocks)]
    mock_sets += [(("cases", i, "mocks"), c.mocks) for i, c in enumerate(spec.cases)]
    for loc, mocks in mock_sets:
        for key in mocks:
            if key.startswith("acs:"):
                if key not in arns:
                    close = difflib.get_close_matches(key, sorted(arns), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    message = f"no task step calls {key}{hint}"
                    problems.append(place((*loc, key), message))
            elif key not in tasks:
                close = difflib.get_close_matches(key, sorted(tasks), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                what = "is not a task step" if key in known_steps else "does not exist"
                message = (
                    f"a mock for step {key!r}, which {what} ({hint}task steps: {', '.join(sorted(tasks))})"
                )
                problems.append(place((*loc, key), message))
    for i, case in enumerate(spec.cases):
        for step in case.expect.attempts or {}:
            if step not in tasks:
                problems.append(place(("cases", i, "expect", "attempts", step), f"no task step {step!r}"))
        for k, step in enumerate(case.expect.steps or []):
            if step not in known_steps:
                problems.append(place(("cases", i, "expect", "steps", k), f"no step {step!r} in the flow"))
    names = [c.name for c in spec.cases]
    for i, case in enumerate(spec.cases):
        if names.index(case.name) != i:
            problems.append(place(("cases", i, "name"), f"another case is named {case.name!r}"))
    if problems:
        raise TestFileError([Problem(path, p) for p in sorted_by_line(problems)])
    return loaded


def case_flow(loaded: Loaded, index: int) -> str:
    return loaded.case_flows.get(index, loaded.main)


def find_test_files(paths: list[Path]) -> tuple[list[Path], list[Problem]]:
    """The test files named, or under the folders named, sorted; and paths that do not exist."""
    files: list[Path] = []
    missing: list[Problem] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.test.yaml") if ".venv" not in p.parts)
            files += sorted(p for p in path.rglob("*.test.yml") if ".venv" not in p.parts)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(Problem(path, DefinitionProblem("", "no such file or folder")))
    unique = list(dict.fromkeys(files))
    return unique, missing


__all__ = ["Case", "Loaded", "Problem", "TestFileError", "case_flow", "find_test_files", "load_test_file"]
