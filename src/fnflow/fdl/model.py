"""The typed model of an FDL flow (``version: v1``/``v1beta1``, ``type: flow``).

Field names are FDL's own (camelCase) so that validation errors name the field the user wrote.
Paths, mapping sources and conditions are compiled while the model is built, so a bad one is
reported at its exact location and the engine never parses text at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from fnflow.fdl.expr import (
    Condition,
    ExprError,
    Path,
    Source,
    compile_condition,
    compile_path,
    compile_source,
)
from fnflow.fdl.timestamps import parse_timestamp

MAX_WAIT_SECONDS = 2 * 24 * 3600
MAX_RETRY_INTERVAL = 86_400
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$"

T = TypeVar("T")


def _value_errors(compile_: Callable[[Any], T]) -> Callable[[Any], T]:
    """Report an ExprError as the ValueError pydantic expects, so it lands at the field's location."""

    def convert(value: Any) -> T:
        try:
            return compile_(value)
        except ExprError as e:
            raise ValueError(str(e)) from None

    return convert


_path = _value_errors(compile_path)

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
ErrorName = Annotated[str, Field(min_length=1, max_length=128)]
PathExpr = Annotated[Path, BeforeValidator(_path)]
SourceExpr = Annotated[Any, BeforeValidator(_value_errors(compile_source))]
ConditionExpr = Annotated[Condition, BeforeValidator(_value_errors(compile_condition))]


class FdlModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, strict=False)


class Mapping(FdlModel):
    target: Annotated[str, Field(min_length=1)]
    source: SourceExpr

    @property
    def compiled(self) -> Source:
        return self.source  # type: ignore[no-any-return]


class StepBase(FdlModel):
    name: Name
    inputMappings: list[Mapping] = []
    outputMappings: list[Mapping] = []


class RetryPolicy(FdlModel):
    errors: Annotated[list[ErrorName], Field(min_length=1)]
    intervalSeconds: Annotated[float, Field(ge=0, le=MAX_RETRY_INTERVAL)] = 1
    maxAttempts: Annotated[int, Field(ge=0, le=1000)] = 3
    multiplier: Annotated[float, Field(ge=1, le=1000)] = 2
    maxIntervalSeconds: Annotated[float, Field(gt=0, le=MAX_RETRY_INTERVAL)] = MAX_RETRY_INTERVAL

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before the n-th retry (1-based): interval * multiplier^(n-1), capped.

        Grown step by step and stopped at the cap, because ``multiplier ** n`` overflows a float
        for valid policies (multiplier 1000, maxAttempts 200).
        """
        seconds = float(self.intervalSeconds)
        for _ in range(retry_number - 1):
            if seconds >= self.maxIntervalSeconds:
                break
            seconds *= self.multiplier
        return min(seconds, float(self.maxIntervalSeconds))


class CatchPolicy(FdlModel):
    errors: Annotated[list[ErrorName], Field(min_length=1)]
    goto: Name


def _matches(errors: list[str], error: str) -> bool:
    return "FnF.ALL" in errors or error in errors


class TaskStep(StepBase):
    type: Literal["task"]
    resourceArn: Annotated[str, Field(min_length=1)]
    pattern: Literal["requestResponse", "sync", "waitForCallback"] = "requestResponse"
    timeoutSeconds: Annotated[float, Field(gt=0)] | None = None
    serviceParams: dict[str, SourceExpr] = {}
    retry: list[RetryPolicy] = []
    catch: list[CatchPolicy] = []
    errorMappings: list[Mapping] = []
    end: bool = False

    def retry_policy(self, error: str) -> int | None:
        """Index of the first retry policy that matches ``error``."""
        return next((i for i, p in enumerate(self.retry) if _matches(p.errors, error)), None)

    def catch_policy(self, error: str) -> CatchPolicy | None:
        return next((c for c in self.catch if _matches(c.errors, error)), None)


class PassStep(StepBase):
    type: Literal["pass"]
    end: bool = False


class Branch(FdlModel):
    steps: Annotated[list[Step], Field(min_length=1)]


class ChoiceRule(FdlModel):
    condition: ConditionExpr
    steps: list[Step] = []
    goto: Name | None = None


class ChoiceDefault(FdlModel):
    steps: list[Step] = []
    goto: Name | None = None


class ChoiceStep(StepBase):
    type: Literal["choice"]
    choices: Annotated[list[ChoiceRule], Field(min_length=1)]
    default: ChoiceDefault | None = None
    end: bool = False


def _wait_duration(value: Any) -> float | Path | None:
    """A constant number of seconds (at most two days) or a path such as ``$.seconds``."""
    if value is None or isinstance(value, Path):
        return value
    if isinstance(value, str) and value.strip().startswith("$"):
        return _path(value)
    not_a_number = ValueError(f"must be a number of seconds or a path such as $.seconds (got {value!r})")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise not_a_number
    try:
        seconds = float(value)
    except ValueError:
        raise not_a_number from None
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise ValueError(f"must be between 0 and {MAX_WAIT_SECONDS} seconds, two days (got {value!r})")
    return seconds


def _wait_timestamp(value: Any) -> str | Path | None:
    """An RFC 3339 timestamp (kept as written) or a path such as ``$.when``."""
    if value is None or isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"must be an RFC 3339 timestamp such as 2019-05-02T15:04:05Z or a path (got {value!r})"
        )
    if value.strip().startswith("$"):
        return _path(value)
    parse_timestamp(value)  # raises ValueError with a clear message
    return value


class WaitStep(StepBase):
    type: Literal["wait"]
    duration: Annotated[float | Path | None, BeforeValidator(_wait_duration)] = None
    timestamp: Annotated[Path | str | None, BeforeValidator(_wait_timestamp)] = None
    end: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> WaitStep:
        if (self.duration is None) == (self.timestamp is None):
            raise ValueError("a wait step needs exactly one of duration or timestamp")
        return self


class ParallelStep(StepBase):
    type: Literal["parallel"]
    branches: Annotated[list[Branch], Field(min_length=1, max_length=100)]
    end: bool = False


class IterationMapping(FdlModel):
    collection: PathExpr
    item: Annotated[str, Field(min_length=1)]
    index: Annotated[str, Field(min_length=1)] | None = None


class ForeachStep(StepBase):
    type: Literal["foreach"]
    iterationMapping: IterationMapping
    steps: Annotated[list[Step], Field(min_length=1)]
    maxConcurrency: Annotated[int, Field(ge=1, le=100)] = 100
    end: bool = False


class SucceedStep(StepBase):
    type: Literal["succeed"]


class FailStep(StepBase):
    type: Literal["fail"]
    error: Annotated[str, Field(max_length=128)] | None = None
    cause: Annotated[str, Field(max_length=4096)] | None = None


Step = Annotated[
    TaskStep | PassStep | ChoiceStep | WaitStep | ParallelStep | ForeachStep | SucceedStep | FailStep,
    Field(discriminator="type"),
]


class Flow(FdlModel):
    version: Literal["v1", "v1beta1"]
    type: Literal["flow"]
    name: Name | None = None
    description: str | None = None
    timeoutSeconds: Annotated[float, Field(gt=0)] | None = None
    inputMappings: list[Mapping] = []
    outputMappings: list[Mapping] = []
    steps: Annotated[list[Step], Field(min_length=1)]


for _model in (Branch, ChoiceRule, ChoiceDefault, ForeachStep, Flow):
    _model.model_rebuild()

StepModel = TaskStep | PassStep | ChoiceStep | WaitStep | ParallelStep | ForeachStep | SucceedStep | FailStep
