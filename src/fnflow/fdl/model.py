"""The typed model of an FDL flow (``version: v1``/``v1beta1``, ``type: flow``).

Field names are FDL's own (camelCase) so that validation errors name the field the user wrote.
Paths, mapping sources and conditions are compiled while the model is built, so a bad one is
reported at its exact location and the engine never parses text at run time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from fnflow.fdl.expr import Condition, ExprError, Path, Source, compile_condition, compile_path, compile_source

MAX_WAIT_SECONDS = 2 * 24 * 3600
MAX_RETRY_INTERVAL = 86_400
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$"


def _expr(compile_: Any) -> Any:
    def convert(value: Any) -> Any:
        try:
            return compile_(value)
        except ExprError as e:
            raise ValueError(str(e)) from None

    return BeforeValidator(convert)


Name = Annotated[str, Field(pattern=NAME_PATTERN)]
PathExpr = Annotated[Path, _expr(compile_path)]
SourceExpr = Annotated[Any, _expr(compile_source)]
ConditionExpr = Annotated[Condition, _expr(compile_condition)]


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
    errors: Annotated[list[str], Field(min_length=1)]
    intervalSeconds: Annotated[float, Field(ge=0, le=MAX_RETRY_INTERVAL)] = 1
    maxAttempts: Annotated[int, Field(ge=0, le=1000)] = 3
    multiplier: Annotated[float, Field(ge=1, le=1000)] = 2
    maxIntervalSeconds: Annotated[float, Field(gt=0, le=MAX_RETRY_INTERVAL)] = MAX_RETRY_INTERVAL

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before the n-th retry (1-based)."""
        return float(min(self.intervalSeconds * self.multiplier ** (retry_number - 1), self.maxIntervalSeconds))


class CatchPolicy(FdlModel):
    errors: Annotated[list[str], Field(min_length=1)]
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


class WaitStep(StepBase):
    type: Literal["wait"]
    duration: Annotated[float, Field(ge=0, le=MAX_WAIT_SECONDS)] | PathExpr | None = None
    timestamp: PathExpr | str | None = None
    end: bool = False

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip().startswith("$"):
            try:
                return float(v)
            except ValueError:
                raise ValueError("duration must be a number of seconds or a path such as $.seconds") from None
        return v

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip().startswith("$"):
            from fnflow.fdl.timestamps import parse_timestamp  # pure helper, no I/O

            parse_timestamp(v)  # raises ValueError with a clear message
        return v

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
